package rm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The request and response shapes below follow each server's documentation:
//
//   - vLLM pooling API (docs.vllm.ai, "Pooling API", examples/pooling/pooling):
//     POST /pooling {"model","input": str|[str]} or {"model","messages":[...]}
//     → {"id","object":"list","created","model","data":[{"index","object":"pooling","data": ...}],"usage"}.
//   - vLLM classification API (docs.vllm.ai, "Classification API", examples/pooling/classify):
//     POST /classify {"model","input": str|[str]} or {"model","messages":[...]}
//     → {"data":[{"index","label","probs":[...],"num_classes"}]}.
//   - vLLM score API (docs.vllm.ai, "Score API"):
//     POST /score {"model","text_1": str|[str], "text_2": str|[str]}
//     → {"data":[{"index","object":"score","score"}]}.
//   - OpenAI chat completions (platform.openai.com/docs/api-reference/chat) as NVIDIA's
//     reward NIMs answer it (docs.api.nvidia.com, llama-3.1-nemotron-70b-reward):
//     choices[0].message.content "reward:-25.625" and logprobs.content[0] {"token":"reward","logprob":-25.625}.
//   - OpenRLHF remote reward model (openrlhf/utils/remote_rm_utils.py):
//     {"query":[full text],"prompts":[prompt],"labels":[...]} → {"rewards":[...]}.

type poolingRequest struct {
	Model         string    `json:"model,omitempty"`
	Input         []string  `json:"input,omitempty"`
	Messages      []Message `json:"messages,omitempty"`
	Task          string    `json:"task,omitempty"`
	UseActivation *bool     `json:"use_activation,omitempty"`
}

type scoreRequest struct {
	Model string   `json:"model,omitempty"`
	Text1 []string `json:"text_1"`
	Text2 []string `json:"text_2"`
}

type chatRequest struct {
	Model     string    `json:"model,omitempty"`
	Messages  []Message `json:"messages"`
	MaxTokens int       `json:"max_tokens"`
}

type openRLHFRequest struct {
	Query   []string `json:"query"`
	Prompts []string `json:"prompts"`
	Labels  []string `json:"labels"`
}

// encode builds the request body for convs. Chat conversations come one at a
// time (plan sees to it).
func (c *Client) encode(convs []Conversation) ([]byte, error) {
	var activation *bool
	if c.cfg.RawLogits {
		activation = new(bool)
	}
	texts := func() []string {
		out := make([]string, len(convs))
		for i, conv := range convs {
			out[i] = conv.Prompt + conv.Response
		}
		return out
	}
	var body any
	switch c.cfg.Protocol {
	case VLLMPooling, VLLMClassify:
		req := poolingRequest{Model: c.cfg.Model, UseActivation: activation}
		if c.cfg.Protocol == VLLMPooling {
			req.Task = c.cfg.PoolingTask
		}
		if len(convs) == 1 && convs[0].chat() {
			req.Messages = convs[0].turns()
		} else {
			req.Input = texts()
		}
		body = req
	case VLLMScore:
		req := scoreRequest{Model: c.cfg.Model, Text1: make([]string, len(convs)), Text2: make([]string, len(convs))}
		for i, conv := range convs {
			req.Text1[i], req.Text2[i] = conv.Prompt, conv.Response
		}
		body = req
	case OpenAIChat:
		conv := convs[0]
		msgs := conv.turns()
		if !conv.chat() {
			msgs = []Message{{Role: "user", Content: conv.Prompt}, {Role: "assistant", Content: conv.Response}}
		}
		// One token is all a reward endpoint emits; a chat model misconfigured as
		// the RM then fails loudly in decode instead of generating at length.
		body = chatRequest{Model: c.cfg.Model, Messages: msgs, MaxTokens: 1}
	case OpenRLHF:
		req := openRLHFRequest{Query: texts(), Prompts: make([]string, len(convs)), Labels: make([]string, len(convs))}
		for i, conv := range convs {
			req.Prompts[i] = conv.Prompt
		}
		body = req
	default:
		return nil, fmt.Errorf("protocol %q", c.cfg.Protocol)
	}
	return json.Marshal(body)
}

