// Package judge asks an LLM, through an OpenAI-compatible chat completions
// endpoint, whether a predicted patch is equivalent to the ground-truth patch, and
// scores the answer as P(yes) / (P(yes) + P(no)) from the first token's top
// log-probabilities (Nemotron-Cascade's semantic SWE reward).
package judge

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// DefaultPrompt is the prompt used when Config.PromptPath is empty. It is a
// text/template with fields .Predicted and .Oracle (unified diffs).
//
//go:embed prompt.txt
var DefaultPrompt string

// Config configures a Client.
type Config struct {
	// Endpoint is the API base URL, e.g. http://vllm:8000/v1; requests go to
	// Endpoint + "/chat/completions".
	Endpoint string
	Model    string
	// APIKey is sent as a bearer token when not empty.
	APIKey string
	// PromptPath names a prompt template file; empty means DefaultPrompt.
	PromptPath string
	// Timeout bounds one HTTP attempt (default 60s); the caller's ctx bounds all.
	Timeout time.Duration
	// MaxRetries is how many times a 429, a 5xx or a network error is retried
	// (default 3), with exponential backoff from 250ms (or the server's
	// Retry-After, up to 10s).
	MaxRetries int
	// MaxConcurrency bounds the requests in flight to the endpoint (default 8).
	MaxConcurrency int
	// TopLogprobs is how many alternatives to ask for (default 20, OpenAI's max).
	TopLogprobs int
	HTTPClient  *http.Client
}

// Client scores patch pairs with the judge model. It is safe for concurrent use.
type Client struct {
	cfg    Config
	prompt *template.Template
	slots  chan struct{}
	http   *http.Client
}

// New checks cfg and loads the prompt.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("judge: no endpoint configured")
	}
	if cfg.Model == "" {
		return nil, errors.New("judge: no model configured")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	} else if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 8
	}
	if cfg.TopLogprobs <= 0 {
		cfg.TopLogprobs = 20
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	text := DefaultPrompt
	if cfg.PromptPath != "" {
		b, err := os.ReadFile(cfg.PromptPath)
		if err != nil {
			return nil, fmt.Errorf("judge: read prompt: %w", err)
		}
		text = string(b)
	}
	tmpl, err := template.New("prompt").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("judge: parse prompt template: %w", err)
	}
	// Render once now so a template that names a field we do not have fails at
	// start-up rather than on every item.
	if err := tmpl.Execute(io.Discard, promptData{}); err != nil {
		return nil, fmt.Errorf("judge: prompt template: %w", err)
	}
	return &Client{
		cfg:    cfg,
		prompt: tmpl,
		slots:  make(chan struct{}, cfg.MaxConcurrency),
		http:   cfg.HTTPClient,
	}, nil
}

type promptData struct{ Predicted, Oracle string }

// Prompt renders the prompt for a pair of patches.
func (c *Client) Prompt(predicted, oracle string) (string, error) {
	var b strings.Builder
	if err := c.prompt.Execute(&b, promptData{Predicted: predicted, Oracle: oracle}); err != nil {
		return "", fmt.Errorf("judge: render prompt: %w", err)
	}
	return b.String(), nil
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature float64       `json:"temperature"`
	Logprobs    bool          `json:"logprobs"`
	TopLogprobs int           `json:"top_logprobs"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type tokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

// chatResponse is the part of OpenAI's chat completion object we read.
type chatResponse struct {
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Logprobs *struct {
			Content []struct {
				tokenLogprob
				TopLogprobs []tokenLogprob `json:"top_logprobs"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
}

// Score asks the judge about one pair and returns P(yes)/(P(yes)+P(no)), or 1/0
// from the answer's text when the server returns no usable log-probabilities.
func (c *Client) Score(ctx context.Context, predicted, oracle string) (float64, error) {
	prompt, err := c.Prompt(predicted, oracle)
	if err != nil {
		return 0, reward.Errorf(reward.Internal, "%v", err)
	}
	body, err := json.Marshal(chatRequest{
		Model:       c.cfg.Model,
		Messages:    []chatMessage{{Role: "user", Content: prompt}},
		MaxTokens:   1,
		Logprobs:    true,
		TopLogprobs: c.cfg.TopLogprobs,
	})
	if err != nil {
		return 0, reward.Errorf(reward.Internal, "encode judge request: %v", err)
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return 0, reward.Errorf(reward.Timeout, "waiting for a judge slot: %v", ctx.Err())
	}
	resp, err := c.post(ctx, body)
	if err != nil {
		return 0, err
	}
	return scoreResponse(resp)
}

