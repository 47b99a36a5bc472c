package swe

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		EnvJudgeURL: "http://judge:8000/v1", EnvJudgeModel: "m", EnvJudgeAPIKeyEnv: "MY_KEY", EnvJudgePrompt: "p.txt",
		EnvJudgeTimeout: "5s", EnvJudgeRetries: "-1", EnvJudgeConcurrency: "2", EnvAllowUntagged: "1",
	}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.JudgeURL != "http://judge:8000/v1" || cfg.JudgeModel != "m" || cfg.JudgeAPIKeyEnv != "MY_KEY" ||
		cfg.JudgePrompt != "p.txt" || cfg.JudgeTimeout != 5*time.Second || cfg.JudgeRetries != -1 || cfg.JudgeConcurrency != 2 ||
		!cfg.AllowUntagged || cfg.Getenv == nil {
		t.Errorf("config %+v, err %v", cfg, err)
	}
	if cfg, err := ConfigFromEnv(func(string) string { return "" }); err != nil || cfg.JudgeURL != "" || cfg.AllowUntagged {
		t.Errorf("nothing set: %+v, %v", cfg, err)
	}
}

func endpoint(t *testing.T, s *Service, op string) mesh.Handler {
	t.Helper()
	for _, ep := range s.Endpoints() {
		if ep.Name == op {
			return ep.Handler
		}
	}
	t.Fatalf("no endpoint %q", op)
	return nil
}

type ratioPair struct {
	ID            string  `json:"id"`
	A             string  `json:"a"`
	B             string  `json:"b"`
	RatioNoJunk   float64 `json:"ratio_autojunk_false"`
	RatioAutojunk float64 `json:"ratio_autojunk_true"`
}

