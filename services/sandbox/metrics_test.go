package sandbox

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The bench's per-stage means are the stages timed between two snapshots, in
// the order a submission meets them, and nothing timed before the first.
func TestStageMeans(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	now := time.Now()
	m.since(stageRun, Cpp, now.Add(-50*time.Millisecond)) // before: left out
	before := m.snapshot()
	m.since(stageRun, Cpp, now.Add(-2*time.Millisecond))
	m.since(stageRun, Cpp, now.Add(-4*time.Millisecond))
	m.since(stageAcquire, Cpp, now.Add(-time.Millisecond))
	m.since(stageRun, Python, now.Add(-100*time.Millisecond)) // another language
	got := stageMeans(before, m.snapshot(), Cpp)
	// since reads the clock after now: each mean is at least what was asked,
	// and well under the 50 ms left out.
	var acquire, run float64
	if _, err := fmt.Sscanf(got, "acquire %f, run %f", &acquire, &run); err != nil {
		t.Fatalf("stageMeans = %q: %v", got, err)
	}
	if acquire < 1 || acquire > 40 || run < 3 || run > 40 {
		t.Errorf("stageMeans = %q: want acquire ≈ 1 ms and run ≈ 3 ms", got)
	}
	if got := stageMeans(m.snapshot(), m.snapshot(), Cpp); got != "" {
		t.Errorf("no stage timed in between: %q", got)
	}
	var none *metrics
	if none.snapshot() != nil {
		t.Error("a sandbox without metrics has totals")
	}
}
