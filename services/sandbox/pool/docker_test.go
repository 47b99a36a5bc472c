package pool

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
)

// dockerClient is a client of the local engine, closed with the test; it skips
// the test in -short, or without Docker or the Python image (fails it where
// REWARDMESH_REQUIRE_DOCKER=1).
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker; skipped in -short")
	}
	sandboxtest.RequireDocker(t, images.Python)
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker.Close() })
	return docker
}

// A container released a moment ago is being reset; the next Acquire waits the
// few milliseconds that takes instead of starting another container on the
// request's path, and gets the same one back, reset.
func TestDockerAcquireWaitsForReset(t *testing.T) {
	docker := dockerClient(t)
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

// A container that has served its share of MaxUses is not replaced while
// submissions keep coming (the Docker work of a start would slow the programs
// beside it): it serves on, and is replaced once the pool goes quiet, by a
// container started in its place. Under load that never pauses it is replaced
// after busyUses times its share.
func TestDockerRetiresWhenQuiet(t *testing.T) {
	docker := dockerClient(t)
	var starts atomic.Int64
	p := New(Config{Name: "python", Image: images.Tag(images.Python), Docker: docker, Owner: Self(),
		Warm: 1, Max: 1, MemoryBytes: 512 << 20, PidsLimit: 64, CPUs: 1, WorkBytes: 16 << 20, TmpBytes: 16 << 20,
		MaxUses: 4, QuietAfter: 300 * time.Millisecond, OnStart: func(time.Duration) { starts.Add(1) }})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// use runs one submission, and tells which container served it.
	use := func() *Container {
		t.Helper()
		c, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := c.Do(ctx, runner.Request{Op: runner.OpRun, Argv: []string{"true"}}); err != nil || resp.Status != runner.StatusOK {
			t.Fatalf("run: %+v %v", resp, err)
		}
		p.Release(c)
		return c
	}
	first := use()
	share := first.maxUses
	if share < 2 || share > 4 {
		t.Fatalf("share of MaxUses %d, want 2 to 4", share)
	}
	// Back to back, past its share: the same container, and no start.
	startsBefore := starts.Load()
	for i := 1; i < share+2; i++ {
		if c := use(); c != first {
			t.Fatalf("use %d: container %s replaced under load (share %d)", i+1, short(c.ID), share)
		}
	}
	if n := starts.Load() - startsBefore; n != 0 {
		t.Fatalf("%d container starts under load", n)
	}
	// Quiet: it is replaced, and the pool keeps its size.
	deadline := time.Now().Add(30 * time.Second)
	for p.Owns(first.ID) || !p.Settled() {
		if time.Now().After(deadline) {
			t.Fatalf("the due container %s was not replaced in a quiet pool (owned %v, settled %v)", short(first.ID), p.Owns(first.ID), p.Settled())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	total, idle := p.total, len(p.idle)
	p.mu.Unlock()
	if total != 1 || idle != 1 {
		t.Fatalf("after the replacement: %d containers, %d idle; want 1 and 1", total, idle)
	}
	second := use()
	if second == first {
		t.Fatalf("the retired container served again")
	}
	// Never quiet: replaced after busyUses times its share.
	for n := 2; ; n++ {
		c := use()
		if c != second {
			if want := busyUses * second.maxUses; n-1 != want {
				t.Fatalf("replaced under load after %d submissions, want %d", n-1, want)
			}
			break
		}
		if n > busyUses*4+1 {
			t.Fatalf("%d submissions back to back and never replaced", n)
		}
	}
}
