package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The mesh on a three-server NATS cluster: its stores are made at R3 (and a
// store made at R1 earlier is scaled up), and when the server that leads the
// job stream, and that the caller is connected to, is killed mid-job, the caller
// moves to another server of its list, calls in flight come back as retryable
// errors or answers (never a wrong one), and the job completes with every item
// answered once.
func TestClusterSurvivesLosingAServer(t *testing.T) {
	if testing.Short() {
		t.Skip("three NATS servers and a failover: long test")
	}
	cluster, err := mesh.StartCluster(3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func(name string) *nats.Conn {
		nc, err := mesh.Connect(cluster.URLs(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	setup := connect("setup")
	if got := mesh.ClusterSize(setup); got != 3 {
		t.Fatalf("ClusterSize = %d, want 3 (discovered %v)", got, setup.DiscoveredServers())
	}
	js, err := jetstream.New(setup)
	if err != nil {
		t.Fatal(err)
	}
	replicasOf := func() map[string]mesh.StoreInfo {
		stores, err := mesh.Stores(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]mesh.StoreInfo{}
		for _, s := range stores {
			out[s.Store] = s
		}
		return out
	}

	// A mesh told to keep one copy makes its stores at R1; one that derives the
	// count from the cluster scales them up to R3 when it starts.
	mesh.SetReplicas(1)
	if _, err := mesh.NewJobs(ctx, setup, nil); err != nil {
		t.Fatal(err)
	}
	for name, s := range replicasOf() {
		if s.Replicas != 1 {
			t.Errorf("%s at %d replicas, want 1 as set", name, s.Replicas)
		}
	}
	mesh.SetReplicas(0)
	if _, err := mesh.NewJobs(ctx, setup, nil); err != nil {
		t.Fatal(err)
	}
	stores := replicasOf()
	for _, name := range []string{mesh.JobsStream, mesh.ResultsStream, "KV_" + mesh.JobStateBucket} {
		if s := stores[name]; s.Replicas != 3 {
			t.Errorf("%s at %d replicas, want 3 on three servers: %+v", name, s.Replicas, s)
		}
	}

	// The caller is connected to the server leading the job stream: killing it
	// takes the caller's server and the stream's leader at once. The scaled-up
	// stream first elects a leader and brings its new replicas up to date.
	for s := stores[mesh.JobsStream]; s.Leader == "" || len(s.Current) < 2; s = replicasOf()[mesh.JobsStream] {
		if ctx.Err() != nil {
			t.Fatalf("%s never had a leader and two current replicas: %+v", mesh.JobsStream, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	leader := replicasOf()[mesh.JobsStream].Leader
	var victim *mesh.Embedded
	for _, s := range cluster.Servers {
		if s.Name() == leader {
			victim = s
		}
	}
	if victim == nil {
		t.Fatalf("no server named %q leads %s", leader, mesh.JobsStream)
	}
	var callerConn *nats.Conn
	for range 60 {
		nc := connect("caller")
		if nc.ConnectedUrl() == victim.ClientURL() {
			callerConn = nc
			break
		}
		nc.Close()
	}
	if callerConn == nil {
		t.Fatal("no connection from the URL list landed on the leader's server")
	}
	caller := mesh.NewClient(callerConn)
	caller.Silence = 2 * time.Second

	// Two replicas of a service that doubles numbers, each on its own connection.
	var served atomic.Int64
	for i := range 2 {
		_, err := mesh.Serve(connect(fmt.Sprintf("double-%d", i)), mesh.Config{Name: "double", Endpoints: []mesh.Endpoint{{Name: "op",
			Handler: mesh.Batch(func(ctx context.Context, raw json.RawMessage) any {
				n, err := strconv.Atoi(string(raw))
				if err != nil {
					return map[string]any{"error": reward.Errorf(reward.Invalid, "want a number")}
				}
				served.Add(1)
				time.Sleep(5 * time.Millisecond) // keep calls in flight when the server dies
				return map[string]any{"double": 2 * n}
			}, 4)}}})
		if err != nil {
			t.Fatal(err)
		}
	}

	// callDoubling sends numbers until each is answered, resending those the
	// mesh answered with a retryable error, as a trainer would; any other
	// error, or a wrong double, fails the test.
	var retryable atomic.Int64
	callDoubling := func(ctx context.Context, numbers []int) []int {
		for ctx.Err() == nil {
			payload := []byte(`{"items":[`)
			for k, n := range numbers {
				if k > 0 {
					payload = append(payload, ',')
				}
				payload = strconv.AppendInt(payload, int64(n), 10)
			}
			payload = append(payload, "]}"...)
			callCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			body, err := caller.Call(callCtx, "double", "op", payload)
			cancel()
			var rerr *reward.Error
			if errors.As(err, &rerr) && rerr.Retryable {
				retryable.Add(1)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Errorf("call: %v (not retryable)", err)
				return nil
			}
			var resp struct {
				Results []struct {
					Double int           `json:"double"`
					Error  *reward.Error `json:"error"`
				} `json:"results"`
			}
			if err := json.Unmarshal(body, &resp); err != nil || len(resp.Results) != len(numbers) {
				t.Errorf("answer %s: %v", body, err)
				return nil
			}
			out := make([]int, len(numbers))
			for k, r := range resp.Results {
				if r.Error != nil || r.Double != 2*numbers[k] {
					t.Errorf("double(%d) answered %+v", numbers[k], r)
				}
				out[k] = r.Double
			}
			return out
		}
		return nil
	}

	// A 2,000-item job, worked on the caller's connection.
	jobs, err := mesh.NewJobs(ctx, callerConn, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs.AckWait = 5 * time.Second
	const total = 2000
	items := make([]reward.Item, total)
	for i := range items {
		items[i] = reward.Item{Domain: reward.Math, Response: strconv.Itoa(i)}
	}
	work(t, jobs, func(ctx context.Context, items []reward.Item, emit func(int, reward.Result)) {
		for start := 0; start < len(items); start += 20 {
			chunk := items[start:min(start+20, len(items))]
			numbers := make([]int, len(chunk))
			for k, it := range chunk {
				numbers[k], _ = strconv.Atoi(it.Response)
			}
			doubles := callDoubling(ctx, numbers)
			if doubles == nil {
				return // ctx ended; the job is redelivered
			}
			for k, d := range doubles {
				emit(start+k, reward.Result{Reward: float64(d)})
			}
		}
	}, 4)
	if err := jobs.Submit(ctx, mesh.Job{ID: "test.cluster.1", Items: items}); err != nil {
		t.Fatal(err)
	}

	// Synchronous calls beside the job, before, during and after the loss.
	stopCalls := make(chan struct{})
	var calls sync.WaitGroup
	var answered atomic.Int64
	for w := range 4 {
		calls.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopCalls:
					return
				default:
				}
				if callDoubling(ctx, []int{w*1_000_000 + i, i}) != nil {
					answered.Add(1)
				}
			}
		})
	}
	// The server dies with the job partly answered.
	doneAtLoss := 0
	for ctx.Err() == nil {
		if v, err := jobs.Get(ctx, "test.cluster.1"); err == nil && v.Done >= 100 {
			doneAtLoss = v.Done
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	victim.Close()
	t.Logf("killed %s, which led %s and served the caller, with %d of %d job items answered", leader, mesh.JobsStream, doneAtLoss, total)
	if doneAtLoss >= total {
		t.Fatalf("the job was over before the server died: the test shows nothing")
	}

	view := waitDoneWithin(t, jobs, "test.cluster.1", 90*time.Second)
	answeredAtLoss := answered.Load()
	for answered.Load() < answeredAtLoss+20 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopCalls)
	calls.Wait()

	if callerConn.ConnectedUrl() == victim.ClientURL() || !callerConn.IsConnected() {
		t.Errorf("the caller is on %q, connected %v: it did not move off the dead server", callerConn.ConnectedUrl(), callerConn.IsConnected())
	}
	for i, r := range view.Results {
		if r == nil || r.Error != nil || r.Reward != float64(2*i) {
			t.Errorf("job item %d: %+v, want reward %d", i, r, 2*i)
		}
	}
	info, err := js.Stream(ctx, mesh.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != total {
		t.Errorf("the results stream holds %d results for %d items: some answered twice or never", n, total)
	}
	after := replicasOf()[mesh.JobsStream]
	if after.Leader == leader || after.Leader == "" {
		t.Errorf("%s still led by %q after its leader died", mesh.JobsStream, after.Leader)
	}
	t.Logf("job: %d items answered, results stored %d; calls answered %d (%d after the loss); retryable answers resent %d; %s now led by %s",
		view.Done, info.CachedInfo().State.Msgs, answered.Load(), answered.Load()-answeredAtLoss, retryable.Load(), mesh.JobsStream, after.Leader)
}

func waitDoneWithin(t *testing.T, jobs *mesh.Jobs, id string, within time.Duration) mesh.JobView {
	t.Helper()
	var view mesh.JobView
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if view, err = jobs.Get(context.Background(), id); err == nil && view.State == reward.JobDone {
			return view
		}
	}
	t.Fatalf("job %s not done: done %d of %d, %v", id, view.Done, view.Total, err)
	return view
}
