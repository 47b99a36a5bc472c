package gateway_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// nemoGymResponse is an OpenAI Responses object as NeMo-Gym's agent dumps it:
// a reasoning item, the answer split over two messages, and a refusal part, only
// the output_text parts being the answer.
func nemoGymResponse(first, second string) string {
	return fmt.Sprintf(`{"id":"resp_1","created_at":1234.5,"model":"policy","object":"response",
		"output":[
			{"id":"r","type":"reasoning","summary":[{"type":"summary_text","text":"maybe 5"}]},
			{"id":"m1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":%q,"annotations":[]}]},
			{"id":"m2","type":"message","role":"assistant","status":"completed","content":[
				{"type":"output_text","text":%q,"annotations":[]},{"type":"refusal","refusal":"no"}]}],
		"parallel_tool_calls":false,"tool_choice":"none","tools":[],"incomplete_details":null}`, first, second)
}

func TestNeMoGymVerifyMath(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	row := func(first, second string) string {
		return `{"responses_create_params":{"input":[{"role":"user","content":"2+2?"}],"temperature":1.0},
			"question":"2+2?","expected_answer":"4","seed":12345678901234567890,
			"response":` + nemoGymResponse(first, second) + `}`
	}
	// The counting math service scores the trimmed response against the gold.
	status, out := f.post(t, "/verify", row(" ", "4"))
	if status != 200 || out["reward"] != 1.0 {
		t.Fatalf("right answer: %d %v", status, out)
	}
	if out["expected_answer"] != "4" || out["question"] != "2+2?" {
		t.Errorf("row not echoed: %v", out)
	}
	params, _ := out["responses_create_params"].(map[string]any)
	if params["temperature"] != 1.0 || len(params["input"].([]any)) != 1 {
		t.Errorf("responses_create_params not echoed: %v", params)
	}
	resp, _ := out["response"].(map[string]any)
	if resp["id"] != "resp_1" || resp["created_at"] != 1234.5 || len(resp["output"].([]any)) != 3 {
		t.Errorf("response not echoed: %v", resp)
	}
	if mesh, _ := out["rewardmesh"].(map[string]any); mesh["domain"] != "math" {
		t.Errorf("rewardmesh details: %v", out["rewardmesh"])
	}

	// Numbers are echoed as written, not through a float.
	raw := postRaw(t, f.srv.URL+"/verify", row("", "4"))
	if !strings.Contains(raw, "12345678901234567890") {
		t.Errorf("a large integer was not echoed as written: %s", raw)
	}

	status, out = f.post(t, "/verify", row("4", "5")) // "45"
	if status != 200 || out["reward"] != 0.0 {
		t.Errorf("wrong answer: %d %v", status, out)
	}
}

