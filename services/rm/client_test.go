package rm

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func testClient(t testing.TB, f *fakeRM, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = f.srv.URL
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Millisecond
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func promptConvs(n int) []Conversation {
	out := make([]Conversation, n)
	for i := range out {
		out[i] = Conversation{Prompt: fmt.Sprintf("<|user|>q%d<|assistant|>", i), Response: fmt.Sprintf("answer #%d.5", i)}
	}
	return out
}

func TestClientProtocols(t *testing.T) {
	chat := Conversation{Messages: []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}, Response: "hello #-3.25"}
	tests := []struct {
		protocol     Protocol
		convs        []Conversation
		wantRequests int
	}{
		{VLLMPooling, promptConvs(5), 1},
		{VLLMPooling, []Conversation{chat}, 1},
		{VLLMClassify, promptConvs(5), 1},
		{VLLMClassify, []Conversation{chat, chat}, 2}, // a chat request carries one conversation
		{VLLMScore, promptConvs(5), 1},
		{OpenAIChat, promptConvs(3), 3},
		{OpenAIChat, []Conversation{chat}, 1},
		{OpenRLHF, promptConvs(5), 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.protocol, len(tt.convs)), func(t *testing.T) {
			f := newFakeRM(t)
			c := testClient(t, f, ClientConfig{Protocol: tt.protocol, Model: "Skywork-Reward"})
			got := c.Score(context.Background(), tt.convs)
			for i, sc := range got {
				if sc.Err != nil {
					t.Fatalf("item %d: %v", i, sc.Err)
				}
				if want := fakeScore(tt.convs[i].Response); sc.Score != want {
					t.Errorf("item %d: score %v, want %v", i, sc.Score, want)
				}
			}
			if n := f.requests(); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			if m := f.bodies[0]["model"]; tt.protocol != OpenRLHF && m != "Skywork-Reward" {
				t.Errorf("model %v not sent", m)
			}
		})
	}
}

func TestClientChatSendsMessagesWithResponse(t *testing.T) {
	f := newFakeRM(t)
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling})
	conv := Conversation{Messages: []Message{{Role: "user", Content: "2+2?"}}, Response: "4 #1"}
	if got := c.Score(context.Background(), []Conversation{conv}); got[0].Err != nil {
		t.Fatal(got[0].Err)
	}
	msgs, _ := f.bodies[0]["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("messages %v, want user turn and assistant response", f.bodies[0]["messages"])
	}
	last := msgs[1].(map[string]any)
	if last["role"] != "assistant" || last["content"] != "4 #1" {
		t.Errorf("last turn %v, want the response as the assistant's", last)
	}
	if _, ok := f.bodies[0]["input"]; ok {
		t.Errorf("chat request also carries input: %v", f.bodies[0])
	}
}

func TestClientPromptIsJoinedToResponse(t *testing.T) {
	f := newFakeRM(t)
	c := testClient(t, f, ClientConfig{Protocol: VLLMClassify})
	c.Score(context.Background(), []Conversation{{Prompt: "P:", Response: "R #1"}})
	input, _ := f.bodies[0]["input"].([]any)
	if len(input) != 1 || input[0] != "P:R #1" {
		t.Errorf("input %v, want [\"P:R #1\"]", f.bodies[0]["input"])
	}
}

func TestClientBatchSplits(t *testing.T) {
	tests := []struct {
		batch, n int
		want     []int
	}{
		{3, 7, []int{3, 3, 1}},
		{32, 32, []int{32}},
		{1, 3, []int{1, 1, 1}},
		{10, 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("batch%d/n%d", tt.batch, tt.n), func(t *testing.T) {
			f := newFakeRM(t)
			c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, BatchSize: tt.batch})
			convs := promptConvs(tt.n)
			got := c.Score(context.Background(), convs)
			for i, sc := range got {
				if sc.Err != nil || sc.Score != fakeScore(convs[i].Response) {
					t.Errorf("item %d: %+v", i, sc)
				}
			}
			sizes := f.batchSizes()
			slices.Sort(sizes)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(sizes, want) {
				t.Errorf("batch sizes %v, want %v", sizes, want)
			}
		})
	}
}

