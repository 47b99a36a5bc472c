package rm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Protocol names how a reward model server is spoken to.
type Protocol string

const (
	// VLLMPooling is vLLM's /pooling: the raw output of the model's pooler, which
	// for a Bradley-Terry reward model is the reward logit itself.
	VLLMPooling Protocol = "vllm-pooling"
	// VLLMClassify is vLLM's /classify: the class probabilities of a
	// *ForSequenceClassification model (a sigmoid of the logit for one label,
	// unless RawLogits asks vLLM to skip the activation).
	VLLMClassify Protocol = "vllm-classify"
	// VLLMScore is vLLM's /score: text_1 (the prompt) and text_2 (the response)
	// scored as a pair, as a cross-encoder would.
	VLLMScore Protocol = "vllm-score"
	// OpenAIChat is an OpenAI-compatible chat completions endpoint that answers a
	// conversation ending in the assistant's turn with its reward, as NVIDIA's
	// hosted Nemotron reward models do ("reward:-25.625", and the same value as the
	// logprob of the token "reward").
	OpenAIChat Protocol = "openai-chat"
	// OpenRLHF is OpenRLHF's remote reward model protocol (--remote_rm_url):
	// {"query":[...],"prompts":[...]} answered with {"rewards":[...]}.
	OpenRLHF Protocol = "openrlhf"
)

// Protocols lists every protocol the client speaks.
var Protocols = []Protocol{VLLMPooling, VLLMClassify, VLLMScore, OpenAIChat, OpenRLHF}

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Conversation is what the reward model scores: a response to a prompt. With
// Messages the server applies the model's chat template (the response is
// appended as the assistant's turn); otherwise Prompt is the text before the
// response, already formatted as the model expects, and the two are joined
// as they are.
type Conversation struct {
	Messages []Message
	Prompt   string
	Response string
}

func (c Conversation) chat() bool { return c.Messages != nil }

// turns is the conversation with the response as its final assistant turn.
func (c Conversation) turns() []Message {
	out := make([]Message, 0, len(c.Messages)+1)
	out = append(out, c.Messages...)
	return append(out, Message{Role: "assistant", Content: c.Response})
}

// Scored is the reward model's answer for one conversation: a score, or why
// there is none.
type Scored struct {
	Score float64
	Err   *reward.Error
}

// ClientConfig describes a reward model server and how hard to press it.
type ClientConfig struct {
	URL      string   // base URL (http://host:8000), or the full URL of the endpoint
	Protocol Protocol // how to speak to it
	Model    string   // the served model's name; empty lets the server choose
	APIKey   string   // sent as "Authorization: Bearer"; empty sends none
	// BatchSize bounds the conversations one HTTP request carries, where the
	// protocol takes several (chat-formatted ones always go one per request).
	BatchSize int
	// Concurrency bounds the HTTP requests in flight to the server at once,
	// across every caller of the client.
	Concurrency int
	Timeout     time.Duration // one HTTP attempt
	Retries     int           // further attempts after a 429, 5xx, timeout or connection error
	Backoff     time.Duration // wait before the first retry; doubles each time, with jitter
	MaxBackoff  time.Duration // cap on one wait (also on a server's Retry-After)
	// RawLogits asks vLLM for the pooler output before its activation
	// ("use_activation": false, vLLM ≥ 0.11), so a Bradley-Terry model's score
	// is its logit rather than a sigmoid of it.
	RawLogits bool
	// PoolingTask is sent as /pooling's "task" when set ("classify" for a
	// *ForSequenceClassification reward model, "token_classify" for per-token
	// rewards); empty leaves the choice to the server.
	PoolingTask string
	// ClassIndex picks the class whose probability is the score when /classify
	// answers several; -1 accepts only a single-class model.
	ClassIndex int
	// ScoreKey is the name of the score in an OpenAI chat answer ("reward").
	ScoreKey   string
	HTTPClient *http.Client
}

// Defaults for a ClientConfig's zero fields.
const (
	DefaultBatchSize   = 32
	DefaultConcurrency = 8
	DefaultTimeout     = 60 * time.Second
	DefaultRetries     = 3
	DefaultBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	// maxResponseBytes bounds what is read of one server answer.
	maxResponseBytes = 64 << 20
)

// Client scores conversations with a reward model served elsewhere.
type Client struct {
	cfg      ClientConfig
	endpoint string
	http     *http.Client
	slots    chan struct{}
}

// NewClient checks cfg and returns a client for it.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.ScoreKey == "" {
		cfg.ScoreKey = "reward"
	}
	if cfg.HTTPClient == nil {
		// Keep a warm connection per request slot; the default keeps two per host,
		// and the rest would be opened and closed for every batch.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = cfg.Concurrency
		cfg.HTTPClient = &http.Client{Transport: transport}
	}
	endpoint, err := endpointURL(cfg.URL, cfg.Protocol)
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg:      cfg,
		endpoint: endpoint,
		http:     cfg.HTTPClient,
		slots:    make(chan struct{}, cfg.Concurrency),
	}, nil
}