func loadPairs(t testing.TB) []ratioPair {
	t.Helper()
	f, err := os.Open(conformance.Path(t, "swe", "difflib_ratio.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pairs []ratioPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var p ratioPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// similarityBatch is every pair in both autojunk modes (autojunk left out, so
// Python's default true, for the second), and the ratios Python gave.
func similarityBatch(t *testing.T) ([]byte, []float64, []string) {
	pairs := loadPairs(t)
	var items []map[string]any
	var want []float64
	var ids []string
	for _, p := range pairs {
		items = append(items, map[string]any{"id": p.ID + "/false", "a": p.A, "b": p.B, "autojunk": false})
		items = append(items, map[string]any{"id": p.ID + "/default", "a": p.A, "b": p.B})
		want = append(want, p.RatioNoJunk, p.RatioAutojunk)
		ids = append(ids, p.ID+"/false", p.ID+"/default")
	}
	body, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		t.Fatal(err)
	}
	return body, want, ids
}

func checkSimilarity(t *testing.T, out []byte, want []float64, ids []string) {
	t.Helper()
	var resp struct {
		Results []struct {
			ID    string        `json:"id"`
			Ratio *float64      `json:"ratio"`
			Error *reward.Error `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results for %d items", len(resp.Results), len(want))
	}
	bad := 0
	for i, r := range resp.Results {
		if r.ID != ids[i] || r.Error != nil || r.Ratio == nil || math.Float64bits(*r.Ratio) != math.Float64bits(want[i]) {
			bad++
			t.Errorf("item %d (%s): %+v, want ratio %v", i, ids[i], r, want[i])
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d ratios differ from Python", bad, len(want))
	}
}

func TestSimilarityEndpointConformance(t *testing.T) {
	body, want, ids := similarityBatch(t)
	h := endpoint(t, newService(t, Config{}), "similarity")
	out, err := h(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	checkSimilarity(t, out, want, ids)
}

// TestOverNATS runs the service on an embedded NATS server and calls it as the
// gateway does.
func TestOverNATS(t *testing.T) {
	ns, err := mesh.StartServer(mesh.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := mesh.Serve(nc, newService(t, Config{}).MeshConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(5 * time.Second) })
	client := mesh.NewClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	body, want, ids := similarityBatch(t)
	out, err := client.Call(ctx, Name, "similarity", body)
	if err != nil {
		t.Fatal(err)
	}
	checkSimilarity(t, out, want, ids)

	item := map[string]any{"id": 7, "domain": "swe", "response": tagged(block("b.py", "Y = 2", "Y = 3")),
		"reference": map[string]any{"original_files": map[string]string{"b.py": origB}, "oracle_files": map[string]string{"b.py": "X = 1\nY = 3\n"}}}
	body, _ = json.Marshal(map[string]any{"items": []any{item}})
	out, err = client.Call(ctx, Name, "rewards", body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Results []reward.Result }
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Results[0].Reward != 1 || string(resp.Results[0].ID) != "7" || resp.Results[0].Domain != reward.SWE {
		t.Fatalf("rewards over NATS: %s", out)
	}
}

func TestRewardEndpoint(t *testing.T) {
	h := endpoint(t, newService(t, Config{MaxItemBytes: 4096}), "reward")
	orig := map[string]string{"b.py": origB}
	items := []any{
		map[string]any{"id": "ok", "response": tagged(block("b.py", "Y = 2", "Y = 3")), "original_files": orig, "oracle_patch": "--- a/b.py\n+++ b/b.py\n@@ -2 +2 @@\n-Y = 2\n+Y = 3\n"},
		map[string]any{"id": "swerl-noop", "rule": "swerl", "response": tagged(block("b.py", "Y = 2", "Y = 2")), "original_files": orig, "oracle_files": map[string]string{"b.py": "X = 1\nY = 3\n"}},
		map[string]any{"id": "cascade-noop", "response": tagged(block("b.py", "Y = 2", "Y = 2")), "original_files": orig, "oracle_files": map[string]string{"b.py": "X = 1\nY = 3\n"}},
		map[string]any{"id": "no-oracle", "response": "x", "original_files": orig},
		map[string]any{"id": "both-oracles", "response": "x", "original_files": orig, "oracle_patch": "", "oracle_files": map[string]string{}},
		map[string]any{"id": "no-original", "response": "x", "oracle_patch": ""},
		map[string]any{"id": "bad-rule", "response": "x", "original_files": orig, "oracle_patch": "", "rule": "other"},
		map[string]any{"id": "too-large", "response": strings.Repeat("x", 5000), "original_files": orig, "oracle_patch": ""},
		map[string]any{"id": "semantic-without-judge", "semantic": true, "response": tagged(block("b.py", "Y = 2", "Y = 4")), "original_files": orig, "oracle_files": map[string]string{"b.py": "X = 1\nY = 3\n"}},
		"not an object",
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	out, err := h(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		reward float64
		reason string
		code   string
	}{
		{1, ReasonIdentical, ""},
		{-1, "Search and replace blocks are identical", ""},
		{0, ReasonNoChange, ""},
		{0, "", "invalid"},
		{0, "", "invalid"},
		{0, "", "invalid"},
		{0, "", "invalid"},
		{0, "", "too_large"},
		{0, "", "unavailable"},
		{0, "", "invalid"},
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results: %s", len(resp.Results), out)
	}
	for i, w := range want {
		r := resp.Results[i]
		if w.code != "" {
			e, _ := r["error"].(map[string]any)
			if e == nil || e["code"] != w.code {
				t.Errorf("item %d: %v, want error %s", i, r, w.code)
			}
			continue
		}
		if r["reward"] != w.reward || r["reason"] != w.reason || r["id"] != items[i].(map[string]any)["id"] {
			t.Errorf("item %d: %v, want reward %v reason %q", i, r, w.reward, w.reason)
		}
		if _, ok := r["lexical"]; !ok {
			t.Errorf("item %d has no lexical: %v", i, r)
		}
		if _, ok := r["semantic"]; ok {
			t.Errorf("item %d has semantic without a judge: %v", i, r)
		}
	}
}

// TestRewardsWithJudge wires a fake OpenAI server as the judge through Config.
func TestRewardsWithJudge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","model":"j","choices":[{"index":0,
			"message":{"role":"assistant","content":"Yes"},"finish_reason":"length",
			"logprobs":{"content":[{"token":"Yes","logprob":-0.2231435513142097,"bytes":[89,101,115],
			"top_logprobs":[{"token":"Yes","logprob":-0.2231435513142097,"bytes":[89,101,115]},
			{"token":"No","logprob":-1.6094379124341003,"bytes":[78,111]}]}]}}]}`))
	}))
	t.Cleanup(srv.Close)
	s := newService(t, Config{JudgeURL: srv.URL + "/v1", JudgeModel: "j", JudgeAPIKeyEnv: "K",
		Getenv: func(k string) string {
			if k == "K" {
				return "secret"
			}
			return ""
		}})
	ref := map[string]any{"original_files": map[string]string{"b.py": origB}, "oracle_files": map[string]string{"b.py": "X = 1\nY = 3\n"}}
	items := []any{
		map[string]any{"id": "a", "domain": "swe", "response": tagged(block("b.py", "Y = 2", "Y = 4")), "reference": ref},
		map[string]any{"id": "b", "domain": "math", "response": "x", "reference": ref},
		map[string]any{"id": "c", "domain": "swe", "response": "x"},
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	out, err := endpoint(t, s, "rewards")(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Results []reward.Result }
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 3 {
		t.Fatalf("results: %s", out)
	}
	r := resp.Results[0]
	var d Details
	if err := json.Unmarshal(r.Details, &d); err != nil || r.Error != nil {
		t.Fatalf("result %+v: %v", r, err)
	}
	// P(yes)=0.8, P(no)=0.2.
	if math.Abs(r.Reward-0.8) > 1e-9 || d.Semantic == nil || d.Reason != ReasonSemantic || d.Rule != RuleCascade || len(d.Similarities) != 1 {
		t.Errorf("judged result %+v details %+v", r, d)
	}
	for _, r := range resp.Results[1:] {
		if r.Error == nil || r.Error.Code != reward.Invalid {
			t.Errorf("result %+v, want invalid", r)
		}
	}
}