// A code generation row (LiveCodeBench tests, plain or packed) reaches the sandbox
// as a code reference, functional when fn_name is given.
func TestNeMoGymVerifyCodeRows(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	f.serveRewards(t, "sandbox", func(in reward.Item) reward.Result {
		return reward.Result{ID: in.ID, Domain: in.Domain, Reward: 1, Details: in.Reference}
	})

	var packed bytes.Buffer
	zw := zlib.NewWriter(&packed)
	_, _ = zw.Write([]byte(`{"inputs":["[1, 2]"],"outputs":["3"]}`))
	_ = zw.Close()
	for name, c := range map[string]struct{ tests, want string }{
		"stdin": {`{"inputs":["1\n"],"outputs":["2\n"],"fn_name":null}`,
			`{"tests":[{"input":"1\n","output":"2\n"}]}`},
		"packed functional": {`{"packed":"` + base64.StdEncoding.EncodeToString(packed.Bytes()) + `","fn_name":"add"}`,
			`{"fn_name":"add","mode":"functional","tests":[{"input":"[1, 2]","output":"3"}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			status, out := f.post(t, "/verify", `{"responses_create_params":{"input":"x"},
				"verifier_metadata":{"unit_tests":`+c.tests+`,"difficulty":"easy"},
				"response":`+nemoGymResponse("```python\nprint(2)\n```", "")+`}`)
			if status != 200 || out["reward"] != 1.0 {
				t.Fatalf("%d %v", status, out)
			}
			details, _ := json.Marshal(out["rewardmesh"].(map[string]any)["details"])
			if string(details) != c.want {
				t.Errorf("reference sent = %s, want %s", details, c.want)
			}
		})
	}
}

// A bad row is a 400 (NeMo-RL does not retry it); a mesh that cannot score is a
// retryable 5xx (NeMo-RL retries it as an infrastructure failure); never a 0.
func TestNeMoGymVerifyFailures(t *testing.T) {
	f := newFixture(t, gateway.Config{OutageWaitFor: 100 * time.Millisecond}, nil)
	response := nemoGymResponse("4", "")
	for name, body := range map[string]string{
		"no response":       `{"responses_create_params":{"input":"x"},"expected_answer":"4"}`,
		"no task":           `{"responses_create_params":{"input":"x"},"response":` + response + `}`,
		"tests mismatch":    `{"verifier_metadata":{"unit_tests":{"inputs":["1"],"outputs":[]}},"response":` + response + `}`,
		"packed not zlib":   `{"verifier_metadata":{"unit_tests":{"packed":"bm90IHpsaWI="}},"response":` + response + `}`,
		"content not list":  `{"expected_answer":"4","response":{"output":[{"type":"message","content":7}]}}`,
		"unknown domain":    `{"domain":"chess","reference":{},"response":` + response + `}`,
		"not an object":     `[1]`,
		"response a string": `{"expected_answer":"4","response":"4"}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, out := f.post(t, "/verify", body)
			e, _ := out["error"].(map[string]any)
			if status != 400 || e["code"] != "invalid" || e["retryable"] == true {
				t.Errorf("%d %v, want 400 invalid", status, out)
			}
		})
	}
	// No sandbox runs here: the code row cannot be scored now.
	status, out := f.post(t, "/verify", `{"verifier_metadata":{"unit_tests":{"inputs":["1"],"outputs":["1"]}},"response":`+response+`}`)
	e, _ := out["error"].(map[string]any)
	if status != 503 || e["retryable"] != true {
		t.Errorf("unscorable row: %d %v, want a retryable 503", status, out)
	}
}

func TestNeMoGymSeedSession(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	for body, want := range map[string]string{
		`{"responses_create_params":{"input":"x"},"expected_answer":"4"}`:             `{}`,
		`{"resources_session_id":"s1","episode_id":"e","task_id":"t","task_data":{}}`: `{"resources_session_id":"s1"}`,
		``: `{}`,
	} {
		if got := strings.TrimSpace(postRaw(t, f.srv.URL+"/seed_session", body)); got != want {
			t.Errorf("seed_session %s = %s, want %s", body, got, want)
		}
	}
}

// An Environment Server closes each session it seeded; rewardmesh keeps none,
// so any id closes, twice too, and a body without one is the client's error.
func TestNeMoGymCloseSessionAndReverifyMode(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	for range 2 {
		status, out := f.post(t, "/close_session", `{"resources_session_id":"s1","episode_id":"e1"}`)
		if status != 200 || out["resources_session_id"] != "s1" || len(out) != 1 {
			t.Errorf("close_session: %d %v", status, out)
		}
	}
	for _, body := range []string{`{"episode_id":"e1"}`, `{"resources_session_id":""}`, `[1]`, ``} {
		if status, out := f.post(t, "/close_session", body); status != 400 {
			t.Errorf("close_session %q: %d %v, want 400", body, status, out)
		}
	}
	resp, err := http.Get(f.srv.URL + "/reverify_mode")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var mode string
	if err := json.NewDecoder(resp.Body).Decode(&mode); err != nil || resp.StatusCode != 200 || mode != "stateless" {
		t.Errorf("reverify_mode: %d %q %v", resp.StatusCode, mode, err)
	}
}
