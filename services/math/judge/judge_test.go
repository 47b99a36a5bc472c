package judge

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openAIServer is a chat completions server in OpenAI's documented shape
// (choices[0].message, choices[0].logprobs.content[i].top_logprobs), as vLLM
// and SGLang serve it. answer decides each reply from the request.
type openAIServer struct {
	*httptest.Server
	answer func(req chatRequest) (status int, reply chatReply)

	mu       sync.Mutex
	requests []chatRequest
	auth     []string
	inFlight atomic.Int32
	peak     atomic.Int32
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens   int  `json:"max_tokens"`
	Logprobs    bool `json:"logprobs"`
	TopLogprobs int  `json:"top_logprobs"`
}

// chatReply is a completion: the text, and per generated token its candidates
// (the first candidate is the token chosen).
type chatReply struct {
	text   string
	tokens [][]logprob
}

func (r chatReply) MarshalJSON() ([]byte, error) {
	type tok struct {
		Token   string    `json:"token"`
		Logprob float64   `json:"logprob"`
		Bytes   []byte    `json:"bytes"`
		Top     []logprob `json:"top_logprobs"`
	}
	var content []tok
	for _, cands := range r.tokens {
		content = append(content, tok{cands[0].Token, cands[0].Logprob, []byte(cands[0].Token), cands})
	}
	var lp any
	if content != nil {
		lp = map[string]any{"content": content}
	}
	return json.Marshal(map[string]any{
		"id": "chatcmpl-7", "object": "chat.completion", "created": 1718000000, "model": "tinyv",
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "length", "logprobs": lp,
			"message": map[string]any{"role": "assistant", "content": r.text},
		}},
		"usage": map[string]int{"prompt_tokens": 120, "completion_tokens": len(r.tokens), "total_tokens": 120 + len(r.tokens)},
	})
}

// verdictToken is one generated token: P(True) = p, P(False) = 1 - p.
func verdictToken(p float64) []logprob {
	yes, no := logprob{"True", math.Log(p)}, logprob{"False", math.Log(1 - p)}
	if p < 0.5 {
		return []logprob{no, yes}
	}
	return []logprob{yes, no}
}

