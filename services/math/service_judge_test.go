package mathsvc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/math/judge"
)

// tinyJudge is an OpenAI-compatible chat completions server standing in for a
// TinyV-style judge: its "model" says True (P = 0.95, in the first token's
// logprobs) when the answer it is shown mentions "quarters", False otherwise.
type tinyJudge struct {
	srv     *httptest.Server
	status  int // answer this instead of a completion when set
	mu      sync.Mutex
	prompts []string
}

func newTinyJudge(t *testing.T, status int) *tinyJudge {
	j := &tinyJudge{status: status}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) == 0 {
			http.Error(w, `{"object":"error","message":"bad request"}`, http.StatusBadRequest)
			return
		}
		prompt := req.Messages[0].Content
		j.mu.Lock()
		j.prompts = append(j.prompts, prompt)
		j.mu.Unlock()
		if j.status != 0 {
			http.Error(w, `{"object":"error","message":"model is loading"}`, j.status)
			return
		}
		_, answer, _ := strings.Cut(prompt, "<model_answer>")
		first, second := `{"token":"False","logprob":-0.05}`, `{"token":"True","logprob":-3.0}`
		if strings.Contains(answer, "quarters") {
			first, second = `{"token":"True","logprob":-0.0513}`, `{"token":"False","logprob":-2.9957}`
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"tinyv","choices":[{"index":0,` +
			`"message":{"role":"assistant","content":"x"},"finish_reason":"length",` +
			`"logprobs":{"content":[` + strings.Replace(first, "}", `,"top_logprobs":[`+first+`,`+second+`]}`, 1) + `]}}]}`))
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *tinyJudge) asked() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.prompts...)
}

func judgedService(t *testing.T, j *tinyJudge, budget int) *Service {
	t.Helper()
	s, err := New(context.Background(), Config{Judge: judge.Config{URL: j.srv.URL + "/v1", Model: "tinyv", Timeout: time.Second}, JudgeBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run sends one batch to the service's op and returns its results.
func run(t *testing.T, s *Service, op string, items ...string) []map[string]any {
	t.Helper()
	for _, ep := range s.Endpoints() {
		if ep.Name != op {
			continue
		}
		out, err := ep.Handler(context.Background(), []byte(`{"items":[`+strings.Join(items, ",")+`]}`))
		if err != nil {
			t.Fatal(err)
		}
		var resp struct{ Results []map[string]any }
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.Results
	}
	t.Fatalf("no op %q", op)
	return nil
}

func TestJudgeAfterRules(t *testing.T) {
	j := newTinyJudge(t, 0)
	s := judgedService(t, j, 0)
	rs := run(t, s, "verify",
		`{"id":1,"gold":"\\frac{3}{4}","pred":"\\boxed{\\text{three quarters}}","question":"What is 1/2 + 1/4?"}`,
		`{"id":2,"gold":"\\frac{3}{4}","pred":"\\boxed{7}"}`,
		`{"id":3,"gold":"\\frac{3}{4}","pred":"\\boxed{0.75}"}`,
		`{"id":4,"gold":"\\frac{3}{4}","pred":"\\boxed{\\frac{3}{4} \\text{ or } \\text{three quarters}}"}`,
		`{"id":5,"gold":"\\frac{3}{4}","pred":"\\boxed{\\text{three quarters}}","judge":false}`,
		`{"id":6,"gold":"\\frac{3}{4}","pred":"I do not know"}`)
	want := []struct {
		correct   bool
		decidedBy string
		judged    bool // a judge report, and no_cache
	}{
		{true, "judge", true},   // the rules say no, the judge yes
		{false, "judge", true},  // both say no
		{true, "rules", false},  // the rules say yes: the judge is not asked
		{false, "rules", false}, // a hedge never goes to the judge
		{false, "rules", false}, // the item refuses the judge
		{false, "rules", false}, // nothing to show the judge
	}
	for i, w := range want {
		r := rs[i]
		_, judged := r["judge"]
		if r["correct"] != w.correct || r["decided_by"] != w.decidedBy || judged != w.judged || (r["no_cache"] == true) != w.judged {
			t.Errorf("item %v: %v; want correct %v decided_by %s judged %v", r["id"], r, w.correct, w.decidedBy, w.judged)
		}
	}
	if rep, _ := rs[0]["judge"].(map[string]any); rep["model"] != "tinyv" || rep["p_yes"].(float64) < 0.9 || rs[0]["reward"] != 1.0 {
		t.Errorf("judge report %v", rs[0])
	}
	asked := j.asked()
	if len(asked) != 2 || !strings.Contains(asked[0]+asked[1], "<question>What is 1/2 + 1/4?</question>") {
		t.Errorf("the judge was asked %d times: %q", len(asked), asked)
	}
}

func TestJudgeBudget(t *testing.T) {
	j := newTinyJudge(t, 0)
	s := judgedService(t, j, 2)
	var items []string
	for _, w := range []string{"one", "two", "three", "four"} {
		items = append(items, `{"gold":"5","pred":"\\boxed{\\text{`+w+` quarters}}"}`)
	}
	rs := run(t, s, "verify", items...)
	judged, skipped := 0, 0
	for _, r := range rs {
		rep, _ := r["judge"].(map[string]any)
		switch {
		case r["decided_by"] == "judge":
			judged++
		case strings.Contains(rep["error"].(string), "budget") && r["correct"] == false && r["no_cache"] == true:
			skipped++
		}
	}
	if judged != 2 || skipped != 2 || len(j.asked()) != 2 {
		t.Errorf("%d judged, %d skipped, %d asked; want 2, 2, 2: %v", judged, skipped, len(j.asked()), rs)
	}
	// The budget is per batch: the next one has its own.
	if rs := run(t, s, "verify", items[0]); rs[0]["decided_by"] != "judge" {
		t.Errorf("a new batch: %v", rs[0])
	}
}

func TestJudgeDown(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadRequest} {
		j := newTinyJudge(t, status)
		rs := run(t, judgedService(t, j, 0), "verify", `{"gold":"\\frac{3}{4}","pred":"\\boxed{\\text{three quarters}}"}`)
		rep, _ := rs[0]["judge"].(map[string]any)
		if rs[0]["correct"] != false || rs[0]["reward"] != 0.0 || rs[0]["decided_by"] != "rules" || rep["error"] == "" || rs[0]["no_cache"] != true {
			t.Errorf("status %d: %v; want the rules' 0, flagged", status, rs[0])
		}
	}
	s, err := New(context.Background(), Config{Judge: judge.Config{URL: "http://127.0.0.1:1/v1", Model: "tinyv", Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	rs := run(t, s, "verify", `{"gold":"1","pred":"\\boxed{2}"}`)
	if rep, _ := rs[0]["judge"].(map[string]any); rs[0]["correct"] != false || rep["error"] == nil {
		t.Errorf("an unreachable judge: %v", rs[0])
	}
}

func TestJudgeRewards(t *testing.T) {
	j := newTinyJudge(t, 0)
	rs := run(t, judgedService(t, j, 0), "rewards",
		`{"id":"a","domain":"math","response":"It is \\boxed{\\text{three quarters}}.","reference":{"gold":"0.75","question":"How much is 3/4?"}}`,
		`{"id":"b","domain":"math","response":"\\boxed{0.75}","reference":"0.75"}`)
	details, _ := rs[0]["details"].(map[string]any)
	if rs[0]["reward"] != 1.0 || rs[0]["no_cache"] != true || details["decided_by"] != "judge" || rs[0]["id"] != "a" {
		t.Errorf("judged: %v", rs[0])
	}
	if d, _ := rs[1]["details"].(map[string]any); rs[1]["reward"] != 1.0 || rs[1]["no_cache"] != nil || d["decided_by"] != "rules" {
		t.Errorf("by the rules: %v", rs[1])
	}
	if asked := j.asked(); len(asked) != 1 || !strings.Contains(asked[0], "How much is 3/4?") {
		t.Errorf("asked %q", asked)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	fromEnv := func(getenv func(string) string) error {
		cfg, err := ConfigFromEnv(getenv)
		if err == nil {
			_, err = New(context.Background(), cfg)
		}
		return err
	}
	cfg, err := ConfigFromEnv(env(EnvJudgeURL, "http://vllm:8000/v1", EnvJudgeModel, "zhangchenxu/TinyV-1.5B",
		EnvJudgeTimeout, "3s", EnvJudgeBudget, "0", EnvJudgeThreshold, "0.7", EnvJudgeRetries, "2",
		EnvJudgeConcurrency, "4", EnvJudgeMaxTokens, "8", EnvJudgeAPIKeyEnv, "MY_KEY", "MY_KEY", "k"))
	j := cfg.Judge
	if err != nil || j.URL != "http://vllm:8000/v1" || j.Model != "zhangchenxu/TinyV-1.5B" || j.Timeout != 3*time.Second ||
		cfg.JudgeBudget != -1 || j.Threshold != 0.7 || j.Retries != 2 || j.Concurrency != 4 || j.MaxTokens != 8 || j.APIKey != "k" {
		t.Errorf("config %+v, err %v", cfg, err)
	}
	if cfg, err := ConfigFromEnv(env()); err != nil || cfg.Judge.URL != "" {
		t.Errorf("no judge: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{EnvJudgeURL, "vllm:8000"},
		{EnvJudgeURL, "http://vllm:8000/v1"}, // no model
		{EnvJudgeModel, "tinyv"},             // no URL
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeTimeout, "ten"},
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeTimeout, "-1s"},
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeBudget, "-3"},
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeThreshold, "1.5"},
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeConcurrency, "0"},
		{EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgeRetries, "many"},
	} {
		if _, err := ConfigFromEnv(env(bad...)); err == nil || !strings.Contains(err.Error(), "REWARDMESH_MATH_JUDGE_") {
			t.Errorf("%v: err %v, want one naming the variable", bad, err)
		}
	}
	if err := fromEnv(env(EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgePrompt, "/nonexistent/prompt.txt")); err == nil {
		t.Error("a missing prompt file was accepted")
	}
	prompt := filepath.Join(t.TempDir(), "prompt.txt")
	if err := os.WriteFile(prompt, []byte("{{.Gold}} {{.Answer}} {{.Question}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := ConfigFromEnv(env(EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgePrompt, prompt)); err != nil || cfg.Judge.Prompt == "" {
		t.Errorf("a prompt file: %+v, %v", cfg, err)
	}
	if err := os.WriteFile(prompt, []byte("{{.Patch}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fromEnv(env(EnvJudgeURL, "http://j/v1", EnvJudgeModel, "m", EnvJudgePrompt, prompt)); err == nil {
		t.Error("a prompt naming a field the judge has not was accepted")
	}
}
