package mesh_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
)

// trainerOutageWait is how long the trainer protocols wait out a missing
// service in TestTrainerProtocols (REWARDMESH_GATEWAY_OUTAGE_WAIT): the gateway
// tries at 0, 0.25, 0.75, 1.75 and 3.75 s, then answers.
const trainerOutageWait = 4 * time.Second

// startTrainerMesh runs `up` with math, and the sandbox where Docker and its
// Python image are present, but never swe: an swe item is a failure of the mesh,
// which the gateway waits out for outageWait.
func startTrainerMesh(t *testing.T, outageWait time.Duration) (base string, up *proc, sandbox bool) {
	t.Helper()
	t.Run("sandbox images", func(t *testing.T) {
		sandboxtest.RequireDocker(t, images.Python)
		sandbox = true
	})
	services := "gateway,math"
	if sandbox {
		services += ",sandbox"
	}
	base, up = startUpEnv(t, []string{"REWARDMESH_GATEWAY_OUTAGE_WAIT=" + outageWait.String()}, "--services", services)
	return base, up, sandbox
}

const (
	doubleProgram = "```python\\nprint(int(input()) * 2)\\n```"
	plusTwo       = "```python\\nprint(int(input()) + 2)\\n```" // right for 2, wrong for 5
	doubleTests   = `{"inputs":["2\n","5\n"],"outputs":["4\n","10\n"],"fn_name":null}`
	sweReference  = `{"original_files":{"a.py":"x = 1\n"},"oracle_files":{"a.py":"x = 2\n"}}`
)

// verifyRow is what NeMo-Gym's agent posts to /verify: the dataset row (its
// responses_create_params, the task's fields) and the policy's Responses object.
func verifyRow(task, answer string) string {
	return `{"responses_create_params":{"input":[{"role":"user","content":"Solve it."}],"max_output_tokens":1024,"temperature":1.0},
		` + task + `,
		"response":{"id":"resp_9","created_at":1718.5,"model":"policy","object":"response","status":"completed",
			"output":[{"id":"rs","type":"reasoning","summary":[{"type":"summary_text","text":"\\boxed{0}"}]},
				{"id":"msg","type":"message","role":"assistant","status":"completed",
				 "content":[{"type":"output_text","text":"` + answer + `","annotations":[]}]}],
			"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":{"input_tokens":12,"output_tokens":40,"total_tokens":52}}}`
}