// TestRewardsSWERLConformance sends every conformance case through the rewards
// op with the oracle as a patch, as a trainer would.
func TestRewardsSWERLConformance(t *testing.T) {
	cases := loadCases(t)
	var items []any
	for _, c := range cases {
		items = append(items, reward.Item{ID: json.RawMessage(`"` + c.ID + `"`), Domain: reward.SWE, Response: c.Output,
			Reference: mustJSON(t, map[string]any{"original_files": c.OriginalFiles, "oracle_patch": c.OraclePatch, "rule": "swerl"})})
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	out, err := endpoint(t, newService(t, Config{}), "rewards")(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Results []reward.Result }
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := resp.Results[i]
		ok := false
		for _, v := range c.AnyOrder {
			ok = ok || math.Float64bits(v) == math.Float64bits(r.Reward)
		}
		if !ok || r.Error != nil {
			t.Errorf("%s: %+v, want %v", c.ID, r, c.AnyOrder)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWorkBudget(t *testing.T) {
	s := newService(t, Config{WorkBudget: 1000})
	long := strings.Repeat("a", 3000)
	body, _ := json.Marshal(map[string]any{"items": []any{
		map[string]any{"id": 1, "a": long, "b": long, "autojunk": false},
		map[string]any{"id": 2, "a": "abc", "b": "abd"},
		map[string]any{"id": 3, "a": "abc"},
	}})
	out, err := endpoint(t, s, "similarity")(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			Ratio *float64      `json:"ratio"`
			Error *reward.Error `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if e := resp.Results[0].Error; e == nil || e.Code != reward.TooLarge {
		t.Errorf("over budget: %s", out)
	}
	if r := resp.Results[1].Ratio; r == nil || *r != 2.0*2/6 {
		t.Errorf("small pair beside it: %s", out)
	}
	if e := resp.Results[2].Error; e == nil || e.Code != reward.Invalid {
		t.Errorf("missing b: %s", out)
	}

	big := strings.Repeat("x = 1\n", 2000)
	_, err = s.Scorer().Score(context.Background(), Task{
		Response:      tagged(block("f.py", "x = 1", "x = 2")),
		OriginalFiles: map[string]string{"f.py": big},
		OracleFiles:   map[string]string{"f.py": "y\n" + big},
	})
	if e := reward.AsError(err); e == nil || e.Code != reward.TooLarge {
		t.Errorf("reward over budget: %v", err)
	}
}
