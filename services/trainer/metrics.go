package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	metricsFile = "metrics.jsonl"
	plotFile    = "reward.html"
)

// Metrics is one line of metrics.jsonl: one GRPO step.
type Metrics struct {
	Step           int     `json:"step"`
	MeanReward     float64 `json:"mean_reward"`
	GroupsKept     int     `json:"groups_kept"`
	GroupsFiltered int     `json:"groups_filtered"` // zero variance
	GroupsFailed   int     `json:"groups_failed"`   // a reward came back as an error
	StaleDropped   int     `json:"stale_dropped"`   // results of a policy older than the bound allows
	Duplicates     int     `json:"duplicates"`      // redelivered results already applied
	ResultsApplied int     `json:"results_applied"` // rewards that went into this step
	Tokens         int     `json:"tokens"`          // tokens sampled this step
	LossTokens     int     `json:"loss_tokens"`     // tokens of the kept groups: the loss averages over these
	TokensPerS     float64 `json:"tokens_per_s"`    // sampled tokens per second of the whole step
	Loss           float64 `json:"loss"`
	StepSeconds    float64 `json:"step_s"`
	RewardWaitS    float64 `json:"reward_wait_s"` // of StepSeconds, waiting on the mesh
	PolicyVersion  int     `json:"policy_version"`
	Backend        string  `json:"backend"`
	UnixMillis     int64   `json:"unix_ms"`
	// A cascade stage's prompt pool: the epoch this step's prompts came from (the
	// newest), and how many prompts dynamic filtering left out of that epoch.
	Epoch          int `json:"epoch,omitempty"`
	PromptsLeftOut int `json:"prompts_left_out,omitempty"`
	// TaskRewards is the mean reward per task, for a stage of more than one.
	TaskRewards map[string]float64 `json:"task_rewards,omitempty"`
}

// metricsLog appends lines to metrics.jsonl, synced before the checkpoint that
// follows, so a resumed run never shows a step twice or skips one.
type metricsLog struct {
	f *os.File
}

// openMetrics opens dir/metrics.jsonl keeping only the lines of steps before step
// (the checkpoint's): lines a killed run wrote past its last checkpoint are redone.
func openMetrics(dir string, step int) (*metricsLog, error) {
	path := filepath.Join(dir, metricsFile)
	var keep bytes.Buffer
	if step > 0 {
		lines, err := readMetrics(path)
		if err != nil {
			return nil, err
		}
		for _, m := range lines {
			if m.Step < step {
				b, _ := json.Marshal(m)
				keep.Write(append(b, '\n'))
			}
		}
	}
	if err := writeAtomic(path, keep.Bytes()); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open metrics: %w", err)
	}
	return &metricsLog{f: f}, nil
}

func (l *metricsLog) append(m Metrics) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metrics: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return l.f.Sync()
}

func (l *metricsLog) Close() error { return l.f.Close() }

// readMetrics reads a metrics.jsonl; a missing file is no lines. A torn last line
// (a crash mid-write) is ignored.
func readMetrics(path string) ([]Metrics, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer f.Close()
	return parseMetrics(f)
}

func parseMetrics(r io.Reader) ([]Metrics, error) {
	var out []Metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m Metrics
		if err := json.Unmarshal(line, &m); err != nil {
			continue
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// writePlot writes the reward curve as a self-contained HTML page with an inline SVG:
// the per-step mean reward and its 50-step moving average.
func writePlot(dir string, lines []Metrics, title string) error {
	return writeAtomic(filepath.Join(dir, plotFile), []byte(plotHTML(lines, title)))
}

func plotHTML(lines []Metrics, title string) string {
	const w, h, pad = 800.0, 360.0, 40.0
	var raw, avg strings.Builder
	maxStep := 1
	for _, m := range lines {
		maxStep = max(maxStep, m.Step)
	}
	x := func(step int) float64 { return pad + (w-2*pad)*float64(step)/float64(maxStep) }
	y := func(r float64) float64 { return h - pad - (h-2*pad)*min(max(r, 0), 1) }
	var window []float64
	var sum float64
	for _, m := range lines {
		fmt.Fprintf(&raw, "%.1f,%.1f ", x(m.Step), y(m.MeanReward))
		window = append(window, m.MeanReward)
		sum += m.MeanReward
		if len(window) > 50 {
			sum -= window[0]
			window = window[1:]
		}
		fmt.Fprintf(&avg, "%.1f,%.1f ", x(m.Step), y(sum/float64(len(window))))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title></head><body>
<h3>%s</h3>
<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>
`, html.EscapeString(title), html.EscapeString(title), w, h, w, h)
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="4" y="%.1f">%.2f</text>
`, pad, y(r), w-pad, y(r), y(r)+4, r)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">step %d</text>
<polyline fill="none" stroke="#9cc3e6" stroke-width="1" points="%s"/>
<polyline fill="none" stroke="#1f5f9f" stroke-width="2" points="%s"/>
<text x="%.1f" y="16" fill="#1f5f9f">mean reward per step (light), 50-step moving average (dark)</text>
</svg></body></html>
`, w-pad, h-pad+16, maxStep, raw.String(), avg.String(), pad)
	return b.String()
}
