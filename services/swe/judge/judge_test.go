package judge

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// completion builds a chat completion in OpenAI's documented shape: the chosen
// token with its logprob and top_logprobs under choices[0].logprobs.content[0].
func completion(text string, top map[string]float64) map[string]any {
	choice := map[string]any{
		"index":         0,
		"message":       map[string]any{"role": "assistant", "content": text},
		"finish_reason": "length",
		"logprobs":      nil,
	}
	if top != nil {
		var tops []map[string]any
		for tok, p := range top {
			tops = append(tops, map[string]any{"token": tok, "logprob": math.Log(p), "bytes": []byte(tok)})
		}
		chosen := -30.0 // a chosen token outside the top list is merely unlikely
		if p, ok := top[text]; ok {
			chosen = math.Log(p)
		}
		choice["logprobs"] = map[string]any{"content": []map[string]any{{
			"token": text, "logprob": chosen, "bytes": []byte(text), "top_logprobs": tops,
		}}}
	}
	return map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "judge",
		"choices": []any{choice},
		"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
	}
}

// fakeServer answers with the given handlers in turn (the last one repeats) and
// records the requests it saw.
type fakeServer struct {
	*httptest.Server
	calls    atomic.Int32
	requests chan map[string]any
	auth     atomic.Value
}

func newFake(t *testing.T, handlers ...http.HandlerFunc) *fakeServer {
	f := &fakeServer{requests: make(chan map[string]any, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.auth.Store(r.Header.Get("Authorization"))
		select {
		case f.requests <- body:
		default:
		}
		n := int(f.calls.Add(1)) - 1
		handlers[min(n, len(handlers)-1)](w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func reply(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"busy"}}`, code)
	}
}

func newClient(t *testing.T, url string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: url + "/v1", Model: "judge", APIKey: "k", Timeout: 2 * time.Second, MaxRetries: 2}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestScore(t *testing.T) {
	tests := []struct {
		name    string
		resp    any
		want    float64
		wantErr bool
	}{
		{"logprobs yes/no", completion("Yes", map[string]float64{"Yes": 0.6, "No": 0.3, "Maybe": 0.1}), 0.6 / 0.9, false},
		{"case and space variants add up", completion(" yes", map[string]float64{" yes": 0.4, "Yes": 0.2, "NO": 0.1, "\nno": 0.1}), 0.6 / 0.8, false},
		{"only yes in top", completion("Yes", map[string]float64{"Yes": 0.9, "Sure": 0.05}), 1, false},
		{"no logprobs: text yes", completion("Yes", nil), 1, false},
		{"no logprobs: text no", completion(" No.", nil), 0, false},
		{"chosen token outside top list counts", completion("No", map[string]float64{"Nope": 0.5, "Maybe": 0.5}), 0, false},
		{"text fallback reads a whole word", completion("Nope", nil), 0, true},
		{"neither", completion("Perhaps", nil), 0, true},
		{"no choices", map[string]any{"choices": []any{}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply(tt.resp))
			c := newClient(t, f.URL, nil)
			got, err := c.Score(context.Background(), "PRED-DIFF", "ORACLE-DIFF")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("score %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	f := newFake(t, reply(completion("Yes", map[string]float64{"Yes": 1})))
	c := newClient(t, f.URL, nil)
	if _, err := c.Score(context.Background(), "PRED-DIFF", "ORACLE-DIFF"); err != nil {
		t.Fatal(err)
	}
	req := <-f.requests
	if req["model"] != "judge" || req["max_tokens"] != float64(1) || req["logprobs"] != true || req["top_logprobs"] != float64(20) {
		t.Errorf("request %v lacks model/max_tokens 1/logprobs/top_logprobs 20", req)
	}
	msgs, _ := req["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("messages %v", req["messages"])
	}
	content, _ := msgs[0].(map[string]any)["content"].(string)
	if !strings.Contains(content, "PRED-DIFF") || !strings.Contains(content, "ORACLE-DIFF") {
		t.Errorf("prompt does not carry both patches: %q", content)
	}
	if got := f.auth.Load(); got != "Bearer k" {
		t.Errorf("Authorization %q", got)
	}
}

func TestRetries(t *testing.T) {
	ok := reply(completion("No", map[string]float64{"No": 0.75, "Yes": 0.25}))
	t.Run("429 then 503 then success", func(t *testing.T) {
		f := newFake(t, status(429), status(503), ok)
		c := newClient(t, f.URL, nil)
		got, err := c.Score(context.Background(), "p", "o")
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-0.25) > 1e-12 || f.calls.Load() != 3 {
			t.Errorf("score %v after %d calls, want 0.25 after 3", got, f.calls.Load())
		}
	})
	t.Run("retries run out", func(t *testing.T) {
		f := newFake(t, status(500))
		c := newClient(t, f.URL, nil)
		_, err := c.Score(context.Background(), "p", "o")
		if e := reward.AsError(err); e == nil || e.Code != reward.Unavailable {
			t.Fatalf("err %v, want unavailable", err)
		}
		if f.calls.Load() != 3 {
			t.Errorf("%d calls, want 1 + 2 retries", f.calls.Load())
		}
	})
	t.Run("400 is not retried", func(t *testing.T) {
		f := newFake(t, status(400))
		c := newClient(t, f.URL, nil)
		_, err := c.Score(context.Background(), "p", "o")
		if err == nil || f.calls.Load() != 1 {
			t.Fatalf("err %v after %d calls, want an error after 1", err, f.calls.Load())
		}
	})
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	t.Run("attempt timeout then retry succeeds", func(t *testing.T) {
		f := newFake(t, slow, reply(completion("Yes", map[string]float64{"Yes": 1})))
		c := newClient(t, f.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond })
		got, err := c.Score(context.Background(), "p", "o")
		if err != nil || got != 1 {
			t.Fatalf("got %v, %v; want 1 after a retry", got, err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		f := newFake(t, slow)
		c := newClient(t, f.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := c.Score(ctx, "p", "o")
		if e := reward.AsError(err); e == nil || e.Code != reward.Timeout {
			t.Fatalf("err %v, want timeout", err)
		}
	})
}

func TestConcurrencyBound(t *testing.T) {
	var inFlight, peak atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		reply(completion("Yes", map[string]float64{"Yes": 1}))(w, r)
	})
	c := newClient(t, f.URL, func(c *Config) { c.MaxConcurrency = 2 })
	errs := make(chan error, 8)
	for range 8 {
		go func() { _, err := c.Score(context.Background(), "p", "o"); errs <- err }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if peak.Load() > 2 {
		t.Errorf("%d requests in flight, limit 2", peak.Load())
	}
}

func TestPromptFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.txt")
	if err := os.WriteFile(path, []byte("P={{.Predicted}} O={{.Oracle}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Endpoint: "http://x", Model: "m", PromptPath: path})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.Prompt("a", "b")
	if got != "P=a O=b" {
		t.Errorf("prompt %q", got)
	}
	if err := os.WriteFile(path, []byte("{{.Issue}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Endpoint: "http://x", Model: "m", PromptPath: path}); err == nil {
		t.Error("a template naming an unknown field was accepted")
	}
	if _, err := New(Config{Endpoint: "http://x", Model: "m", PromptPath: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing prompt file was accepted")
	}
	def, err := New(Config{Endpoint: "http://x", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = def.Prompt("PRED", "GOLD")
	if !strings.Contains(got, "PRED") || !strings.Contains(got, "GOLD") {
		t.Errorf("default prompt does not carry the patches: %q", got)
	}
}

func TestNewRejectsMissingConfig(t *testing.T) {
	for _, cfg := range []Config{{Model: "m"}, {Endpoint: "http://x"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