func newOpenAIServer(t *testing.T, answer func(chatRequest) (int, chatReply)) *openAIServer {
	s := &openAIServer{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		var req chatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"object":"error","message":"bad json"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		status, reply := s.answer(req)
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"object":"error","message":"engine overloaded","code":` + strconv.Itoa(status) + `}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *openAIServer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func client(t *testing.T, url string, edit func(*Config)) *Client {
	t.Helper()
	cfg := Config{URL: url + "/v1", Model: "tinyv", APIKey: "secret", Timeout: time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var query = Query{Question: "What is 1/2 + 1/4?", Gold: `\frac{3}{4}`, Answer: "0.75"}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reply   chatReply
		want    float64
		correct bool
		err     bool
	}{
		{"logprobs true", chatReply{"True", [][]logprob{verdictToken(0.9)}}, 0.9, true, false},
		{"logprobs false", chatReply{"False", [][]logprob{verdictToken(0.2)}}, 0.2, false, false},
		{"yes and no count too", chatReply{"Yes", [][]logprob{{{"Yes", math.Log(0.6)}, {" no", math.Log(0.2)}, {"Maybe", math.Log(0.2)}}}}, 0.75, true, false},
		{"the chosen token outside the top list", chatReply{"False", [][]logprob{{{"False", math.Log(0.3)}}}}, 0, false, false},
		{"a blank token first", chatReply{"\nTrue", [][]logprob{{{"\n", -0.01}}, verdictToken(0.7)}}, 0.7, true, false},
		{"no logprobs: the text", chatReply{"True.", nil}, 1, true, false},
		{"a thinking judge: after </think>", chatReply{"<think>0.75 = 3/4</think> True", [][]logprob{{{"<think>", -0.1}}}}, 1, true, false},
		{"neither", chatReply{"Perhaps", nil}, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) { return http.StatusOK, tc.reply })
			v, err := client(t, srv.URL, nil).Judge(context.Background(), query)
			if tc.err {
				if err == nil {
					t.Fatalf("got %+v, want an error", v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(v.PYes-tc.want) > 1e-9 || v.Correct != tc.correct {
				t.Errorf("verdict %+v, want p_yes %v correct %v", v, tc.want, tc.correct)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) {
		return http.StatusOK, chatReply{"True", [][]logprob{verdictToken(0.99)}}
	})
	if _, err := client(t, srv.URL, nil).Judge(context.Background(), query); err != nil {
		t.Fatal(err)
	}
	req := srv.requests[0]
	if req.Model != "tinyv" || req.MaxTokens != 1 || !req.Logprobs || req.TopLogprobs != 20 || len(req.Messages) != 1 {
		t.Errorf("request %+v", req)
	}
	prompt := req.Messages[0].Content
	for _, want := range []string{"<question>What is 1/2 + 1/4?</question>", `<ground_truth_answer>\frac{3}{4}</ground_truth_answer>`, "<model_answer>0.75</model_answer>", `"True"`} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	if srv.auth[0] != "Bearer secret" {
		t.Errorf("Authorization %q", srv.auth[0])
	}
	noQuestion, _ := client(t, srv.URL, nil).Prompt(Query{Gold: "1", Answer: "2"})
	if !strings.Contains(noQuestion, "<question>(not given)</question>") {
		t.Errorf("a prompt without a question: %s", noQuestion)
	}
}

func TestRemembers(t *testing.T) {
	srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) {
		return http.StatusOK, chatReply{"True", [][]logprob{verdictToken(0.8)}}
	})
	c := client(t, srv.URL, nil)
	for range 3 {
		if _, err := c.Judge(context.Background(), query); err != nil {
			t.Fatal(err)
		}
	}
	other := query
	other.Answer = "3/4"
	if _, err := c.Judge(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if srv.calls() != 2 {
		t.Errorf("%d requests for two distinct answers asked four times", srv.calls())
	}
}

func TestFailures(t *testing.T) {
	ok := chatReply{"True", [][]logprob{verdictToken(0.9)}}
	t.Run("503 then an answer", func(t *testing.T) {
		var n atomic.Int32
		srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) {
			if n.Add(1) == 1 {
				return http.StatusServiceUnavailable, chatReply{}
			}
			return http.StatusOK, ok
		})
		v, err := client(t, srv.URL, func(c *Config) { c.Retries = 1 }).Judge(context.Background(), query)
		if err != nil || !v.Correct || srv.calls() != 2 {
			t.Fatalf("verdict %+v, err %v after %d calls", v, err, srv.calls())
		}
	})
	t.Run("retries spent", func(t *testing.T) {
		srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) { return http.StatusInternalServerError, chatReply{} })
		_, err := client(t, srv.URL, func(c *Config) { c.Retries = 2 }).Judge(context.Background(), query)
		if err == nil || srv.calls() != 3 {
			t.Fatalf("err %v after %d calls, want an error after 3", err, srv.calls())
		}
	})
	t.Run("400 is not retried", func(t *testing.T) {
		srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) { return http.StatusBadRequest, chatReply{} })
		_, err := client(t, srv.URL, func(c *Config) { c.Retries = 3 }).Judge(context.Background(), query)
		if err == nil || srv.calls() != 1 {
			t.Fatalf("err %v after %d calls, want an error after 1", err, srv.calls())
		}
	})
	t.Run("down", func(t *testing.T) {
		srv := newOpenAIServer(t, nil)
		srv.Close()
		if _, err := client(t, srv.URL, nil).Judge(context.Background(), query); err == nil {
			t.Fatal("a judge that is down answered")
		}
	})
	t.Run("slow: the request's timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) { <-release; return http.StatusOK, ok })
		defer close(release)
		start := time.Now()
		_, err := client(t, srv.URL, func(c *Config) { c.Timeout = 50 * time.Millisecond }).Judge(context.Background(), query)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("err %v after %v, want a deadline", err, time.Since(start))
		}
	})
}

func TestConcurrency(t *testing.T) {
	srv := newOpenAIServer(t, func(chatRequest) (int, chatReply) {
		time.Sleep(20 * time.Millisecond)
		return http.StatusOK, chatReply{"False", [][]logprob{verdictToken(0.1)}}
	})
	c := client(t, srv.URL, func(c *Config) { c.Concurrency = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		q := query
		q.Answer = strings.Repeat("9", i+1)
		wg.Go(func() {
			if _, err := c.Judge(context.Background(), q); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if srv.peak.Load() > 2 {
		t.Errorf("%d requests in flight, limit 2", srv.peak.Load())
	}
}

func TestNew(t *testing.T) {
	c, err := New(Config{URL: "http://judge/v1", Model: "m", Prompt: "Q={{.Question}} G={{.Gold}} A={{.Answer}}"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Prompt(Query{"q", "g", "a"}); got != "Q=q G=g A=a" || c.Model() != "m" {
		t.Errorf("prompt %q, model %q", got, c.Model())
	}
	for _, cfg := range []Config{
		{Model: "m"}, {URL: "http://judge/v1"},
		{URL: "http://judge/v1", Model: "m", Prompt: "{{.Patch}}"}, // a field a query does not have
		{URL: "http://judge/v1", Model: "m", Prompt: "{{.Gold"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// FuzzCompletion: whatever a server answers, reading a verdict from it never
// panics, and a verdict read is a probability.
func FuzzCompletion(f *testing.F) {
	for _, r := range []chatReply{
		{"True", [][]logprob{verdictToken(0.9)}}, {"<think>x</think> no", nil}, {"", [][]logprob{{{"", 0}}}},
	} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"choices":[{"logprobs":{"content":[{"token":"yes","logprob":1e308,"top_logprobs":[{"token":"no","logprob":-1e308}]}]}}]}`))
	f.Add([]byte(`{"choices":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c completion
		if json.Unmarshal(body, &c) != nil {
			return
		}
		if p, err := c.pYes(); err == nil && !(p >= 0 && p <= 1) {
			t.Fatalf("P(yes) = %v from %s", p, body)
		}
	})
}
