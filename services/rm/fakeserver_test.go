package rm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRM is a reward model server that speaks the real protocols' shapes, as
// their documentation gives them (see protocol.go for the references). No
// model can run here, so its "model" reads the score from the response text:
// the number after the last '#' (0 when there is none), e.g. "answer #2.5".
type fakeRM struct {
	srv *httptest.Server

	mu       sync.Mutex
	bodies   []map[string]any // every request body, decoded
	sizes    []int            // conversations per request
	auth     []string         // Authorization headers seen
	failures int              // answer the next this-many requests with failStatus
	// failStatus is the status of a failure (503 when 0); retryAfter sets its
	// Retry-After header.
	failStatus int
	retryAfter string
	delay      time.Duration // before answering
	malformed  string        // when set, answer 200 with this body
	reverse    bool          // list results in reverse order, trusting "index"
	rejectWord string        // answer 400 to a request holding this text

	inflight, maxInflight atomic.Int64
}

func newFakeRM(t testing.TB) *fakeRM {
	f := &fakeRM{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func fakeScore(text string) float64 {
	i := strings.LastIndexByte(text, '#')
	if i < 0 {
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(text[i+1:]), 64)
	if err != nil {
		return 0
	}
	return v
}

func (f *fakeRM) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func (f *fakeRM) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

func (f *fakeRM) serve(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	texts := requestTexts(r.URL.Path, body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.sizes = append(f.sizes, len(texts))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	status, retryAfter, delay, malformed, reverse, reject := f.failStatus, f.retryAfter, f.delay, f.malformed, f.reverse, f.rejectWord
	f.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail {
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"object":"error","message":"engine overloaded","type":"ServiceUnavailable","code":503}`))
		return
	}
	if reject != "" {
		for _, t := range texts {
			if strings.Contains(t, reject) {
				// vLLM's error shape (ErrorResponse) for a prompt over max_model_len.
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`))
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if malformed != "" {
		_, _ = w.Write([]byte(malformed))
		return
	}
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
		if reverse {
			order[i] = len(texts) - 1 - i
		}
	}
	var resp any
	switch r.URL.Path {
	case "/pooling":
		data := make([]map[string]any, 0, len(texts))
		for _, i := range order {
			data = append(data, map[string]any{"index": i, "object": "pooling", "data": []float64{fakeScore(texts[i])}})
		}
		resp = map[string]any{"id": "pool-1", "object": "list", "created": 1745383213, "model": body["model"], "data": data,
			"usage": map[string]any{"prompt_tokens": 10, "total_tokens": 10, "completion_tokens": 0, "prompt_tokens_details": nil}}
	case "/classify":
		data := make([]map[string]any, 0, len(texts))
		for _, i := range order {
			data = append(data, map[string]any{"index": i, "label": "LABEL_0", "probs": []float64{fakeScore(texts[i])}, "num_classes": 1})
		}
		resp = map[string]any{"id": "classify-9bf1", "object": "list", "created": 1745383213, "model": body["model"], "data": data,
			"usage": map[string]any{"prompt_tokens": 10, "total_tokens": 10, "completion_tokens": 0, "prompt_tokens_details": nil}}
	case "/score":
		data := make([]map[string]any, 0, len(texts))
		for _, i := range order {
			data = append(data, map[string]any{"index": i, "object": "score", "score": fakeScore(texts[i])})
		}
		resp = map[string]any{"id": "score-1", "object": "list", "created": 1745383213, "model": body["model"], "data": data,
			"usage": map[string]any{"prompt_tokens": 10, "total_tokens": 10}}
	case "/v1/chat/completions":
		s := fakeScore(texts[0])
		v := strconv.FormatFloat(s, 'g', -1, 64)
		resp = map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": 1745383213, "model": body["model"],
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": "reward:" + v},
				"logprobs":      map[string]any{"content": []any{map[string]any{"token": "reward", "logprob": s, "bytes": nil, "top_logprobs": []any{}}}},
				"finish_reason": "length",
			}},
			"usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
		}
	case "/get_reward":
		rewards := make([]float64, len(texts))
		for i, t := range texts {
			rewards[i] = fakeScore(t)
		}
		resp = map[string]any{"rewards": rewards, "scores": rewards, "extra_logs": map[string]any{}}
	default:
		http.NotFound(w, r)
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// requestTexts reads the texts a request asks to score, in order; a chat
// request's is its last turn.
func requestTexts(path string, body map[string]any) []string {
	strs := func(v any) []string {
		switch x := v.(type) {
		case string:
			return []string{x}
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, _ := e.(string)
				out = append(out, s)
			}
			return out
		}
		return nil
	}
	if msgs, ok := body["messages"].([]any); ok && len(msgs) > 0 {
		last, _ := msgs[len(msgs)-1].(map[string]any)
		content, _ := last["content"].(string)
		return []string{content}
	}
	switch path {
	case "/score":
		return strs(body["text_2"])
	case "/get_reward":
		return strs(body["query"])
	}
	return strs(body["input"])
}