// TakesChat reports whether the protocol can send chat messages for the
// server to format.
func (c *Client) TakesChat() bool {
	return c.cfg.Protocol != VLLMScore && c.cfg.Protocol != OpenRLHF
}

// Endpoint is the URL the client posts to.
func (c *Client) Endpoint() string { return c.endpoint }

// endpointURL appends the protocol's path to a base URL. A URL that already
// names a path is used as it is, so a server mounted elsewhere still works;
// an OpenAI base ending in /v1 (as OpenAI clients are configured) gets
// /chat/completions.
func endpointURL(raw string, p Protocol) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("reward model URL %q: want http(s)://host[:port][/path]", raw)
	}
	var path string
	switch p {
	case VLLMPooling:
		path = "/pooling"
	case VLLMClassify:
		path = "/classify"
	case VLLMScore:
		path = "/score"
	case OpenAIChat:
		path = "/v1/chat/completions"
	case OpenRLHF:
		path = "/get_reward"
	default:
		return "", fmt.Errorf("reward model protocol %q: want one of %v", p, Protocols)
	}
	trimmed := strings.TrimRight(u.Path, "/")
	switch {
	case trimmed == "":
		u.Path = path
	case p == OpenAIChat && strings.HasSuffix(trimmed, "/v1"):
		u.Path = trimmed + "/chat/completions"
	}
	return u.String(), nil
}

// Score scores every conversation, in order. A failure is the conversation's
// own (in its Scored.Err); nothing here fails the whole call.
func (c *Client) Score(ctx context.Context, convs []Conversation) []Scored {
	out := make([]Scored, len(convs))
	var wg sync.WaitGroup
	for _, batch := range c.plan(convs, out) {
		wg.Go(func() { c.scoreBatch(ctx, convs, batch, out) })
	}
	wg.Wait()
	return out
}

// plan groups conversation indexes into HTTP requests. Conversations the
// protocol cannot carry get their error in out at once.
func (c *Client) plan(convs []Conversation, out []Scored) [][]int {
	var batches [][]int
	var text []int
	for i, conv := range convs {
		switch {
		case conv.chat() && !c.TakesChat():
			out[i].Err = reward.Errorf(reward.Invalid,
				"the %s protocol takes text, not chat messages: send a formatted prompt, or serve the model with vllm-pooling/vllm-classify/openai-chat", c.cfg.Protocol)
		case conv.chat() || c.cfg.Protocol == OpenAIChat:
			// A chat request carries one conversation in vLLM's and OpenAI's APIs
			// (a chat endpoint makes a prompt its user turn).
			batches = append(batches, []int{i})
		default:
			text = append(text, i)
		}
	}
	for len(text) > 0 {
		n := min(c.cfg.BatchSize, len(text))
		batches = append(batches, text[:n:n])
		text = text[n:]
	}
	return batches
}

// scoreBatch sends one request and writes its answers into out. When the server
// rejects a batch of several as bad input, each conversation is sent alone, so
// one over-long response fails only itself.
func (c *Client) scoreBatch(ctx context.Context, convs []Conversation, batch []int, out []Scored) {
	picked := make([]Conversation, len(batch))
	for k, i := range batch {
		picked[k] = convs[i]
	}
	scores, err := c.send(ctx, picked)
	if err != nil {
		var rej *rejectedError
		if errors.As(err, &rej) && len(batch) > 1 {
			var wg sync.WaitGroup
			for _, i := range batch {
				wg.Go(func() { c.scoreBatch(ctx, convs, []int{i}, out) })
			}
			wg.Wait()
			return
		}
		e := asItemError(err)
		for _, i := range batch {
			out[i].Err = e
		}
		return
	}
	for k, i := range batch {
		out[i].Score = scores[k]
	}
}

// send makes one request (with retries) for convs and decodes one score each.
func (c *Client) send(ctx context.Context, convs []Conversation) ([]float64, error) {
	body, err := c.encode(convs)
	if err != nil {
		return nil, err
	}
	raw, err := c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	scores, err := c.decode(raw, len(convs))
	if err != nil {
		return nil, &malformedError{err: err}
	}
	return scores, nil
}

// post sends body with bounded concurrency, a deadline per attempt and
// exponential backoff between attempts.
func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.slots }()

	var last error
	for attempt := 0; ; attempt++ {
		raw, retryAfter, err := c.attempt(ctx, body)
		if err == nil {
			return raw, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) || attempt >= c.cfg.Retries {
			return nil, &exhaustedError{err: last, attempts: attempt + 1, endpoint: c.endpoint}
		}
		wait := c.backoff(attempt, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would outlive the caller: report what the server said.
			return nil, &exhaustedError{err: last, attempts: attempt + 1, endpoint: c.endpoint}
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
	}
}

