package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// jobsOn starts a server (with the given max payload; 0 is the default) and a Jobs
// on it.
func jobsOn(t *testing.T, maxPayload int32) (*mesh.Jobs, *mesh.Client) {
	t.Helper()
	c := start(t, maxPayload)
	jobs, err := mesh.NewJobs(t.Context(), c.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return jobs, c
}

// waitDone polls a job until it is done, or fails the test after 30 s.
func waitDone(t *testing.T, jobs *mesh.Jobs, id string) mesh.JobView {
	t.Helper()
	var view mesh.JobView
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if view, err = jobs.Get(t.Context(), id); err == nil && view.State == reward.JobDone {
			return view
		}
	}
	t.Fatalf("job %s not done: %+v, %v", id, view, err)
	return view
}

func work(t *testing.T, jobs *mesh.Jobs, score mesh.Scorer, concurrency int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = jobs.Work(ctx, score, concurrency)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// workThenDie runs a worker that answers what answer emits, then "dies" (its
// context ends) with the rest of the job unanswered; it returns once it is gone.
func workThenDie(t *testing.T, jobs *mesh.Jobs, answer func(emit func(int, reward.Result))) {
	t.Helper()
	ctx, kill := context.WithCancel(context.Background())
	answered, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = jobs.Work(ctx, func(ctx context.Context, _ []reward.Item, emit func(int, reward.Result)) {
			answer(emit)
			close(answered)
			<-ctx.Done()
		}, 1)
	}()
	<-answered
	kill()
	<-done
}

func echoScorer(_ context.Context, items []reward.Item, emit func(int, reward.Result)) {
	for i, it := range items {
		emit(i, reward.Result{ID: it.ID, Domain: it.Domain, Reward: float64(len(it.Response))})
	}
}

