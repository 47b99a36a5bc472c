package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineCounter is a progress writer that calls fn with each line count.
type lineCounter struct {
	mu sync.Mutex
	n  int
	fn func(n int)
	b  bytes.Buffer
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	k := bytes.Count(p, []byte("\n"))
	for range k {
		w.n++
		if w.fn != nil {
			w.fn(w.n)
		}
	}
	return len(p), nil
}

func TestRunLearnsSort3(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 training steps take a minute or more; run without -short")
	}
	if raceEnabled {
		t.Skip("under -race the 1000-step run exceeds its 5-minute budget; run it without -race")
	}
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	cfg := DefaultConfig()
	cfg.Out = t.TempDir()
	cfg.Run = "learn"
	start := time.Now()
	var out lineCounter
	if err := Run(ctx, cfg, nc, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	lines, err := readMetrics(filepath.Join(cfg.Out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != cfg.Steps {
		t.Fatalf("%d metrics lines, want %d", len(lines), cfg.Steps)
	}
	first, last := meanReward(lines[:50]), meanReward(lines[len(lines)-50:])
	var stepS, waitS float64
	for _, m := range lines {
		stepS += m.StepSeconds
		waitS += m.RewardWaitS
	}
	t.Logf("%d steps in %s: mean reward first 50 %.3f, last 50 %.3f; per step %.1f ms, %.1f ms of it waiting on rewards",
		cfg.Steps, time.Since(start).Round(time.Second), first, last, 1000*stepS/float64(len(lines)), 1000*waitS/float64(len(lines)))
	var curve []string
	for i := 0; i+100 <= len(lines); i += 100 {
		curve = append(curve, fmt.Sprintf("%.2f", meanReward(lines[i:i+100])))
	}
	t.Logf("mean reward per 100 steps: %s", strings.Join(curve, " "))
	if first > 0.3 || last < 0.6 {
		t.Errorf("mean reward first 50 = %.3f (want ≤ 0.3), last 50 = %.3f (want ≥ 0.6)", first, last)
	}
	if out.n != cfg.Steps {
		t.Errorf("%d progress lines, want %d", out.n, cfg.Steps)
	}
	page, err := os.ReadFile(filepath.Join(cfg.Out, plotFile))
	if err != nil || !strings.Contains(string(page), "<polyline") {
		t.Errorf("reward plot missing or empty: %v", err)
	}
}

func meanReward(lines []Metrics) float64 {
	var s float64
	for _, m := range lines {
		s += m.MeanReward
	}
	return s / float64(len(lines))
}

// TestRunResumeAfterCancel kills a run mid-step (its context cancelled while results
// are arriving, some applied but not acknowledged), resumes it, and checks that the
// curve continues step by step and that every published job's results were applied
// exactly once.
func TestRunResumeAfterCancel(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	cfg := DefaultConfig()
	cfg.Out = t.TempDir()
	cfg.Run = "resume"
	cfg.Steps, cfg.Prompts, cfg.Group = 40, 4, 4
	cfg.AckWait = time.Second // the killed run's unacked results come back quickly
	cfg.Quiet = true

	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	w := &testWorker{afterJob: func(job Job) {
		// Kill the trainer once step 17's second group is scored: its results are
		// on their way and step 17 is not yet complete.
		if job.ID == jobID(cfg.Run, 17, 1) {
			kill()
		}
	}}
	w.start(t, ctx, nc)
	err := Run(runCtx, cfg, nc, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: err = %v, want context.Canceled", err)
	}
	ck, err := readCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step < 10 || ck.Step > 18 {
		t.Fatalf("killed run checkpointed at step %d, want near 17", ck.Step)
	}
	t.Logf("killed at checkpoint step %d with %d pending groups", ck.Step, len(ck.Pending))

	cfg.Resume = true
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	lines, err := readMetrics(filepath.Join(cfg.Out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != cfg.Steps {
		t.Fatalf("%d metrics lines after resume, want %d", len(lines), cfg.Steps)
	}
	perStep := cfg.Prompts * cfg.Group
	applied := 0
	for i, m := range lines {
		if m.Step != i {
			t.Fatalf("line %d is step %d: the curve does not continue", i, m.Step)
		}
		if m.ResultsApplied != perStep {
			t.Errorf("step %d applied %d results, want %d", i, m.ResultsApplied, perStep)
		}
		applied += m.ResultsApplied
	}
	// Every job the trainer published got all its results, each exactly once in
	// the stream, and the trainer applied exactly that many.
	stream := resultsInStream(t, nc, cfg.Run)
	if len(stream) != cfg.Steps*cfg.Prompts {
		t.Errorf("results stream holds %d jobs, want %d", len(stream), cfg.Steps*cfg.Prompts)
	}
	total := 0
	for id, idx := range stream {
		if len(idx) != cfg.Group {
			t.Errorf("job %s has results for %d items, want %d", id, len(idx), cfg.Group)
		}
		for i, n := range idx {
			if n != 1 {
				t.Errorf("job %s item %d is in the stream %d times", id, i, n)
			}
			total += n
		}
	}
	if applied != total {
		t.Errorf("trainer applied %d results, stream holds %d", applied, total)
	}
	end, err := readCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if end.Step != cfg.Steps || len(end.Pending) != 0 {
		t.Errorf("final checkpoint at step %d with %d pending groups, want %d and 0", end.Step, len(end.Pending), cfg.Steps)
	}
}

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("Bench measures for seconds")
	}
	var out bytes.Buffer
	if err := Bench(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "cpu (1 goroutine)") || !strings.Contains(out.String(), "1.00x") {
		t.Errorf("bench output lacks the baseline row:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "\ntransformer {") || strings.Count(out.String(), "cpu (1 goroutine)") != 2 {
		t.Errorf("bench output lacks the transformer's rows:\n%s", out.String())
	}
}

// TestRunLearnsSort3WithTransformer trains --policy transformer on sort3 through the
// mesh, long enough to be well clear of chance (one in a thousand: a reward is 1 only
// when all three digits are right). It takes off later than the MLP (in one run at
// the default lr: mean reward 0.03 over steps 300-400, 0.42 over 400-500, 0.69 over 500-600).
func TestRunLearnsSort3WithTransformer(t *testing.T) {
	if testing.Short() {
		t.Skip("700 training steps take a minute or more; run without -short (policy's TestTransformerLearnsAFunction is the short check)")
	}
	if raceEnabled {
		t.Skip("under -race the run is too slow to learn in its budget; run it without -race")
	}
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	cfg := DefaultConfig()
	cfg.Out = t.TempDir()
	cfg.Run = "learn-tf"
	cfg.Policy, cfg.Embed, cfg.Hidden, cfg.Layers, cfg.Heads = "transformer", 32, 64, 2, 4
	cfg.Steps, cfg.Quiet = 700, true
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	lines := readLines(t, cfg)
	ck, err := readCheckpoint(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Spec.Model != "transformer" || ck.Spec.Layers != 2 || ck.Spec.Heads != 4 {
		t.Errorf("checkpoint spec %+v is not the transformer asked for", ck.Spec)
	}
	first, last := meanReward(lines[:50]), meanReward(lines[len(lines)-50:])
	t.Logf("%d steps: mean reward first 50 %.3f, last 50 %.3f", cfg.Steps, first, last)
	for i := 0; i+100 <= len(lines); i += 100 {
		t.Logf("steps %d-%d: %.3f", i, i+100, meanReward(lines[i:i+100]))
	}
	if first > 0.05 || last < 0.3 {
		t.Errorf("mean reward first 50 = %.3f (want ≤ 0.05), last 50 = %.3f (want ≥ 0.3)", first, last)
	}
}

// smallConfig is a run that takes a second or two.
func smallConfig(t *testing.T, run string) Config {
	cfg := DefaultConfig()
	cfg.Out = t.TempDir()
	cfg.Run = run
	cfg.Steps, cfg.Prompts, cfg.Group = 12, 4, 4
	cfg.Quiet = true
	return cfg
}

func readLines(t *testing.T, cfg Config) []Metrics {
	t.Helper()
	lines, err := readMetrics(filepath.Join(cfg.Out, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != cfg.Steps {
		t.Fatalf("%d metrics lines, want %d", len(lines), cfg.Steps)
	}
	for i, m := range lines {
		if m.Step != i {
			t.Fatalf("line %d is step %d", i, m.Step)
		}
	}
	return lines
}

// Every result arrives twice (a worker re-scoring a redelivered job) and out of
// order: each must count once, the copies dropped and counted.
func TestRunDropsDuplicateResults(t *testing.T) {
	nc := startNATS(t)
	(&testWorker{duplicate: true}).start(t, t.Context(), nc)
	cfg := smallConfig(t, "dups")
	if err := Run(t.Context(), cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	perStep := cfg.Prompts * cfg.Group
	dropped := 0
	for _, m := range readLines(t, cfg) {
		if m.ResultsApplied != perStep {
			t.Errorf("step %d applied %d results, want %d", m.Step, m.ResultsApplied, perStep)
		}
		dropped += m.Duplicates + m.StaleDropped
	}
	// The copies of the last step's last results may arrive after the run ends.
	if want := cfg.Steps * perStep; dropped > want || dropped < want-perStep {
		t.Errorf("dropped %d copies, want about %d", dropped, want)
	}
}

// With a staleness bound of 1 the trainer samples the next step before the current
// one's rewards are in, so each update trains on groups one policy version old,
// through the clipped surrogate.
func TestRunOffPolicyByOneVersion(t *testing.T) {
	nc := startNATS(t)
	(&testWorker{}).start(t, t.Context(), nc)
	cfg := smallConfig(t, "stale1")
	cfg.Staleness = 1
	if err := Run(t.Context(), cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, m := range readLines(t, cfg) {
		if m.ResultsApplied != cfg.Prompts*cfg.Group || m.StaleDropped != 0 {
			t.Errorf("step %d: applied %d, stale %d", m.Step, m.ResultsApplied, m.StaleDropped)
		}
	}
}

// A reward that comes back as an error is not a zero: its group is dropped and counted.
func TestRunDropsGroupsWithFailedRewards(t *testing.T) {
	nc := startNATS(t)
	cfg := smallConfig(t, "fails")
	(&testWorker{fail: func(id string, index int) bool {
		_, group, err := parseJobID(cfg.Run, id)
		return err == nil && group == 0 && index == 2
	}}).start(t, t.Context(), nc)
	if err := Run(t.Context(), cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, m := range readLines(t, cfg) {
		if m.GroupsFailed != 1 || m.GroupsKept+m.GroupsFiltered != cfg.Prompts-1 {
			t.Errorf("step %d: failed %d kept %d filtered %d, want 1 failed and %d others", m.Step, m.GroupsFailed, m.GroupsKept, m.GroupsFiltered, cfg.Prompts-1)
		}
	}
}

func TestRunFailsClearly(t *testing.T) {
	nc := startNATS(t)
	t.Run("no worker scores", func(t *testing.T) {
		cfg := smallConfig(t, "noworker")
		cfg.RewardTimeout = 300 * time.Millisecond
		err := Run(t.Context(), cfg, nc, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "0 of 16 rewards") {
			t.Errorf("err = %v, want a reward timeout", err)
		}
	})
	t.Run("existing run without resume", func(t *testing.T) {
		cfg := smallConfig(t, "exists")
		cfg.RewardTimeout = 100 * time.Millisecond
		_ = Run(t.Context(), cfg, nc, io.Discard) // leaves a checkpoint
		err := Run(t.Context(), cfg, nc, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--resume") {
			t.Errorf("err = %v, want advice to resume", err)
		}
	})
	t.Run("resume without checkpoint", func(t *testing.T) {
		cfg := smallConfig(t, "nockpt")
		cfg.Resume = true
		if err := Run(t.Context(), cfg, nc, io.Discard); err == nil {
			t.Error("resume from an empty directory accepted")
		}
	})
	t.Run("cuda in a cpu build", func(t *testing.T) {
		if _, ok := backends["cuda"]; ok {
			t.Skip("built with -tags cuda")
		}
		cfg := smallConfig(t, "nocuda")
		cfg.Backend = "cuda"
		err := Run(t.Context(), cfg, nc, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-tags cuda") {
			t.Errorf("err = %v, want to be told to build with -tags cuda", err)
		}
	})
}

// TestRunExtendsFinishedRun resumes a finished run with more steps. Its results
// consumer was deleted at the end, so the new one reads every old result again, far
// more than the server lets out unacknowledged: they must be acknowledged as they are
// dropped, or the run waits on itself. (A crashed run resumed after its consumer's
// inactivity threshold is the same case.)
func TestRunExtendsFinishedRun(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	cfg := smallConfig(t, "extend")
	cfg.RewardTimeout = 20 * time.Second
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("first run: %v", err)
	}
	cfg.Steps *= 2
	cfg.Resume = true
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("extended run: %v", err)
	}
	lines := readLines(t, cfg)
	perStep := cfg.Prompts * cfg.Group
	for _, m := range lines {
		if m.ResultsApplied != perStep {
			t.Errorf("step %d applied %d results, want %d", m.Step, m.ResultsApplied, perStep)
		}
	}
	// Old results are dropped and counted, as stale (their policy version is older
	// than the bound) or as duplicates, never applied again.
	if m := lines[len(lines)/2]; m.Duplicates+m.StaleDropped < (cfg.Steps/2)*perStep {
		t.Errorf("first extended step dropped %d duplicate and %d stale results, want the first run's %d in all",
			m.Duplicates, m.StaleDropped, (cfg.Steps/2)*perStep)
	}
}

// TestRunRefusesANameTheMeshHasSeen: a fresh run under the name of an earlier one
// (another --out) would have its jobs dropped as duplicates and read the earlier
// run's rewards as its own; it is refused, and the earlier run still resumes.
func TestRunRefusesANameTheMeshHasSeen(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	cfg := smallConfig(t, "twice")
	cfg.Steps = 3
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("first run: %v", err)
	}
	again := cfg
	again.Out = t.TempDir()
	err := Run(ctx, again, nc, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already has") || !strings.Contains(err.Error(), "--run") {
		t.Fatalf("second fresh run of the same name: err = %v, want it refused", err)
	}
	if _, statErr := os.Stat(filepath.Join(again.Out, checkpointFile)); statErr == nil {
		t.Error("the refused run wrote a checkpoint")
	}
	cfg.Steps, cfg.Resume = 5, true
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Errorf("the first run no longer resumes: %v", err)
	}
}