// backoff is the wait before retry attempt+1: full jitter over an exponential
// ceiling (so replicas that failed together do not retry together), or the
// server's Retry-After when it gave one, both capped at MaxBackoff.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.cfg.MaxBackoff)
	}
	ceiling := c.cfg.Backoff << min(attempt, 20)
	if ceiling <= 0 || ceiling > c.cfg.MaxBackoff {
		ceiling = c.cfg.MaxBackoff
	}
	return ceiling/2 + rand.N(ceiling/2+1)
}

// attempt is one HTTP exchange under the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, body []byte) ([]byte, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return nil, 0, &attemptTimeoutError{after: c.cfg.Timeout}
		}
		return nil, 0, &connError{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return nil, 0, &attemptTimeoutError{after: c.cfg.Timeout}
		}
		return nil, 0, &connError{err: fmt.Errorf("read response: %w", err)}
	}
	if len(raw) > maxResponseBytes {
		return nil, 0, &malformedError{err: fmt.Errorf("response larger than %d bytes", maxResponseBytes)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, retryAfter(resp.Header.Get("Retry-After")), &statusError{code: resp.StatusCode, body: snippet(raw)}
	}
	return raw, 0, nil
}

// retryAfter reads a Retry-After header given in seconds; dates are rare from
// model servers and are ignored.
func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

func snippet(raw []byte) string {
	const limit = 300
	s := strings.TrimSpace(string(raw))
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// The ways one request can fail, each mapped to the code a client sees by
// asItemError.
type (
	connError           struct{ err error }
	attemptTimeoutError struct{ after time.Duration }
	statusError         struct {
		code int
		body string
	}
	malformedError struct{ err error }
	// rejectedError is a 4xx on a batch: the input, not the server, is at fault.
	rejectedError  struct{ status *statusError }
	exhaustedError struct {
		err      error
		attempts int
		endpoint string
	}
)

func (e *connError) Error() string { return "connect: " + e.err.Error() }
func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("no answer within %s", e.after)
}
func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
}
func (e *malformedError) Error() string { return "malformed response: " + e.err.Error() }
func (e *rejectedError) Error() string  { return e.status.Error() }
func (e *exhaustedError) Error() string {
	return fmt.Sprintf("%s after %d attempt(s): %v", e.endpoint, e.attempts, e.err)
}
func (e *exhaustedError) Unwrap() error {
	var s *statusError
	if errors.As(e.err, &s) && rejects(s.code) {
		return &rejectedError{status: s}
	}
	return e.err
}

// rejects reports whether a status says the input itself was refused.
func rejects(code int) bool { return code == 400 || code == 413 || code == 422 }

func retryable(err error) bool {
	var s *statusError
	if errors.As(err, &s) {
		return s.code == http.StatusTooManyRequests || s.code == http.StatusRequestTimeout || s.code >= 500
	}
	var c *connError
	var t *attemptTimeoutError
	return errors.As(err, &c) || errors.As(err, &t)
}

// asItemError turns a request's failure into what each of its items reports.
func asItemError(err error) *reward.Error {
	var ex *exhaustedError
	var s *statusError
	var conn *connError
	var t *attemptTimeoutError
	var m *malformedError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return reward.Errorf(reward.Timeout, "reward model: the request's deadline passed before the server answered")
	case errors.Is(err, context.Canceled):
		return reward.Errorf(reward.Timeout, "reward model: the request was canceled")
	case errors.As(err, &m):
		return reward.Errorf(reward.Internal, "reward model server sent a malformed response: %v", m.err)
	case errors.As(err, &ex) && errors.As(ex.err, &t):
		return reward.Errorf(reward.Timeout, "reward model server %v", ex)
	case errors.As(err, &ex) && errors.As(ex.err, &conn):
		return reward.Errorf(reward.Unavailable, "reward model server is down or unreachable: %v", ex)
	case errors.As(err, &ex) && errors.As(ex.err, &s):
		switch {
		case s.code == http.StatusTooManyRequests:
			return reward.Errorf(reward.Busy, "reward model server is overloaded: %v", ex)
		case rejects(s.code):
			return reward.Errorf(reward.Invalid, "reward model server rejected the input: %v", ex)
		case s.code == http.StatusUnauthorized || s.code == http.StatusForbidden:
			return reward.Errorf(reward.Unavailable, "reward model server refused our credentials (check the API key): %v", ex)
		case s.code == http.StatusNotFound || s.code == http.StatusMethodNotAllowed:
			return reward.Errorf(reward.Unavailable, "reward model server has no such endpoint (check the URL and protocol): %v", ex)
		default:
			return reward.Errorf(reward.Unavailable, "reward model server failed: %v", ex)
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return reward.Errorf(reward.Unavailable, "reward model server is unreachable: %v", err)
	}
	return reward.Errorf(reward.Internal, "reward model: %v", err)
}