func TestClientHonorsResultIndex(t *testing.T) {
	f := newFakeRM(t)
	f.reverse = true
	c := testClient(t, f, ClientConfig{Protocol: VLLMClassify})
	convs := promptConvs(4)
	for i, sc := range c.Score(context.Background(), convs) {
		if sc.Err != nil || sc.Score != fakeScore(convs[i].Response) {
			t.Errorf("item %d: %+v, want %v", i, sc, fakeScore(convs[i].Response))
		}
	}
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name       string
		failures   int
		status     int
		retries    int
		wantCode   reward.ErrorCode // "" for success
		wantTries  int
		retryAfter string
	}{
		{"503 then success", 2, 503, 3, "", 3, ""},
		{"502 then success", 1, 502, 1, "", 2, ""},
		{"429 with retry-after then success", 1, 429, 2, "", 2, "1"},
		{"503 past the retries", 5, 503, 2, reward.Unavailable, 3, ""},
		{"429 past the retries", 5, 429, 1, reward.Busy, 2, ""},
		{"400 is not retried", 5, 400, 3, reward.Invalid, 1, ""},
		{"401 is not retried", 5, 401, 3, reward.Unavailable, 1, ""},
		{"404 is not retried", 5, 404, 3, reward.Unavailable, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRM(t)
			f.failures, f.failStatus, f.retryAfter = tt.failures, tt.status, tt.retryAfter
			c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, Retries: tt.retries})
			got := c.Score(context.Background(), promptConvs(1))[0]
			switch {
			case tt.wantCode == "" && got.Err != nil:
				t.Fatalf("error %v, want a score", got.Err)
			case tt.wantCode == "" && got.Score != 0.5:
				t.Errorf("score %v, want 0.5", got.Score)
			case tt.wantCode != "" && (got.Err == nil || got.Err.Code != tt.wantCode):
				t.Fatalf("got %+v, want error %s", got, tt.wantCode)
			}
			if n := f.requests(); n != tt.wantTries {
				t.Errorf("%d attempts, want %d", n, tt.wantTries)
			}
			if tt.wantCode != "" && !strings.Contains(got.Err.Message, fmt.Sprint(tt.status)) {
				t.Errorf("message %q does not name the status %d", got.Err.Message, tt.status)
			}
		})
	}
}

