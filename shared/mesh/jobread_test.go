package mesh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// getWithin reads the job back as a gateway does, whose request may last 10
// minutes.
func getWithin(t *testing.T, jobs *mesh.Jobs, id string) (mesh.JobView, error) {
	t.Helper()
	return within(t, jobs.ReadTimeout, func(ctx context.Context) (mesh.JobView, error) { return jobs.Get(ctx, id) })
}

// within runs read with a caller's deadline 10 minutes away and fails the test
// when it has not answered by its own read deadline and a margin.
func within(t *testing.T, readTimeout time.Duration, read func(context.Context) (mesh.JobView, error)) (mesh.JobView, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type answer struct {
		view mesh.JobView
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := read(ctx)
		got <- answer{v, err}
	}()
	select {
	case a := <-got:
		return a.view, a.err
	case <-time.After(readTimeout + 10*time.Second):
		t.Fatalf("the read still waits %v after its read deadline", 10*time.Second)
		return mesh.JobView{}, nil
	}
}

// wantRetryable fails the test unless err is the retryable unavailable error a
// client can see and send again, and names what could not be read.
func wantRetryable(t *testing.T, err error, what string) {
	t.Helper()
	var e *reward.Error
	if !errors.As(err, &e) || e.Code != reward.Unavailable || !e.Retryable || !strings.Contains(e.Message, what) {
		t.Fatalf("Get answered %v (%#v), want a retryable unavailable error about %q", err, e, what)
	}
}

// Reading a job back answers within its own deadline with a retryable error
// when NATS cannot answer, never waiting as long as the caller allows (before
// the fix, a gateway's GET /v1/jobs/{id} waited out its 10-minute request on a
// server that was gone, and the results' ordered consumer retried without end
// while their stream had no leader).
func TestJobReadAnswersWithinItsDeadline(t *testing.T) {
	t.Run("its server stopped", func(t *testing.T) {
		emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emb.Close)
		nc, err := mesh.Connect(emb.ClientURL(), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		jobs, err := mesh.NewJobs(t.Context(), nc, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobs.ReadTimeout = 2 * time.Second
		work(t, jobs, echoScorer, 1)
		if err := jobs.Submit(t.Context(), mesh.Job{ID: "stopped", Items: []reward.Item{{Response: "ab"}, {Response: "abc"}}}); err != nil {
			t.Fatal(err)
		}
		if v := waitDone(t, jobs, "stopped"); v.Done != 2 {
			t.Fatalf("job done with %d results, want 2", v.Done)
		}
		emb.Close()
		_, err = getWithin(t, jobs, "stopped")
		wantRetryable(t, err, "read job state")
	})

	t.Run("its results stream without a leader", func(t *testing.T) {
		if testing.Short() {
			t.Skip("three NATS servers: long test")
		}
		cluster, err := mesh.StartCluster(3, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer cluster.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		setup, err := mesh.Connect(cluster.URLs(), "setup", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer setup.Close()
		jobs, err := mesh.NewJobs(ctx, setup, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobs.ReadTimeout = 3 * time.Second
		work(t, jobs, echoScorer, 1)
		items := make([]reward.Item, 50)
		for i := range items {
			items[i] = reward.Item{Response: strings.Repeat("x", i)}
		}
		if err := jobs.Submit(ctx, mesh.Job{ID: "leaderless", Items: items}); err != nil {
			t.Fatal(err)
		}
		if v := waitDone(t, jobs, "leaderless"); v.Done != len(items) {
			t.Fatalf("job done with %d results, want %d", v.Done, len(items))
		}

		// Two of the three servers stopped, not the one the reader is
		// connected to: no store has a quorum, the streams no leader.
		for _, s := range cluster.Servers {
			if s.Name() != setup.ConnectedServerName() {
				s.Close()
			}
		}
		_, err = getWithin(t, jobs, "leaderless")
		wantRetryable(t, err, "read")
		_, err = within(t, jobs.ReadTimeout, func(ctx context.Context) (mesh.JobView, error) {
			_, err := jobs.Results(ctx, "leaderless")
			return mesh.JobView{}, err
		})
		wantRetryable(t, err, "read results")
	})
}
