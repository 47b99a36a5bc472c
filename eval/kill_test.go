package eval

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestHelperEvalProcess is the run TestKillAndResume kills: it judges slowly so
// the kill lands halfway. It does nothing unless started by that test.
func TestHelperEvalProcess(t *testing.T) {
	dir := os.Getenv("REWARDMESH_EVAL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestKillAndResume")
	}
	judge := newCountingJudge()
	judge.onCall = func(int) { time.Sleep(100 * time.Millisecond) }
	_, err := RunLCB(context.Background(), LCBConfig{
		Problems: filepath.Join(dir, "problems.jsonl"), Generations: filepath.Join(dir, "gens.json"),
		Out: filepath.Join(dir, "killed"), Batch: 1, Parallel: 1,
	}, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResume kills a run with SIGKILL halfway, reruns it, and checks that
// the rerun judges exactly what the killed run had not finished and writes the
// same files as a run never interrupted.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess; not in -short")
	}
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEvalProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REWARDMESH_EVAL_HELPER_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "killed", CacheFile)
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(cache)
		if bytes.Count(data, []byte("\n")) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the helper run never got halfway:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	c, err := OpenCache(cache)
	if err != nil {
		t.Fatal(err)
	}
	done := c.Len()
	c.Close()
	const unique = 14 // 15 samples, one program twice
	if done >= unique {
		t.Fatalf("the run finished (%d verdicts) before the kill", done)
	}

	resumed := newCountingJudge()
	if _, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: filepath.Join(dir, "killed")}, resumed, nil); err != nil {
		t.Fatal(err)
	}
	if _, items := resumed.counts(); items != unique-done {
		t.Errorf("the rerun judged %d items; %d were done before the kill, so want %d", items, done, unique-done)
	}
	whole := filepath.Join(dir, "whole")
	if _, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: whole}, newCountingJudge(), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(evalFiles(t, filepath.Join(dir, "killed")), evalFiles(t, whole)) {
		t.Error("the resumed run's eval files differ from an uninterrupted run's")
	}
}
