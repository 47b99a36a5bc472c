// Package judge asks a language model, behind an OpenAI-compatible chat
// completions endpoint (vLLM, SGLang, a hosted API), whether a model's final
// answer to a math problem is the reference answer in other clothes: TinyV's
// question (the problem, the ground truth, the answer), read as True/False or
// yes/no from the first token's log-probabilities, or from the text when the
// server gives none.
package judge

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
)

// DefaultPrompt is the prompt when Config.Prompt is empty: a text/template
// with .Question (may be empty), .Gold and .Answer.
//
//go:embed prompt.txt
var DefaultPrompt string

// Defaults for Config's zero values.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 8
	DefaultThreshold   = 0.5
	DefaultMaxTokens   = 1
	memoSize           = 4096
)

// Config configures a Client.
type Config struct {
	// URL is the API base (http://vllm:8000/v1); requests go to URL + "/chat/completions".
	URL   string
	Model string
	// APIKey is sent as a bearer token when not empty.
	APIKey string
	// Prompt is a template replacing DefaultPrompt (the text, not a file name).
	Prompt string
	// Timeout bounds one request (DefaultTimeout when 0).
	Timeout time.Duration
	// Retries is how many times a 429, a 5xx or a network error is tried again
	// (0: none), within the caller's deadline.
	Retries int
	// Concurrency bounds the requests in flight (DefaultConcurrency when 0).
	Concurrency int
	// Threshold is the P(yes) above which an answer is correct (DefaultThreshold when 0).
	Threshold float64
	// MaxTokens the judge may write (DefaultMaxTokens when 0: the verdict's
	// first token); a thinking judge needs more, and is read after </think>.
	MaxTokens  int
	HTTPClient *http.Client
}

// Query is what the judge is shown.
type Query struct {
	Question string // may be empty
	Gold     string // the reference answer
	Answer   string // the model's final answer, as extracted
}

// Verdict is the judge's answer: P(yes) and whether it clears the threshold.
type Verdict struct {
	Correct bool
	PYes    float64
}

// Client asks the judge. It is safe for concurrent use, and remembers recent
// verdicts so that the same answer is not asked about twice.
type Client struct {
	cfg    Config
	prompt *template.Template
	slots  chan struct{}

	mu   sync.Mutex
	memo map[Query]Verdict
}

// New checks cfg and loads the prompt.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" || cfg.Model == "" {
		return nil, errors.New("math judge: a URL and a model are both needed")
	}
	cfg.Timeout = orPositive(cfg.Timeout, DefaultTimeout)
	cfg.Concurrency = orPositive(cfg.Concurrency, DefaultConcurrency)
	cfg.Threshold = orPositive(cfg.Threshold, DefaultThreshold)
	cfg.MaxTokens = orPositive(cfg.MaxTokens, DefaultMaxTokens)
	if cfg.HTTPClient == nil {
		// Keep a connection per request in flight, not net/http's default two.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency
		cfg.HTTPClient = &http.Client{Transport: t}
	}
	tmpl, err := template.New("prompt").Option("missingkey=error").Parse(cmp.Or(cfg.Prompt, DefaultPrompt))
	if err == nil {
		err = tmpl.Execute(io.Discard, Query{}) // a field we do not have fails now, not per item
	}
	if err != nil {
		return nil, fmt.Errorf("math judge: prompt template: %w", err)
	}
	return &Client{cfg: cfg, prompt: tmpl, slots: make(chan struct{}, cfg.Concurrency), memo: map[Query]Verdict{}}, nil
}

