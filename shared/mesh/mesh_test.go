package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// start runs an embedded server with a small max payload, so that ordinary test
// bodies are "large".
func start(t *testing.T, maxPayload int32) *mesh.Client {
	t.Helper()
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir(), MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	nc, err := mesh.Connect(emb.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return mesh.NewClient(nc)
}

// echoLength answers each item with its length and the item doubled, so that
// the response is larger than the request.
func echoLength(_ context.Context, raw json.RawMessage) any {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return map[string]any{"error": reward.Errorf(reward.Invalid, "want a string")}
	}
	return map[string]any{"n": len(s), "twice": s + s}
}

func TestLargeBodiesTravelThroughTheObjectStore(t *testing.T) {
	c := start(t, 64<<10)
	svc, err := mesh.Serve(c.Conn(), mesh.Config{Name: "echo", Endpoints: []mesh.Endpoint{{Name: "len", Handler: mesh.Batch(echoLength, 2)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(time.Second)

	items := make([]string, 40)
	for i := range items {
		items[i] = strings.Repeat(string(rune('a'+i%26)), 10_000+i)
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	if len(body) < 4*(64<<10) {
		t.Fatalf("test body of %d bytes is not larger than the max payload", len(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.Call(ctx, "echo", "len", body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			N     int    `json:"n"`
			Twice string `json:"twice"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(items) {
		t.Fatalf("%d results for %d items", len(resp.Results), len(items))
	}
	for i, r := range resp.Results {
		if r.N != len(items[i]) || r.Twice != items[i]+items[i] {
			t.Fatalf("item %d: n=%d, twice of %d bytes", i, r.N, len(r.Twice))
		}
	}
}

func TestBusyAndUnavailable(t *testing.T) {
	c := start(t, 0)
	release := make(chan struct{})
	var started atomic.Int32
	slow := func(ctx context.Context, _ []byte) ([]byte, error) {
		started.Add(1)
		<-release
		return []byte(`{"results":[]}`), nil
	}
	svc, err := mesh.Serve(c.Conn(), mesh.Config{Name: "slow", MaxInFlight: 1, Endpoints: []mesh.Endpoint{{Name: "op", Handler: slow}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first := make(chan error, 1)
	go func() { _, err := c.Call(ctx, "slow", "op", []byte(`{}`)); first <- err }()
	for started.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err = c.Call(ctx, "slow", "op", []byte(`{}`))
	var e *reward.Error
	if !errors.As(err, &e) || e.Code != reward.Busy {
		t.Fatalf("a second call past the in-flight limit: %v, want busy at once", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the first call: %v", err)
	}

	_, err = c.Call(ctx, "nobody", "op", []byte(`{}`))
	if !errors.As(err, &e) || e.Code != reward.Unavailable {
		t.Fatalf("a service nobody runs: %v, want unavailable", err)
	}

	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	stuck := make(chan struct{})
	defer close(stuck)
	svc2, err := mesh.Serve(c.Conn(), mesh.Config{Name: "stuck", Endpoints: []mesh.Endpoint{{Name: "op", Handler: func(ctx context.Context, _ []byte) ([]byte, error) {
		select {
		case <-stuck:
		case <-ctx.Done(): // the caller's deadline reached the service
		}
		return nil, ctx.Err()
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Stop(time.Second)
	_, err = c.Call(short, "stuck", "op", []byte(`{}`))
	if !errors.As(err, &e) || e.Code != reward.Timeout {
		t.Fatalf("a call past its deadline: %v, want timeout", err)
	}
}

func TestHandlerPanicIsAnInternalErrorNotACrash(t *testing.T) {
	c := start(t, 0)
	svc, err := mesh.Serve(c.Conn(), mesh.Config{Name: "boom", Endpoints: []mesh.Endpoint{{Name: "op", Handler: func(context.Context, []byte) ([]byte, error) {
		panic("bad input")
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 2 { // and the service still answers afterwards
		_, err := c.Call(ctx, "boom", "op", []byte(`{}`))
		var e *reward.Error
		if !errors.As(err, &e) || e.Code != reward.Internal {
			t.Fatalf("panicking handler: %v, want internal", err)
		}
	}
}

// A worker that dies in the middle of a job leaves it unacked; after the ack wait
// another worker takes it and scores only the items still unanswered, so every
// item is answered exactly once.
func TestJobRedeliveredAfterAWorkerDiesAnswersEachItemOnce(t *testing.T) {
	c := start(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	jobs, err := mesh.NewJobs(ctx, c.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs.AckWait = time.Second

	items := make([]reward.Item, 6)
	for i := range items {
		items[i] = reward.Item{Domain: reward.Math, Response: strings.Repeat("x", i)}
	}
	if err := jobs.Submit(ctx, mesh.Job{ID: "test.redeliver.1", Items: items}); err != nil {
		t.Fatal(err)
	}

	// The first worker answers the last three items, then its process "dies".
	workThenDie(t, jobs, func(emit func(int, reward.Result)) {
		for i := 3; i < 6; i++ {
			emit(i, reward.Result{Reward: float64(len(items[i].Response))})
		}
	})

	// Meanwhile the job reads back with each result in its item's place.
	var partial mesh.JobView
	for ctx.Err() == nil {
		if partial, err = jobs.Get(ctx, "test.redeliver.1"); err == nil && partial.Done == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(partial.Results) != 6 {
		t.Fatalf("partial view has %d results, want 6 places: %+v", len(partial.Results), partial)
	}
	for i, r := range partial.Results {
		if answered := i >= 3; (r != nil) != answered || (r != nil && r.Reward != float64(i)) {
			t.Errorf("partial result %d = %+v, want it answered: %v", i, r, answered)
		}
	}

	var secondSaw atomic.Int32
	secondCtx, stopSecond := context.WithCancel(ctx)
	defer stopSecond()
	go func() {
		_ = jobs.Work(secondCtx, func(_ context.Context, items []reward.Item, emit func(int, reward.Result)) {
			secondSaw.Store(int32(len(items)))
			for i, it := range items {
				emit(i, reward.Result{Reward: float64(len(it.Response))})
			}
		}, 1)
	}()
	var view mesh.JobView
	for ctx.Err() == nil {
		if view, err = jobs.Get(ctx, "test.redeliver.1"); err == nil && view.State == reward.JobDone {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if view.State != reward.JobDone {
		t.Fatalf("job not done after redelivery: %+v", view)
	}
	if got := secondSaw.Load(); got != 3 {
		t.Errorf("the second worker scored %d items, want the 3 unanswered", got)
	}
	msgs, err := jobs.Results(ctx, "test.redeliver.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 6 {
		t.Fatalf("%d results, want 6", len(msgs))
	}
	for i, m := range msgs {
		if m.Index != i || m.Result.Reward != float64(i) {
			t.Errorf("result %d: %+v", i, m)
		}
	}
}

// A replica that dies while working on a request stops its heartbeats; the caller
// hears the silence and sends the request again, and a live replica answers. The
// caller never waits out its whole deadline.
func TestCallSurvivesAReplicaDyingMidRequest(t *testing.T) {
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	connect := func(name string) *nats.Conn {
		nc, err := mesh.Connect(emb.ClientURL(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	answer := func(who string) mesh.Handler {
		return func(ctx context.Context, _ []byte) ([]byte, error) {
			return []byte(`{"by":"` + who + `"}`), nil
		}
	}
	working := make(chan struct{})
	dying := connect("dying")
	_, err = mesh.Serve(dying, mesh.Config{Name: "work", Endpoints: []mesh.Endpoint{{Name: "op", Handler: func(ctx context.Context, _ []byte) ([]byte, error) {
		close(working)
		<-ctx.Done() // never finishes: its process is about to die
		return nil, ctx.Err()
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dying.Flush(); err != nil { // the server has its subscription before the first request
		t.Fatal(err)
	}
	client := mesh.NewClient(connect("client"))
	client.Silence = 1500 * time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		body []byte
		err  error
		took time.Duration
	}
	got := make(chan result, 1)
	go func() {
		start := time.Now()
		body, err := client.Call(ctx, "work", "op", []byte(`{}`))
		got <- result{body, err, time.Since(start)}
	}()
	select {
	case <-working:
	case r := <-got:
		t.Fatalf("the call ended before the replica started work: %v", r.err)
	}
	// A second replica joins, and the first one's process dies: its connection
	// goes, its heartbeats stop.
	if _, err := mesh.Serve(connect("alive"), mesh.Config{Name: "work", Endpoints: []mesh.Endpoint{{Name: "op", Handler: answer("alive")}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * mesh.Heartbeat) // heartbeats kept the call waiting on the working replica
	dying.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("call after a replica died: %v", r.err)
	}
	if string(r.body) != `{"by":"alive"}` {
		t.Fatalf("answered %s", r.body)
	}
	if r.took > 20*time.Second {
		t.Errorf("the call took %s: it waited on the dead replica", r.took)
	}
}

// FuzzBatch: whatever bytes reach a batch endpoint, it answers one result per
// item or a client error, never a panic.
func FuzzBatch(f *testing.F) {
	for _, seed := range []string{`{"items":[]}`, `{"items":["a",1,null,{}]}`, `{"items":{}}`, `[]`, ``, "\xff", `{"items":[` + strings.Repeat("[", 50) + `]}`} {
		f.Add([]byte(seed))
	}
	h := mesh.Batch(echoLength, 2)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h(context.Background(), payload)
		if err != nil {
			var e *reward.Error
			if !errors.As(err, &e) || e.Code != reward.Invalid {
				t.Fatalf("%q: error %v, want invalid", payload, err)
			}
			return
		}
		var req struct{ Items []json.RawMessage }
		_ = json.Unmarshal(payload, &req)
		var resp struct{ Results []json.RawMessage }
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != len(req.Items) {
			t.Fatalf("%q: %d results for %d items (%v)", payload, len(resp.Results), len(req.Items), err)
		}
	})
}

// TestBatchEchoesIDs: a result carries its item's id whether or not the item function
// put it there, and whatever the result is, without touching one that has an id.
func TestBatchEchoesIDs(t *testing.T) {
	handler := mesh.Batch(func(_ context.Context, raw json.RawMessage) any {
		var in struct {
			Mode string `json:"mode"`
		}
		if err := mesh.DecodeItem(raw, &in); err != nil {
			return map[string]any{"error": err}
		}
		switch in.Mode {
		case "own":
			return map[string]any{"id": "own", "ok": true}
		case "empty":
			return struct{}{}
		case "list":
			return []int{1}
		}
		return map[string]any{"ok": true}
	}, 2)
	out, err := handler(t.Context(), []byte(`{"items":[
		{"id":"a","mode":"plain"},
		{"id":7,"mode":"own"},
		{"id":{"k":[1,2]},"mode":"empty"},
		{"id":"l","mode":"list"},
		{"mode":"plain"},
		{"id":"bad","mode":5},
		{"id":null,"mode":"plain"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Results []json.RawMessage }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := []string{
		`{"id":"a","ok":true}`,
		`{"id":"own","ok":true}`,
		`{"id":{"k":[1,2]}}`,
		`[1]`,
		`{"ok":true}`,
		`{"id":"bad","error":`,
		`{"ok":true}`,
	}
	for i, w := range want {
		if i >= len(got.Results) || !strings.HasPrefix(string(got.Results[i]), w) {
			t.Errorf("result %d = %s, want %s", i, got.Results[i], w)
		}
	}
}
