package sandbox

import (
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
)

// metrics are the sandbox's Prometheus metrics.
type metrics struct {
	stages *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rewardmesh_sandbox_stage_seconds",
		Help:    "Where a sandbox submission's time goes, by stage (queue, acquire, write, compile, run, fetch, total, reset) and language.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20),
	}, []string{"stage", "language"})}
	if reg != nil {
		reg.MustRegister(m.stages)
	}
	return m
}

// since observes the time since start under stage, and returns now for the next.
func (m *metrics) since(stage string, lang Language, start time.Time) time.Time {
	now := time.Now()
	if m != nil {
		m.stages.WithLabelValues(stage, string(lang)).Observe(now.Sub(start).Seconds())
	}
	return now
}
