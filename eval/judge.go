// Package eval runs whole code benchmarks against the sandbox's judge:
// LiveCodeBench (its own problem and generation files in, its eval files out)
// and Codeforces-style batches. A run is resumable: every verdict is appended to
// a cache in the output folder, and a rerun judges only what is missing.
package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Judge sends a batch of /v1/code/judge items and returns their results in order.
type Judge interface {
	Judge(ctx context.Context, items []JudgeItem) ([]JudgeResult, error)
}

// Checker is a special judge program: `checker input output answer`, testlib's
// exit codes.
type Checker struct {
	Language string `json:"language"`
	Source   string `json:"source"`
}

// JudgeItem is one item of POST /v1/code/judge (API.md). Tests is the encoded
// list of {"input","output"}, shared by every item of a problem so that a
// problem's tests are encoded once however many samples it has.
type JudgeItem struct {
	ID            json.RawMessage `json:"id,omitempty"`
	Language      string          `json:"language"`
	Source        string          `json:"source"`
	Tests         json.RawMessage `json:"tests"`
	Mode          string          `json:"mode,omitempty"`
	FnName        string          `json:"fn_name,omitempty"`
	TimeLimitMS   int             `json:"time_limit_ms,omitempty"`
	MemoryLimitMB int             `json:"memory_limit_mb,omitempty"`
	Compare       string          `json:"compare,omitempty"`
	Checker       *Checker        `json:"checker,omitempty"`
	StopOnFail    bool            `json:"stop_on_fail,omitempty"`
	// Subtasks group tests IOI's way (every test then runs); Files go beside
	// the program (an IOI grader and its header).
	Subtasks []Subtask         `json:"subtasks,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
}

// Subtask and SubtaskResult are the sandbox's and eval's one type (shared/reward).
type (
	Subtask       = reward.Subtask
	SubtaskResult = reward.SubtaskResult
)

// TestResult is the judge's verdict on one test.
type TestResult struct {
	Verdict  reward.Verdict `json:"verdict"`
	TimeMS   float64        `json:"time_ms"`
	MemoryKB float64        `json:"memory_kb"`
	// Score is a points checker's share (verdict PA); absent otherwise.
	Score *float64 `json:"score,omitempty"`
}

// JudgeResult is one result of POST /v1/code/judge (API.md).
type JudgeResult struct {
	ID            json.RawMessage `json:"id,omitempty"`
	Verdict       reward.Verdict  `json:"verdict"`
	Passed        int             `json:"passed"`
	Total         int             `json:"total"`
	Tests         []TestResult    `json:"tests"`
	CompileOutput string          `json:"compile_output,omitempty"`
	Subtasks      []SubtaskResult `json:"subtasks,omitempty"`
	Error         *reward.Error   `json:"error,omitempty"`
}

// Retryable reports whether an item failed for a reason that may pass: the
// sandbox was busy, away or slow, not the item being wrong.
func (r *JudgeResult) Retryable() bool {
	if r.Error == nil {
		return false
	}
	switch r.Error.Code {
	case reward.Busy, reward.Unavailable, reward.Timeout:
		return true
	}
	return false
}

// Limits bound what one judge request carries; a larger batch is split.
type Limits struct {
	MaxItems int // items per request
	MaxBytes int // encoded body size per request (one item larger goes alone)
}

var defaultLimits = Limits{MaxItems: 16, MaxBytes: 8 << 20}

// Backoff is how a judge retries a request the far side turned away as busy or
// unavailable: exponential from Min to Max, with jitter, at most Attempts tries.
type Backoff struct {
	Attempts int
	Min, Max time.Duration
}

var defaultBackoff = Backoff{Attempts: 10, Min: 200 * time.Millisecond, Max: 15 * time.Second}

func (b Backoff) delay(attempt int) time.Duration {
	d := b.Min << min(attempt, 20)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	// Full jitter keeps many evaluators from retrying in step.
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// encodeBatches encodes items as {"items":[...]} bodies within limits, and the
// item count of each body.
func encodeBatches(items []JudgeItem, lim Limits) ([][]byte, []int, error) {
	var bodies [][]byte
	var counts []int
	var cur bytes.Buffer
	n := 0
	flush := func() {
		if n == 0 {
			return
		}
		cur.WriteString("]}")
		bodies = append(bodies, bytes.Clone(cur.Bytes()))
		counts = append(counts, n)
		cur.Reset()
		n = 0
	}
	for i := range items {
		enc, err := json.Marshal(&items[i])
		if err != nil {
			return nil, nil, fmt.Errorf("encode judge item %d: %w", i, err)
		}
		if n > 0 && (n >= lim.MaxItems || cur.Len()+len(enc)+2 > lim.MaxBytes) {
			flush()
		}
		if n == 0 {
			cur.WriteString(`{"items":[`)
		} else {
			cur.WriteByte(',')
		}
		cur.Write(enc)
		n++
	}
	flush()
	return bodies, counts, nil
}

func decodeResults(body []byte, want int) ([]JudgeResult, error) {
	var resp struct {
		Results []JudgeResult `json:"results"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode judge response: %w", err)
	}
	if len(resp.Results) != want {
		return nil, fmt.Errorf("judge answered %d results for %d items", len(resp.Results), want)
	}
	return resp.Results, nil
}

// HTTPJudge calls a rewardmesh gateway's POST /v1/code/judge.
type HTTPJudge struct {
	URL     string // the gateway's base URL
	Client  *http.Client
	Limits  Limits
	Backoff Backoff
	// Timeout bounds one request when ctx has no deadline of its own.
	Timeout time.Duration
}

// NewHTTPJudge returns a judge for the gateway at baseURL.
func NewHTTPJudge(baseURL string) *HTTPJudge {
	return &HTTPJudge{
		URL:     strings.TrimRight(baseURL, "/"),
		Client:  &http.Client{},
		Limits:  defaultLimits,
		Backoff: defaultBackoff,
		Timeout: 30 * time.Minute,
	}
}

// Judge implements Judge.
func (j *HTTPJudge) Judge(ctx context.Context, items []JudgeItem) ([]JudgeResult, error) {
	return judgeBatches(ctx, items, j.Limits, j.post)
}

// judgeBatches splits items into request bodies within lim and sends them one
// after another, so that the results come back in the items' order; send
// answers one body holding n items.
func judgeBatches(ctx context.Context, items []JudgeItem, lim Limits, send func(ctx context.Context, body []byte, n int) ([]JudgeResult, error)) ([]JudgeResult, error) {
	bodies, counts, err := encodeBatches(items, lim)
	if err != nil {
		return nil, err
	}
	out := make([]JudgeResult, 0, len(items))
	for i, body := range bodies {
		res, err := send(ctx, body, counts[i])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (j *HTTPJudge) post(ctx context.Context, body []byte, n int) ([]JudgeResult, error) {
	url := j.URL + "/v1/code/judge"
	var lastErr error
	for attempt := 0; attempt < max(j.Backoff.Attempts, 1); attempt++ {
		if attempt > 0 {
			wait := j.Backoff.delay(attempt - 1)
			var ra *retryAfter
			if errors.As(lastErr, &ra) && ra.d > wait {
				wait = min(ra.d, j.Backoff.Max)
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("judge via %s: %w (last: %v)", url, err, lastErr)
			}
		}
		res, retry, err := j.once(ctx, url, body, n)
		if err == nil {
			return res, nil
		}
		if !retry {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("judge via %s: gave up after %d tries: %w", url, j.Backoff.Attempts, lastErr)
}

type retryAfter struct {
	d   time.Duration
	err error
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

func (j *HTTPJudge) once(ctx context.Context, url string, body []byte, n int) (_ []JudgeResult, retry bool, _ error) {
	if _, ok := ctx.Deadline(); !ok && j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("build judge request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := j.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// A refused or reset connection is a gateway restarting; a canceled
		// context is the caller's and final.
		return nil, ctx.Err() == nil, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("read judge response: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		res, err := decodeResults(data, n)
		return res, false, err
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		err := fmt.Errorf("POST %s: %s: %s", url, resp.Status, apiMessage(data))
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return nil, true, &retryAfter{d: time.Duration(s) * time.Second, err: err}
		}
		return nil, true, err
	default:
		return nil, false, fmt.Errorf("POST %s: %s: %s", url, resp.Status, apiMessage(data))
	}
}

// apiMessage pulls the message out of an API error body, or shows the body.
func apiMessage(body []byte) string {
	var e struct {
		Error reward.Error `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Error()
	}
	if len(body) > 300 {
		body = body[:300]
	}
	return strings.TrimSpace(string(body))
}

// MeshJudge calls the sandbox's judge operation over NATS
// (rewardmesh.sandbox.v1.judge).
type MeshJudge struct {
	Client  *mesh.Client
	Limits  Limits
	Backoff Backoff
	// Timeout bounds one call when ctx has no deadline of its own.
	Timeout time.Duration
}

// NewMeshJudge returns a judge that calls the sandbox service over nc.
func NewMeshJudge(nc *nats.Conn) *MeshJudge {
	return &MeshJudge{Client: mesh.NewClient(nc), Limits: defaultLimits, Backoff: defaultBackoff, Timeout: 30 * time.Minute}
}

// Judge implements Judge.
func (j *MeshJudge) Judge(ctx context.Context, items []JudgeItem) ([]JudgeResult, error) {
	return judgeBatches(ctx, items, j.Limits, j.call)
}

func (j *MeshJudge) call(ctx context.Context, body []byte, n int) ([]JudgeResult, error) {
	var lastErr error
	for attempt := 0; attempt < max(j.Backoff.Attempts, 1); attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, j.Backoff.delay(attempt-1)); err != nil {
				return nil, fmt.Errorf("judge via mesh: %w (last: %v)", err, lastErr)
			}
		}
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if _, ok := ctx.Deadline(); !ok && j.Timeout > 0 {
			callCtx, cancel = context.WithTimeout(ctx, j.Timeout)
		}
		resp, err := j.Client.Call(callCtx, "sandbox", "judge", body)
		cancel()
		if err == nil {
			return decodeResults(resp, n)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("judge via mesh: %w", err)
		}
		switch reward.AsError(err).Code {
		case reward.Busy, reward.Unavailable:
			lastErr = err
			continue
		}
		return nil, fmt.Errorf("judge via mesh: %w", err)
	}
	return nil, fmt.Errorf("judge via mesh: gave up after %d tries: %w", j.Backoff.Attempts, lastErr)
}
