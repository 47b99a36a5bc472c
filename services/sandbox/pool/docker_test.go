package pool

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
)

// A container released a moment ago is being reset; the next Acquire waits the
// few milliseconds that takes instead of starting another container on the
// request's path, and gets the same one back, reset.
func TestDockerAcquireWaitsForReset(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker; skipped in -short")
	}
	sandboxtest.RequireDocker(t, images.Python)
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	p := New(Config{Name: "python", Image: images.Tag(images.Python), Docker: docker, Owner: Self(),
		Warm: 0, Max: 3, MemoryBytes: 512 << 20, PidsLimit: 64, CPUs: 1, WorkBytes: 16 << 20, TmpBytes: 16 << 20})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := first.Do(ctx, runner.Request{Op: runner.OpWrite, Files: map[string]runner.File{"left.txt": {Data: []byte("x")}}}); err != nil {
			t.Fatal(err)
		}
		p.Release(first)
		next, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if next.ID != first.ID {
			t.Fatalf("round %d: a new container %s was started while %s was being reset", i, short(next.ID), short(first.ID))
		}
		if resp, err := next.Do(ctx, runner.Request{Op: runner.OpRun, Argv: []string{"cat", "left.txt"}}); err != nil || resp.Status == runner.StatusOK {
			t.Fatalf("round %d: the file of the last submission is still there: %+v %v", i, resp, err)
		}
		first = next
	}
	p.mu.Lock()
	total := p.total
	p.mu.Unlock()
	if total != 1 {
		t.Fatalf("the pool holds %d containers, want 1", total)
	}
	p.Release(first)
}
