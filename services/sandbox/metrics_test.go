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
	var acquire, acquireMax, run, runMax float64
	if _, err := fmt.Sscanf(got, "acquire %f (max %f), run %f (max %f)", &acquire, &acquireMax, &run, &runMax); err != nil {
		t.Fatalf("stageMeans = %q: %v", got, err)
	}
	if acquire < 1 || acquire > 40 || run < 3 || run > 40 {
		t.Errorf("stageMeans = %q: want acquire ≈ 1 ms and run ≈ 3 ms", got)
	}
	// The longest run since the snapshot before is the 4 ms one, not the 50 ms
	// one before it.
	if runMax < 4 || runMax > 40 || runMax < run {
		t.Errorf("stageMeans = %q: want the longest run ≈ 4 ms", got)
	}
	m.since(stageStart, Cpp, now.Add(-300*time.Millisecond))
	m.since(stageStart, Cpp, now.Add(-100*time.Millisecond))
	between := m.snapshot()
	var start, startMax float64
	var starts int
	if _, err := fmt.Sscanf(stageMeans(before, between, Cpp), "acquire %f (max %f), run %f (max %f), start %f (max %f) ×%d",
		&acquire, &acquireMax, &run, &runMax, &start, &startMax, &starts); err != nil || starts != 2 || start < 200 || startMax < 300 {
		t.Errorf("stageMeans with two starts = %q (%v): want start ≈ 200 ms, max ≈ 300 ms, ×2", stageMeans(before, between, Cpp), err)
	}
	if got := stageMeans(m.snapshot(), m.snapshot(), Cpp); got != "" {
		t.Errorf("no stage timed in between: %q", got)
	}
	var none *metrics
	if none.snapshot() != nil {
		t.Error("a sandbox without metrics has totals")
	}
}