func TestClientBackoffGrowsAndIsCapped(t *testing.T) {
	c := &Client{cfg: ClientConfig{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceiling *= time.Millisecond
		for range 20 {
			if d := c.backoff(attempt, 0); d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := c.backoff(0, 30*time.Second); d != time.Second {
		t.Errorf("Retry-After 30s gave %v, want the 1s cap", d)
	}
}

func TestClientTimeout(t *testing.T) {
	f := newFakeRM(t)
	f.delay = 2 * time.Second
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, Timeout: 50 * time.Millisecond, Retries: 1})
	got := c.Score(context.Background(), promptConvs(2))
	for i, sc := range got {
		if sc.Err == nil || sc.Err.Code != reward.Timeout {
			t.Fatalf("item %d: %+v, want timeout", i, sc)
		}
	}
	if n := f.requests(); n != 2 {
		t.Errorf("%d attempts, want 2 (a timed-out attempt is retried)", n)
	}
}

func TestClientCallerDeadline(t *testing.T) {
	f := newFakeRM(t)
	f.delay = 2 * time.Second
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, Timeout: time.Minute, Retries: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	got := c.Score(ctx, promptConvs(1))[0]
	if got.Err == nil || got.Err.Code != reward.Timeout {
		t.Fatalf("%+v, want timeout", got)
	}
}

func TestClientServerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c, err := NewClient(ClientConfig{URL: url, Protocol: VLLMPooling, Retries: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range c.Score(context.Background(), promptConvs(3)) {
		if sc.Err == nil || sc.Err.Code != reward.Unavailable {
			t.Fatalf("item %d: %+v, want unavailable", i, sc)
		}
		if !strings.Contains(sc.Err.Message, "3 attempt") || !strings.Contains(sc.Err.Message, url) {
			t.Errorf("message %q should say where and how many attempts", sc.Err.Message)
		}
	}
}

func TestClientMalformedResponses(t *testing.T) {
	tests := []struct {
		protocol Protocol
		body     string
		wantIn   string
	}{
		{VLLMPooling, `<html>502 Bad Gateway</html>`, "want a JSON object"},
		{VLLMPooling, `{"data":[{"index":0,"data":[1.5]}`, "decode JSON"},
		{VLLMPooling, `{"data":[]}`, "0 results for 2 inputs"},
		{VLLMPooling, `{"data":[{"index":0,"data":[1]},{"index":0,"data":[2]}]}`, "appears twice"},
		{VLLMPooling, `{"data":[{"index":0,"data":[1]},{"index":7,"data":[2]}]}`, "out of range"},
		{VLLMPooling, `{"data":[{"index":0,"data":[0.1,0.2,0.3]},{"index":1,"data":[1]}]}`, "embedding model"},
		{VLLMPooling, `{"data":[{"index":0,"data":"x"},{"index":1,"data":[1]}]}`, "want a number or a vector"},
		{VLLMPooling, `{"data":[{"index":0},{"index":1,"data":[1]}]}`, "pooling data"},
		{VLLMClassify, `{"data":[{"index":0,"probs":[0.4,0.6],"num_classes":2},{"index":1,"probs":[1],"num_classes":1}]}`, "2 classes"},
		{VLLMClassify, `{"data":[{"index":0,"probs":[]},{"index":1,"probs":[1]}]}`, "no probs"},
		{VLLMScore, `{"data":[{"index":0,"score":null},{"index":1,"score":1}]}`, "no score"},
		{OpenRLHF, `{"rewards":[1]}`, "1 rewards for 2 queries"},
		{OpenRLHF, `{"rewards":[1,null]}`, "not a number"},
		{OpenAIChat, `{"choices":[]}`, "no choices"},
		{OpenAIChat, `{"choices":[{"message":{"role":"assistant","content":"I think it is good"}}]}`, `no "reward" score`},
		{OpenAIChat, `{"choices":[{"message":{"role":"assistant","content":"reward:abc"}}]}`, "not a number"},
	}
	for _, tt := range tests {
		t.Run(string(tt.protocol)+"/"+tt.wantIn, func(t *testing.T) {
			f := newFakeRM(t)
			f.malformed = tt.body
			c := testClient(t, f, ClientConfig{Protocol: tt.protocol, ClassIndex: -1})
			n := 2
			if tt.protocol == OpenAIChat {
				n = 1
			}
			for i, sc := range c.Score(context.Background(), promptConvs(n)) {
				if sc.Err == nil || sc.Err.Code != reward.Internal {
					t.Fatalf("item %d: %+v, want an internal error", i, sc)
				}
				if !strings.Contains(sc.Err.Message, "malformed") || !strings.Contains(sc.Err.Message, tt.wantIn) {
					t.Errorf("message %q, want it to say malformed and %q", sc.Err.Message, tt.wantIn)
				}
			}
		})
	}
}

func TestClientRejectedBatchIsSplit(t *testing.T) {
	f := newFakeRM(t)
	f.rejectWord = "TOO_LONG"
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, BatchSize: 8})
	convs := promptConvs(4)
	convs[2].Response = "TOO_LONG #9"
	got := c.Score(context.Background(), convs)
	for i, sc := range got {
		if i == 2 {
			if sc.Err == nil || sc.Err.Code != reward.Invalid || !strings.Contains(sc.Err.Message, "maximum context length") {
				t.Errorf("item 2: %+v, want invalid with the server's reason", sc)
			}
			continue
		}
		if sc.Err != nil || sc.Score != fakeScore(convs[i].Response) {
			t.Errorf("item %d: %+v, want its score", i, sc)
		}
	}
	if n := f.requests(); n != 5 {
		t.Errorf("%d requests, want 1 batch and 4 singles", n)
	}
}