// orPositive is v, or def when v is not positive.
func orPositive[T int | float64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Model is the judge's model name, which every verdict depends on.
func (c *Client) Model() string { return c.cfg.Model }

// Prompt renders the prompt for q.
func (c *Client) Prompt(q Query) (string, error) {
	var b strings.Builder
	if err := c.prompt.Execute(&b, q); err != nil {
		return "", fmt.Errorf("render judge prompt: %w", err)
	}
	return b.String(), nil
}

// Judge asks about one answer.
func (c *Client) Judge(ctx context.Context, q Query) (Verdict, error) {
	c.mu.Lock()
	v, ok := c.memo[q]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	prompt, err := c.Prompt(q)
	if err != nil {
		return Verdict{}, err
	}
	body, err := json.Marshal(map[string]any{
		"model":        c.cfg.Model,
		"messages":     []map[string]string{{"role": "user", "content": prompt}},
		"max_tokens":   c.cfg.MaxTokens,
		"temperature":  0,
		"logprobs":     true,
		"top_logprobs": 20,
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("encode judge request: %w", err)
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return Verdict{}, fmt.Errorf("waiting for a judge slot: %w", ctx.Err())
	}
	var resp completion
	for try := 0; ; try++ {
		again, err := c.ask(ctx, body, &resp)
		if err == nil {
			break
		}
		if !again || try >= c.cfg.Retries || ctx.Err() != nil {
			return Verdict{}, err
		}
		select {
		case <-time.After(time.Duration(100<<min(try, 6)) * time.Millisecond):
		case <-ctx.Done():
			return Verdict{}, fmt.Errorf("%w (then %w)", err, ctx.Err())
		}
	}
	pYes, err := resp.pYes()
	if err != nil {
		return Verdict{}, err
	}
	v = Verdict{Correct: pYes > c.cfg.Threshold, PYes: pYes}
	c.mu.Lock()
	if len(c.memo) >= memoSize {
		for k := range c.memo { // forget one at random
			delete(c.memo, k)
			break
		}
	}
	c.memo[q] = v
	c.mu.Unlock()
	return v, nil
}

// ask makes one request; again says whether a failure may pass if tried again.
func (c *Client) ask(ctx context.Context, body []byte, out *completion) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	url := strings.TrimSuffix(c.cfg.URL, "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("judge request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return true, fmt.Errorf("judge unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return true, fmt.Errorf("read judge answer: %w", err)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("judge answered %s: %.200s", resp.Status, data)
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("judge answered %s: %.200s", resp.Status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("judge answer is not a chat completion: %w", err)
	}
	return false, nil
}

// logprob is one candidate token of OpenAI's logprobs.
type logprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

// completion is what is read of a chat completion.
type completion struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Logprobs *struct {
			Content []struct {
				logprob
				Top []logprob `json:"top_logprobs"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
}

// vote reads a token or word as a verdict: 1 yes, -1 no, 0 neither.
func vote(token string) int {
	switch strings.ToLower(strings.Trim(token, " \t\n\r\"'.*:")) {
	case "true", "yes", "correct":
		return 1
	case "false", "no", "incorrect":
		return -1
	}
	return 0
}

// pYes is P(yes) / (P(yes) + P(no)) over the first non-blank token's
// candidates, or 1 or 0 from the text (after </think>) when those hold no verdict.
func (r *completion) pYes() (float64, error) {
	if len(r.Choices) == 0 {
		return 0, errors.New("judge answered no choices")
	}
	choice := r.Choices[0]
	if lp := choice.Logprobs; lp != nil {
		for _, tok := range lp.Content {
			if strings.TrimSpace(tok.Token) == "" {
				continue
			}
			var yes, no float64
			cands := tok.Top
			if !slices.ContainsFunc(cands, func(t logprob) bool { return t.Token == tok.Token }) {
				cands = append(cands, tok.logprob) // the chosen token, outside the top list
			}
			for _, t := range cands {
				switch vote(t.Token) {
				case 1:
					yes += math.Exp(t.Logprob)
				case -1:
					no += math.Exp(t.Logprob)
				}
			}
			if p := yes / (yes + no); p >= 0 && p <= 1 { // not NaN: there were votes, and finite ones
				return p, nil
			}
			break
		}
	}
	text := choice.Message.Content
	if _, after, ok := strings.Cut(text, "</think>"); ok {
		text = after
	}
	if fields := strings.Fields(text); len(fields) > 0 {
		switch vote(fields[0]) {
		case 1:
			return 1, nil
		case -1:
			return 0, nil
		}
	}
	return 0, fmt.Errorf("judge answered %.80q, neither true nor false", choice.Message.Content)
}