// TestJobResultTooLargeIsAnsweredWithAnError: an item whose result cannot fit in a
// message (here its echoed id) still gets an answer, and the job ends.
func TestJobResultTooLargeIsAnsweredWithAnError(t *testing.T) {
	jobs, _ := jobsOn(t, 64<<10)
	work(t, jobs, echoScorer, 2)
	huge, _ := json.Marshal(strings.Repeat("i", 80<<10))
	err := jobs.Submit(t.Context(), mesh.Job{ID: "big.1", Items: []reward.Item{
		{ID: json.RawMessage(`"small"`), Domain: reward.Math, Response: "ab"},
		{ID: huge, Domain: reward.Math, Response: "abc"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	view := waitDone(t, jobs, "big.1")
	if r := view.Results[0]; r == nil || r.Reward != 2 || string(r.ID) != `"small"` {
		t.Errorf("small item: %+v", r)
	}
	if r := view.Results[1]; r == nil || r.Error == nil || r.Error.Code != reward.TooLarge {
		t.Errorf("item with a huge id: %+v, want a too_large error", r)
	}
}

// TestJobEndsWithErrorsAfterItsLastTry: a job whose items never get results is tried
// MaxDeliver times, then every unanswered item gets an error and the job is done,
// rather than staying "running" while a trainer waits on it.
func TestJobEndsWithErrorsAfterItsLastTry(t *testing.T) {
	jobs, _ := jobsOn(t, 0)
	jobs.MaxDeliver = 2
	var mu sync.Mutex
	tries := 0
	work(t, jobs, func(_ context.Context, items []reward.Item, emit func(int, reward.Result)) {
		mu.Lock()
		tries++
		mu.Unlock()
		for i, it := range items {
			if it.Response == "answered" { // the other item never is
				emit(i, reward.Result{Reward: 1})
			}
		}
	}, 2)
	items := []reward.Item{{Domain: reward.Math, Response: "answered"}, {Domain: reward.Math, Response: "never"}}
	if err := jobs.Submit(t.Context(), mesh.Job{ID: "stuck.1", Items: items}); err != nil {
		t.Fatal(err)
	}
	view := waitDone(t, jobs, "stuck.1")
	if r := view.Results[0]; r == nil || r.Reward != 1 || r.Error != nil {
		t.Errorf("answered item: %+v", r)
	}
	if r := view.Results[1]; r == nil || r.Error == nil || !strings.Contains(r.Error.Message, "after 2 tries") {
		t.Errorf("unanswered item: %+v, want an error after 2 tries", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if tries != 2 {
		t.Errorf("scored %d times, want 2", tries)
	}
}

// TestJobsWaitingForASlotAreNotWorkedTwice: with more jobs queued than slots, each
// job is scored once, even when waiting takes longer than the ack wait.
func TestJobsWaitingForASlotAreNotWorkedTwice(t *testing.T) {
	jobs, _ := jobsOn(t, 0)
	jobs.AckWait = 500 * time.Millisecond
	var mu sync.Mutex
	scored := map[string]int{}
	work(t, jobs, func(ctx context.Context, items []reward.Item, emit func(int, reward.Result)) {
		mu.Lock()
		for _, it := range items {
			scored[it.Response]++
		}
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond) // three times the ack wait
		echoScorer(ctx, items, emit)
	}, 4)
	var ids []string
	for i := range 12 {
		ids = append(ids, fmt.Sprintf("q.%d", i))
	}
	for _, id := range ids {
		if err := jobs.Submit(t.Context(), mesh.Job{ID: id, Items: []reward.Item{{Domain: reward.Math, Response: id}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitDone(t, jobs, id)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if scored[id] != 1 {
			t.Errorf("job %s scored %d times, want once: %v", id, scored[id], scored)
		}
	}
}

// TestJobWorkerSurvivesItsConsumerBeingDeleted: the worker makes its consumer again
// and goes on working jobs.
func TestJobWorkerSurvivesItsConsumerBeingDeleted(t *testing.T) {
	jobs, c := jobsOn(t, 0)
	work(t, jobs, echoScorer, 2)
	if err := jobs.Submit(t.Context(), mesh.Job{ID: "before.1", Items: []reward.Item{{Domain: reward.Math, Response: "x"}}}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, jobs, "before.1")
	js, err := jetstream.New(c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(t.Context(), mesh.JobsStream, "rewardmesh-jobs-worker"); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Submit(t.Context(), mesh.Job{ID: "after.1", Items: []reward.Item{{Domain: reward.Math, Response: "xy"}}}); err != nil {
		t.Fatal(err)
	}
	if view := waitDone(t, jobs, "after.1"); view.Results[0] == nil || view.Results[0].Reward != 2 {
		t.Errorf("job after the consumer was deleted: %+v", view)
	}
}

// TestRedeliveredJobScoresARewardModelGroupWhole: a worker dies having answered part
// of an rm group; the next scores the unanswered members with the whole group (their
// rewards are normalized over it) and publishes only those.
func TestRedeliveredJobScoresARewardModelGroupWhole(t *testing.T) {
	jobs, _ := jobsOn(t, 0)
	jobs.AckWait = time.Second
	items := []reward.Item{
		{Domain: reward.RM, Response: "a", Group: "g"},
		{Domain: reward.RM, Response: "b", Group: "g"},
		{Domain: reward.RM, Response: "c", Group: "g"},
		{Domain: reward.Math, Response: "m"},
		{Domain: reward.Math, Response: "n"},
	}
	if err := jobs.Submit(t.Context(), mesh.Job{ID: "group.1", Items: items}); err != nil {
		t.Fatal(err)
	}
	workThenDie(t, jobs, func(emit func(int, reward.Result)) {
		emit(0, reward.Result{Reward: 3}) // normalized over the 3 members
		emit(3, reward.Result{Reward: 1})
	})

	var mu sync.Mutex
	var saw []string
	work(t, jobs, func(_ context.Context, items []reward.Item, emit func(int, reward.Result)) {
		size := map[string]int{}
		for _, it := range items {
			size[it.Group]++
		}
		mu.Lock()
		for _, it := range items {
			saw = append(saw, it.Response)
		}
		mu.Unlock()
		for i, it := range items {
			emit(i, reward.Result{Reward: float64(size[it.Group])})
		}
	}, 1)
	view := waitDone(t, jobs, "group.1")
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(saw, ""); got != "abcn" {
		t.Errorf("the second worker scored %q, want the group whole (abc) and the unanswered math item (n)", got)
	}
	for i, want := range []float64{3, 3, 3, 1} {
		if r := view.Results[i]; r == nil || r.Reward != want {
			t.Errorf("result %d = %+v, want reward %v", i, r, want)
		}
	}
}