// retryable marks a failed attempt that may succeed if tried again.
type retryable struct {
	err   error
	after time.Duration // the server's Retry-After, if any
}

func (r *retryable) Error() string { return r.err.Error() }

func (c *Client) post(ctx context.Context, body []byte) (*chatResponse, error) {
	backoff := 250 * time.Millisecond
	var last error
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, body)
		if err == nil {
			return resp, nil
		}
		var retry *retryable
		if !errors.As(err, &retry) {
			return nil, err
		}
		last = retry.err
		if ctx.Err() != nil {
			return nil, reward.Errorf(reward.Timeout, "judge request: %v (last error: %v)", ctx.Err(), last)
		}
		if attempt >= c.cfg.MaxRetries {
			return nil, reward.Errorf(reward.Unavailable, "judge request failed after %d attempts: %v", attempt+1, last)
		}
		wait := backoff + rand.N(backoff/2)
		if retry.after > 0 {
			wait = min(retry.after, 10*time.Second)
		}
		backoff *= 2
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, reward.Errorf(reward.Timeout, "judge request: %v (last error: %v)", ctx.Err(), last)
		}
	}
}

func (c *Client) attempt(ctx context.Context, body []byte) (*chatResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	url := strings.TrimSuffix(c.cfg.Endpoint, "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, reward.Errorf(reward.Internal, "build judge request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &retryable{err: fmt.Errorf("post %s: %w", url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, &retryable{err: fmt.Errorf("read judge response: %w", err)}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, &retryable{
			err:   fmt.Errorf("judge answered %s: %s", resp.Status, snippet(data)),
			after: retryAfter(resp.Header.Get("Retry-After")),
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, reward.Errorf(reward.Unavailable, "judge answered %s: %s", resp.Status, snippet(data))
	}
	var out chatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, reward.Errorf(reward.Unavailable, "decode judge response: %v", err)
	}
	return &out, nil
}

func retryAfter(h string) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// normalize is how a token is read as an answer: case and surrounding
// whitespace do not matter (tokenizers emit "Yes", " yes", "YES", "\nNo").
func normalize(token string) string { return strings.ToLower(strings.TrimSpace(token)) }

func scoreResponse(resp *chatResponse) (float64, error) {
	if len(resp.Choices) == 0 {
		return 0, reward.Errorf(reward.Unavailable, "judge response has no choices")
	}
	choice := resp.Choices[0]
	if lp := choice.Logprobs; lp != nil && len(lp.Content) > 0 {
		first := lp.Content[0]
		candidates := first.TopLogprobs
		seen := false
		for _, t := range candidates {
			if t.Token == first.Token {
				seen = true
			}
		}
		if !seen && first.Token != "" {
			candidates = append(candidates, first.tokenLogprob)
		}
		var yes, no float64
		for _, t := range candidates {
			switch normalize(t.Token) {
			case "yes":
				yes += math.Exp(t.Logprob)
			case "no":
				no += math.Exp(t.Logprob)
			}
		}
		if yes+no > 0 && !math.IsNaN(yes+no) {
			return yes / (yes + no), nil
		}
	}
	// No log-probabilities (or none for yes/no): read the answer itself.
	answer := normalize(choice.Message.Content)
	word := strings.FieldsFunc(answer, func(r rune) bool { return !unicode.IsLetter(r) })
	if len(word) > 0 {
		switch word[0] {
		case "yes":
			return 1, nil
		case "no":
			return 0, nil
		}
	}
	return 0, reward.Errorf(reward.Unavailable, "judge answered %q, neither yes nor no", snippet([]byte(choice.Message.Content)))
}