// decode reads n scores, in request order, from a server's answer.
func (c *Client) decode(raw []byte, n int) ([]float64, error) {
	switch c.cfg.Protocol {
	case VLLMPooling:
		return decodePooling(raw, n)
	case VLLMClassify:
		return decodeClassify(raw, n, c.cfg.ClassIndex)
	case VLLMScore:
		return decodeScore(raw, n)
	case OpenAIChat:
		if n != 1 {
			return nil, fmt.Errorf("chat answers one conversation, asked for %d", n)
		}
		s, err := decodeChat(raw, c.cfg.ScoreKey)
		if err != nil {
			return nil, err
		}
		return []float64{s}, nil
	case OpenRLHF:
		return decodeOpenRLHF(raw, n)
	}
	return nil, fmt.Errorf("protocol %q", c.cfg.Protocol)
}

// indexed places each entry's value at its "index", checking that the indexes
// cover 0..n-1 exactly once: a server that drops or repeats an entry must not
// shift scores onto the wrong responses.
func indexed[T any](data []T, n int, index func(T) *int, value func(T) (float64, error)) ([]float64, error) {
	if len(data) != n {
		return nil, fmt.Errorf("%d results for %d inputs", len(data), n)
	}
	out := make([]float64, n)
	seen := make([]bool, n)
	for k, d := range data {
		i := k
		if p := index(d); p != nil {
			i = *p
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("result index %d out of range [0,%d)", i, n)
		}
		if seen[i] {
			return nil, fmt.Errorf("result index %d appears twice", i)
		}
		seen[i] = true
		v, err := value(d)
		if err != nil {
			return nil, fmt.Errorf("result %d: %w", i, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("result %d: score is %v", i, v)
		}
		out[i] = v
	}
	return out, nil
}

type poolingData struct {
	Index *int            `json:"index"`
	Data  json.RawMessage `json:"data"`
}

func decodePooling(raw []byte, n int) ([]float64, error) {
	var resp struct {
		Data []poolingData `json:"data"`
	}
	if err := strictUnmarshal(raw, &resp); err != nil {
		return nil, err
	}
	return indexed(resp.Data, n, func(d poolingData) *int { return d.Index },
		func(d poolingData) (float64, error) { return poolingScore(d.Data) })
}

// poolingScore reads a sequence's reward from a pooler output: a number, a
// one-element vector (a sequence classifier's single logit), or one such
// vector per token (a reward model pooled over ALL tokens), where the
// sequence's reward is the last token's. A longer vector is an embedding or a
// multi-label head: there is no one score in it to pick.
func poolingScore(raw json.RawMessage) (float64, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("pooling data: %w", err)
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case []any:
		if len(x) == 0 {
			return 0, errors.New("pooling data is empty")
		}
		if len(x) == 1 {
			if f, ok := x[0].(float64); ok {
				return f, nil
			}
		}
		if last, ok := x[len(x)-1].([]any); ok {
			if len(last) != 1 {
				return 0, fmt.Errorf("per-token pooling data has %d values per token, want 1", len(last))
			}
			if f, ok := last[0].(float64); ok {
				return f, nil
			}
		}
		return 0, fmt.Errorf("pooling data has %d values, want one score per sequence (is this an embedding model?)", len(x))
	case nil:
		return 0, errors.New("pooling data is missing")
	}
	return 0, fmt.Errorf("pooling data is a %T, want a number or a vector", v)
}

type classifyData struct {
	Index      *int      `json:"index"`
	Label      string    `json:"label"`
	Probs      []float64 `json:"probs"`
	NumClasses int       `json:"num_classes"`
}