// TestTrainerProtocols plays each trainer's client against `up`, with request
// bodies shaped as the client sends them: OpenRLHF's /get_reward (one sample per
// request from its current executor, and empty lists to the servers past the end
// of a batch), slime's /reward, NeMo-Gym's /seed_session and /verify. Right
// answers score 1, wrong ones 0; a bad row is a 4xx (or OpenRLHF's flagged 0); a
// failure of the mesh is a retryable 5xx after a short outage is waited out, and
// a service that comes back within that wait is answered normally.
func TestTrainerProtocols(t *testing.T) {
	base, up, sandbox := startTrainerMesh(t, trainerOutageWait)

	t.Run("openrlhf", func(t *testing.T) {
		prompt := `<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n`
		for _, c := range []struct{ body, want string }{
			{`{"query":["` + prompt + `So it is \\boxed{4}.<|im_end|>"],"prompts":["` + prompt + `"],"labels":["4"]}`, "[1] [1] [0]"},
			{`{"query":["` + prompt + `\\boxed{5}<|im_end|>"],"prompts":["` + prompt + `"],"labels":["4"]}`, "[0] [0] [0]"},
			{`{"query":[],"prompts":[],"labels":[]}`, "[] [] []"},
			{`{"query":["a \\boxed{9}","b \\boxed{3}"],"prompts":["a ","b "],"labels":["{\"domain\":\"math\",\"reference\":{\"gold\":\"9\"}}","3"]}`, "[1 1] [1 1] [0 0]"},
			// Bad labels score 0, flagged per sample, and the others still count.
			{`{"query":["x 4","y 4","z 4"],"prompts":["x ","y ","z "],"labels":["{\"domain\":\"chess\"}","","4"]}`, "[0 0 1] [0 0 1] [1 1 0]"},
		} {
			status, out := postJSON(t, base+"/get_reward", c.body)
			logs, _ := out["extra_logs"].(map[string]any)
			if got := fmt.Sprint(out["rewards"], " ", out["scores"], " ", logs["reward_error"]); status != 200 || got != c.want {
				t.Errorf("%s\n→ %d %s, want %s", c.body, status, got, c.want)
			}
		}
		if sandbox {
			label := jsonText(`{"domain":"code","reference":{"tests":[{"input":"2\n","output":"4\n"},{"input":"5\n","output":"10\n"}]}}`)
			status, out := postJSON(t, base+"/get_reward", `{"query":["p `+doubleProgram+`","p `+plusTwo+`"],"prompts":["p ","p "],"labels":[`+label+`,`+label+`]}`)
			if got := fmt.Sprint(out["rewards"]); status != 200 || got != "[1 0]" {
				t.Errorf("code labels: %d %v, want rewards [1 0]", status, out)
			}
		}
	})

	t.Run("slime", func(t *testing.T) {
		for _, c := range []struct {
			body   string
			reward float64
		}{
			{`{"prompt":"What is 2+2?","response":"It is \\boxed{4}.","label":"4"}`, 1},
			{`{"prompt":[{"role":"user","content":"What is 2+2?"}],"response":"\\boxed{5}","label":"4"}`, 0},
			{`{"prompt":"x","response":"\\boxed{9}","label":{"domain":"math","reference":{"gold":"9"}}}`, 1},
		} {
			status, out := postJSON(t, base+"/reward", c.body)
			if status != 200 || out["reward"] != c.reward || out["domain"] != "math" {
				t.Errorf("%s\n→ %d %v, want reward %v", c.body, status, out, c.reward)
			}
		}
		if sandbox {
			for program, want := range map[string]float64{doubleProgram: 1, plusTwo: 0} {
				status, out := postJSON(t, base+"/reward", `{"prompt":"p","response":"`+program+`",
					"label":{"domain":"code","reference":{"tests":[{"input":"2\n","output":"4\n"},{"input":"5\n","output":"10\n"}]}}}`)
				if status != 200 || out["reward"] != want {
					t.Errorf("code label: %d %v, want reward %v", status, out, want)
				}
			}
		}
		for _, body := range []string{`{"prompt":"x","response":"4"}`, `{"prompt":"x","response":"4","label":""}`,
			`{"prompt":"x","response":"4","label":{"domain":"chess"}}`, `{"prompt":"x","label":"4"}`} {
			status, out := postJSON(t, base+"/reward", body)
			if e, _ := out["error"].(map[string]any); status != 400 || e["code"] != "invalid" || e["retryable"] == true {
				t.Errorf("%s\n→ %d %v, want 400 invalid", body, status, out)
			}
		}
	})

	t.Run("nemo-gym", func(t *testing.T) {
		row := `{"responses_create_params":{"input":[{"role":"user","content":"Solve it."}]},"question":"2+2?","expected_answer":"4"}`
		if status, out := postJSON(t, base+"/seed_session", row); status != 200 || len(out) != 0 {
			t.Errorf("seed_session: %d %v, want {}", status, out)
		}
		status, out := postJSON(t, base+"/verify", verifyRow(`"question":"2+2?","expected_answer":"4"`, `It is \\boxed{4}.`))
		if status != 200 || out["reward"] != 1.0 || out["expected_answer"] != "4" || out["question"] != "2+2?" {
			t.Errorf("math row: %d %v", status, out)
		}
		if resp, _ := out["response"].(map[string]any); resp["id"] != "resp_9" || resp["usage"] == nil {
			t.Errorf("response not echoed: %v", out["response"])
		}
		if params, _ := out["responses_create_params"].(map[string]any); params["max_output_tokens"] != 1024.0 {
			t.Errorf("responses_create_params not echoed: %v", out["responses_create_params"])
		}
		// The reasoning's \boxed{0} is not the answer.
		if status, out := postJSON(t, base+"/verify", verifyRow(`"expected_answer":"0"`, `\\boxed{4}`)); status != 200 || out["reward"] != 0.0 {
			t.Errorf("wrong math answer: %d %v", status, out)
		}
		if sandbox {
			var packed bytes.Buffer
			zw := zlib.NewWriter(&packed)
			_, _ = zw.Write([]byte(`{"inputs":["2\n","5\n"],"outputs":["4\n","10\n"]}`))
			_ = zw.Close()
			for _, c := range []struct {
				tests, program string
				want           float64
			}{
				{doubleTests, doubleProgram, 1},
				{doubleTests, plusTwo, 0},
				{`{"packed":"` + base64.StdEncoding.EncodeToString(packed.Bytes()) + `","fn_name":null}`, doubleProgram, 1},
			} {
				status, out := postJSON(t, base+"/verify", verifyRow(`"verifier_metadata":{"unit_tests":`+c.tests+`,"difficulty":"easy"}`, c.program))
				if status != 200 || out["reward"] != c.want {
					t.Errorf("code row %s: %d %v, want reward %v", c.tests, status, out, c.want)
				}
			}
		}
		for _, task := range []string{`"question":"2+2?"`, `"expected_answer":""`, `"domain":"chess","reference":{}`,
			`"verifier_metadata":{"unit_tests":{"inputs":["1"],"outputs":[]}}`} {
			status, out := postJSON(t, base+"/verify", verifyRow(task, "4"))
			if e, _ := out["error"].(map[string]any); status != 400 || e["code"] != "invalid" || e["retryable"] == true {
				t.Errorf("bad row %s: %d %v, want 400 invalid", task, status, out)
			}
		}
	})

	t.Run("a mesh failure is retryable, never a 0", func(t *testing.T) {
		for name, c := range map[string]struct{ path, body string }{
			"openrlhf": {"/get_reward", `{"query":["p x"],"prompts":["p "],"labels":[` + jsonText(`{"domain":"swe","reference":`+sweReference+`}`) + `]}`},
			"slime":    {"/reward", `{"prompt":"p","response":"x","label":{"domain":"swe","reference":` + sweReference + `}}`},
			"nemo-gym": {"/verify", verifyRow(`"domain":"swe","reference":`+sweReference, "x")},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				began := time.Now()
				status, out := postJSON(t, base+c.path, c.body)
				e, _ := out["error"].(map[string]any)
				if status != 503 || e["retryable"] != true || out["reward"] != nil || out["rewards"] != nil {
					t.Errorf("%d %v, want a retryable 503 and no reward", status, out)
				}
				if waited := time.Since(began); waited < trainerOutageWait/2 {
					t.Errorf("answered after %s: a short outage is waited out first", waited)
				}
			})
		}
	})

	t.Run("a restarting service is waited out", func(t *testing.T) {
		type answer struct {
			status int
			body   string
			err    error
		}
		answered := make(chan answer, 1)
		go func() {
			resp, err := http.Post(base+"/get_reward", "application/json",
				strings.NewReader(`{"query":["p x"],"prompts":["p "],"labels":[`+jsonText(`{"domain":"swe","reference":`+sweReference+`}`)+`]}`))
			if err != nil {
				answered <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			answered <- answer{resp.StatusCode, string(body), err}
		}()
		time.Sleep(300 * time.Millisecond) // the gateway has found no swe service
		start(t, "serve swe", binary, "serve", "swe", "--nats", natsURLFrom(t, up))
		a := <-answered
		var out struct{ Rewards []float64 }
		if a.err != nil || a.status != 200 || json.Unmarshal([]byte(a.body), &out) != nil || len(out.Rewards) != 1 {
			t.Errorf("swe came back within the wait: %d %s %v, want one reward", a.status, a.body, a.err)
		}
	})
}

// jsonText is s as a JSON string: a label OpenRLHF carries as text.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
