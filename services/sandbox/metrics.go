package sandbox

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stages of a submission, in the order it meets them. A run (one program, one
// stdin: what /run_code sends per test) passes through queue, acquire, write,
// compile (C++), run and fetch; its answer goes back before the container's
// reset, which the pool does in the background and times as reset.
const (
	stageQueue   = "queue"   // waiting for a judging slot
	stageAcquire = "acquire" // getting a container from the pool
	stageWrite   = "write"   // writing the program and its files into it
	stageCompile = "compile" // compiling, or writing the cached binary
	stageRun     = "run"     // one program run, as the service saw it (agent round trip included)
	stageFetch   = "fetch"   // reading fetch_files back
	stageTotal   = "total"   // the whole submission, in the service
	stageReset   = "reset"   // the container's reset after the answer (background)
	stageStart   = "start"   // a new container's start (background, unless acquire waited for it)
)

// stageOrder is the order a report lists the stages in.
var stageOrder = []string{stageQueue, stageAcquire, stageWrite, stageCompile, stageRun, stageFetch, stageTotal, stageReset, stageStart}

// metrics are the sandbox's Prometheus metrics, and running totals of the same
// observations for a report in process (the bench).
type metrics struct {
	stages *prometheus.HistogramVec

	mu     sync.Mutex
	totals map[stageKey]stageTotals
}

type stageKey struct {
	stage string
	lang  Language
}

// stageTotals is how many times a stage was timed and how long it took in all,
// and the longest time since the snapshot before.
type stageTotals struct {
	n   int64
	sum time.Duration
	max time.Duration
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rewardmesh_sandbox_stage_seconds",
		Help:    "Where a sandbox submission's time goes, by stage (queue, acquire, write, compile, run, fetch, total, reset, start) and language.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20),
	}, []string{"stage", "language"})}
	if reg != nil {
		reg.MustRegister(m.stages)
	}
	m.totals = map[stageKey]stageTotals{}
	return m
}

// since observes the time since start under stage, and returns now for the next.
func (m *metrics) since(stage string, lang Language, start time.Time) time.Time {
	now := time.Now()
	if m != nil {
		d := now.Sub(start)
		m.stages.WithLabelValues(stage, string(lang)).Observe(d.Seconds())
		m.mu.Lock()
		t := m.totals[stageKey{stage, lang}]
		m.totals[stageKey{stage, lang}] = stageTotals{t.n + 1, t.sum + d, max(t.max, d)}
		m.mu.Unlock()
	}
	return now
}

// snapshot is a copy of the running totals; each stage's max is the longest
// since the snapshot before, and starts again from this one.
func (m *metrics) snapshot() map[stageKey]stageTotals {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[stageKey]stageTotals, len(m.totals))
	for k, v := range m.totals {
		out[k] = v
		v.max = 0
		m.totals[k] = v
	}
	return out
}

// stageMeans describes lang's time per stage between two snapshots, in stage
// order, skipping stages not timed in between: the mean and the longest, in
// milliseconds, and how many times for the background stages (reset, start):
// "queue 0.01 (max 0.05), ..., start 410.20 (max 415.00) ×1".
func stageMeans(before, after map[stageKey]stageTotals, lang Language) string {
	var parts []string
	for _, stage := range stageOrder {
		a, b := after[stageKey{stage, lang}], before[stageKey{stage, lang}]
		n := a.n - b.n
		if n <= 0 {
			continue
		}
		part := fmt.Sprintf("%s %.2f (max %.2f)", stage, float64((a.sum-b.sum).Microseconds())/1000/float64(n), float64(a.max.Microseconds())/1000)
		if stage == stageReset || stage == stageStart {
			part += fmt.Sprintf(" ×%d", n)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