func decodeClassify(raw []byte, n, classIndex int) ([]float64, error) {
	var resp struct {
		Data []classifyData `json:"data"`
	}
	if err := strictUnmarshal(raw, &resp); err != nil {
		return nil, err
	}
	return indexed(resp.Data, n, func(d classifyData) *int { return d.Index }, func(d classifyData) (float64, error) {
		switch {
		case len(d.Probs) == 0:
			return 0, errors.New("no probs")
		case len(d.Probs) == 1:
			return d.Probs[0], nil
		case classIndex >= 0 && classIndex < len(d.Probs):
			return d.Probs[classIndex], nil
		}
		return 0, fmt.Errorf("%d classes and no class index configured to take the score from", len(d.Probs))
	})
}

type scoreData struct {
	Index *int     `json:"index"`
	Score *float64 `json:"score"`
}

func decodeScore(raw []byte, n int) ([]float64, error) {
	var resp struct {
		Data []scoreData `json:"data"`
	}
	if err := strictUnmarshal(raw, &resp); err != nil {
		return nil, err
	}
	return indexed(resp.Data, n, func(d scoreData) *int { return d.Index }, func(d scoreData) (float64, error) {
		if d.Score == nil {
			return 0, errors.New("no score")
		}
		return *d.Score, nil
	})
}

type chatResponse struct {
	Choices []struct {
		Message *struct {
			Content *string `json:"content"`
		} `json:"message"`
		Logprobs *struct {
			Content []struct {
				Token   string   `json:"token"`
				Logprob *float64 `json:"logprob"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
}

// decodeChat reads the score named key from a chat answer: from the logprobs
// first (they carry the full float), then from the text, "key:value" pairs
// separated by commas, or a bare number.
func decodeChat(raw []byte, key string) (float64, error) {
	var resp chatResponse
	if err := strictUnmarshal(raw, &resp); err != nil {
		return 0, err
	}
	if len(resp.Choices) == 0 {
		return 0, errors.New("no choices")
	}
	choice := resp.Choices[0]
	if choice.Logprobs != nil {
		for _, tok := range choice.Logprobs.Content {
			if tok.Token == key && tok.Logprob != nil && !math.IsNaN(*tok.Logprob) && !math.IsInf(*tok.Logprob, 0) {
				return *tok.Logprob, nil
			}
		}
	}
	if choice.Message == nil || choice.Message.Content == nil {
		return 0, errors.New("no message content and no score in logprobs")
	}
	return parseScoreText(*choice.Message.Content, key)
}

// parseScoreText reads "reward:-25.625", "helpfulness:3.1,correctness:2.9" (key
// picks one) or "-25.625".
func parseScoreText(text, key string) (float64, error) {
	text = strings.TrimSpace(text)
	if v, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return v, nil
	}
	for pair := range strings.SplitSeq(text, ",") {
		name, value, ok := strings.Cut(pair, ":")
		if !ok || strings.TrimSpace(name) != key {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%q: %s is not a number", short(text), key)
		}
		return v, nil
	}
	return 0, fmt.Errorf("answer %q has no %q score", short(text), key)
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func decodeOpenRLHF(raw []byte, n int) ([]float64, error) {
	var resp struct {
		Rewards []*float64 `json:"rewards"`
		Scores  []*float64 `json:"scores"`
	}
	if err := strictUnmarshal(raw, &resp); err != nil {
		return nil, err
	}
	// OpenRLHF reads "rewards"; some servers only answer "scores".
	values := resp.Rewards
	if values == nil {
		values = resp.Scores
	}
	if len(values) != n {
		return nil, fmt.Errorf("%d rewards for %d queries", len(values), n)
	}
	out := make([]float64, n)
	for i, v := range values {
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			return nil, fmt.Errorf("reward %d is not a number", i)
		}
		out[i] = *v
	}
	return out, nil
}

// strictUnmarshal decodes a server's JSON answer. Unknown fields are fine
// (servers add usage, ids...), but the body must be one JSON object.
func strictUnmarshal(raw []byte, v any) error {
	trimmed := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(trimmed, "{") {
		return fmt.Errorf("want a JSON object, got %q", short(trimmed))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}
