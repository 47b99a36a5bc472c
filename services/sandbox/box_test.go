package sandbox

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

// A local box serves one submission: what it wrote is gone once it is
// released, and closed boxes hand out no more.
func TestLocalBoxes(t *testing.T) {
	ctx := context.Background()
	boxes, err := LocalBoxes("/usr/bin:/bin")(Python)
	if err != nil {
		t.Fatal(err)
	}
	b, err := boxes.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(ctx, runner.Request{Op: runner.OpWrite, Files: map[string]runner.File{"a.txt": {Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := b.Do(ctx, runner.Request{Op: runner.OpRun, Argv: []string{"sh", "-c", "cat a.txt; pwd"}})
	if err != nil || resp.Status != runner.StatusOK || len(resp.Stdout) < 2 || string(resp.Stdout[:2]) != "x/" {
		t.Fatalf("run in the box: %+v %v", resp, err)
	}
	dir := string(resp.Stdout[1 : len(resp.Stdout)-1])
	other := boxes.TryAcquire()
	if other == nil {
		t.Fatal("no second box")
	}
	if resp, err := other.Do(ctx, runner.Request{Op: runner.OpRun, Argv: []string{"sh", "-c", "cat a.txt"}}); err != nil || resp.Status == runner.StatusOK {
		t.Fatalf("a second box sees the first one's file: %+v %v", resp, err)
	}
	boxes.Release(b)
	boxes.Discard(other)
	if _, err := b.Do(ctx, runner.Request{Op: runner.OpPing}); !errors.Is(err, runner.ErrAgentGone) {
		t.Fatalf("a released box still answers: %v", err)
	}
	boxes.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the released box's directory %s remains: %v", dir, err)
	}
	if _, err := boxes.Acquire(ctx); !errors.Is(err, ErrBoxesClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
}