func TestClientChatOnlyTextProtocols(t *testing.T) {
	for _, p := range []Protocol{VLLMScore, OpenRLHF} {
		t.Run(string(p), func(t *testing.T) {
			f := newFakeRM(t)
			c := testClient(t, f, ClientConfig{Protocol: p})
			got := c.Score(context.Background(), []Conversation{{Messages: []Message{{Role: "user", Content: "q"}}, Response: "a"}})
			if got[0].Err == nil || got[0].Err.Code != reward.Invalid {
				t.Errorf("%+v, want invalid", got[0])
			}
			if f.requests() != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

func TestClientBoundedConcurrency(t *testing.T) {
	f := newFakeRM(t)
	f.delay = 20 * time.Millisecond
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, BatchSize: 1, Concurrency: 2})
	got := c.Score(context.Background(), promptConvs(8))
	for i, sc := range got {
		if sc.Err != nil {
			t.Fatalf("item %d: %v", i, sc.Err)
		}
	}
	if m := f.maxInflight.Load(); m > 2 || m < 1 {
		t.Errorf("%d requests in flight at once, want at most 2", m)
	}
}

func TestClientSendsAPIKeyAndOptions(t *testing.T) {
	f := newFakeRM(t)
	c := testClient(t, f, ClientConfig{Protocol: VLLMPooling, APIKey: "sekrit", RawLogits: true, PoolingTask: "classify"})
	c.Score(context.Background(), promptConvs(1))
	if f.auth[0] != "Bearer sekrit" {
		t.Errorf("Authorization %q", f.auth[0])
	}
	if v, ok := f.bodies[0]["use_activation"]; !ok || v != false {
		t.Errorf("use_activation %v, want false", v)
	}
	if v := f.bodies[0]["task"]; v != "classify" {
		t.Errorf("task %v, want classify", v)
	}
	plain := testClient(t, f, ClientConfig{Protocol: VLLMPooling})
	plain.Score(context.Background(), promptConvs(1))
	if _, ok := f.bodies[1]["use_activation"]; ok || f.auth[1] != "" {
		t.Errorf("unasked options sent: %v, auth %q", f.bodies[1], f.auth[1])
	}
}

func TestClientClassIndex(t *testing.T) {
	f := newFakeRM(t)
	f.malformed = `{"data":[{"index":0,"label":"good","probs":[0.25,0.75],"num_classes":2}]}`
	c := testClient(t, f, ClientConfig{Protocol: VLLMClassify, ClassIndex: 1})
	if got := c.Score(context.Background(), promptConvs(1))[0]; got.Err != nil || got.Score != 0.75 {
		t.Errorf("%+v, want the probability of class 1", got)
	}
}

func TestEndpointURL(t *testing.T) {
	tests := []struct {
		url      string
		protocol Protocol
		want     string
		wantErr  bool
	}{
		{"http://h:8000", VLLMPooling, "http://h:8000/pooling", false},
		{"http://h:8000/", VLLMClassify, "http://h:8000/classify", false},
		{"http://h:8000", VLLMScore, "http://h:8000/score", false},
		{"https://integrate.api.nvidia.com/v1", OpenAIChat, "https://integrate.api.nvidia.com/v1/chat/completions", false},
		{"http://h:8000", OpenAIChat, "http://h:8000/v1/chat/completions", false},
		{"http://h:5000/get_reward", OpenRLHF, "http://h:5000/get_reward", false},
		{"http://h:5000/custom/pool", VLLMPooling, "http://h:5000/custom/pool", false},
		{"h:8000", VLLMPooling, "", true},
		{"ftp://h", VLLMPooling, "", true},
		{"http://h", "grpc", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.url+"/"+string(tt.protocol), func(t *testing.T) {
			got, err := endpointURL(tt.url, tt.protocol)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("endpointURL = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPoolingScore(t *testing.T) {
	tests := []struct {
		raw     string
		want    float64
		wantErr bool
	}{
		{`1.25`, 1.25, false},
		{`[-3.5]`, -3.5, false},
		{`[[0.1],[0.2],[7.5]]`, 7.5, false}, // per-token rewards: the last token's
		{`[[0.1,0.2],[0.3,0.4]]`, 0, true},
		{`[0.1,0.2]`, 0, true},
		{`[]`, 0, true},
		{`null`, 0, true},
		{`{"a":1}`, 0, true},
		{`["x"]`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := poolingScore([]byte(tt.raw))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("poolingScore = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseScoreText(t *testing.T) {
	tests := []struct {
		text, key string
		want      float64
		wantErr   bool
	}{
		{"reward:-25.625", "reward", -25.625, false},
		{" -3.5 ", "reward", -3.5, false},
		{"helpfulness:3.1,correctness:2.9,coherence:3.8", "correctness", 2.9, false},
		{"helpfulness:3.1", "reward", 0, true},
		{"reward:NaN", "reward", 0, true},
		{"Inf", "reward", 0, true},
		{"", "reward", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := parseScoreText(tt.text, tt.key)
			if (err != nil) != tt.wantErr || got != tt.want || math.IsNaN(got) {
				t.Errorf("parseScoreText = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDecodeChatPrefersLogprobs(t *testing.T) {
	// The text is rounded for display; the logprob carries the float.
	raw := `{"choices":[{"message":{"content":"reward:-25.6"},"logprobs":{"content":[{"token":"reward","logprob":-25.625}]}}]}`
	got, err := decodeChat([]byte(raw), "reward")
	if err != nil || got != -25.625 {
		t.Errorf("decodeChat = %v, %v; want -25.625", got, err)
	}
}
