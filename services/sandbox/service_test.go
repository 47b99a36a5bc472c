package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// newOfflineSandbox is a Sandbox with no Docker behind it: enough for what is
// decided before a container is needed (validation, extraction, admission).
func newOfflineSandbox(cfg Config) *Sandbox {
	cfg.defaults()
	return &Sandbox{
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.Concurrency),
		cpus:    make(chan struct{}, cfg.CPUs),
		waiting: make(chan struct{}, cfg.Concurrency+cfg.QueueSize),
		line:    make(chan struct{}, 1),
	}
}

func TestRewardWithoutCode(t *testing.T) {
	s := newOfflineSandbox(Config{})
	ref := `{"tests":[{"input":"1\n","output":"1\n"}]}`
	res := s.Reward(context.Background(), reward.Item{ID: json.RawMessage(`7`), Domain: reward.Code, Response: "I think the answer is print(1).", Reference: json.RawMessage(ref)})
	if res.Error != nil || res.Reward != 0 || string(res.ID) != "7" {
		t.Fatalf("result %+v", res)
	}
	var d RewardDetails
	if err := json.Unmarshal(res.Details, &d); err != nil {
		t.Fatal(err)
	}
	if d.Verdict != reward.CompileError || d.Total != 1 || d.Passed != 0 {
		t.Fatalf("details %+v", d)
	}
}

func TestRewardInvalid(t *testing.T) {
	s := newOfflineSandbox(Config{})
	cases := []struct {
		name string
		item reward.Item
	}{
		{"wrong domain", reward.Item{Domain: reward.Math, Response: "x", Reference: json.RawMessage(`{"tests":[{"input":"","output":""}]}`)}},
		{"no reference", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```"}},
		{"no tests", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"tests":[]}`)}},
		{"bad language", reward.Item{Domain: reward.Code, Response: "x", Reference: json.RawMessage(`{"language":"cobol","tests":[{"input":"","output":""}]}`)}},
		{"bad mode", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"mode":"interactive","tests":[{"input":"","output":""}]}`)}},
		{"functional without fn_name", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"mode":"functional","tests":[{"input":"1","output":"1"}]}`)}},
		{"functional args not JSON", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"mode":"functional","fn_name":"f","tests":[{"input":"x","output":"1"}]}`)}},
		{"bad compare", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"compare":"float:x","tests":[{"input":"","output":""}]}`)}},
		{"time limit too large", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"time_limit_ms":999999,"tests":[{"input":"","output":""}]}`)}},
		{"memory limit too large", reward.Item{Domain: reward.Code, Response: "```python\nprint(1)\n```", Reference: json.RawMessage(`{"memory_limit_mb":999999,"tests":[{"input":"","output":""}]}`)}},
		{"reference not an object", reward.Item{Domain: reward.Code, Response: "x", Reference: json.RawMessage(`[1]`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Reward(context.Background(), tc.item)
			if res.Error == nil || res.Error.Code != reward.Invalid {
				t.Fatalf("result %+v, want an invalid error", res)
			}
		})
	}
}

func TestAdmitBusy(t *testing.T) {
	s := newOfflineSandbox(Config{Concurrency: 1, QueueSize: 1})
	ctx := context.Background()
	release, err := s.admit(ctx)
	if err != nil {
		t.Fatalf("first admit: %v", err)
	}
	// The second waits in the queue; the third finds it full and is busy at once.
	waiting := make(chan error, 1)
	go func() {
		rel, err := s.admit(ctx)
		if err == nil {
			rel()
		}
		waiting <- err
	}()
	for len(s.waiting) < 2 {
		runtime.Gosched() // until the waiter has taken its queue place
	}
	if _, err := s.admit(ctx); reward.AsError(err).Code != reward.Busy {
		t.Fatalf("third admit: %v, want busy", err)
	}
	release()
	if err := <-waiting; err != nil {
		t.Fatalf("queued admit: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	release, _ = s.admit(ctx)
	cancel()
	if _, err := s.admit(cctx); err == nil {
		t.Fatalf("admit with a cancelled context succeeded while the slot was taken")
	}
	release()
}

// A queued admission waits past a full queue instead of answering busy, is
// served in arrival order, and gives up at its deadline.
func TestAdmitQueuedWaitsInOrder(t *testing.T) {
	s := newOfflineSandbox(Config{Concurrency: 1, QueueSize: 1})
	ctx := context.Background()
	release, err := s.admit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.admitQueued(short); reward.AsError(err).Code != reward.Timeout {
		t.Fatalf("queued admit past its deadline: %v, want timeout", err)
	}
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range 4 {
		wg.Go(func() {
			rel, err := s.admitQueued(ctx)
			if err != nil {
				t.Errorf("queued admit %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			rel()
		})
		time.Sleep(20 * time.Millisecond) // so that each is in line before the next
	}
	if _, err := s.admit(ctx); reward.AsError(err).Code != reward.Busy {
		t.Fatalf("a plain admit with the queue full: %v, want busy", err)
	}
	release()
	wg.Wait()
	if fmt.Sprint(order) != "[0 1 2 3]" {
		t.Fatalf("admitted in order %v, want arrival order", order)
	}
}

func TestEndpoints(t *testing.T) {
	s := newOfflineSandbox(Config{})
	var names []string
	for _, ep := range s.Endpoints() {
		names = append(names, ep.Name)
	}
	if len(names) != 3 || names[0] != "run" || names[1] != "judge" || names[2] != "rewards" {
		t.Fatalf("endpoints %v, want run, judge, rewards", names)
	}
	// A batch with an invalid item answers that item with an error, not the batch.
	out, err := s.Endpoints()[1].Handler(context.Background(), []byte(`{"items":[{"language":"cobol","source":"x","tests":[{"input":"","output":""}]}]}`))
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	var resp struct {
		Results []struct {
			Error *reward.Error `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != 1 || resp.Results[0].Error == nil || resp.Results[0].Error.Code != reward.Invalid {
		t.Fatalf("batch answer %s (%v)", out, err)
	}
}

func TestLimits(t *testing.T) {
	s := newOfflineSandbox(Config{ContainerMemoryMB: 2048, TestParallel: 2})
	lim, err := s.limits(1000, 256)
	if err != nil {
		t.Fatal(err)
	}
	if lim.CPUMillis != 1000 || lim.WallMillis != 1500 || lim.MemoryBytes != 256<<20 {
		t.Fatalf("limits %+v", lim)
	}
	lim, err = s.limits(0, 0)
	if err != nil || lim.CPUMillis != 6000 || lim.WallMillis != 9000 || lim.MemoryBytes != int64(s.cfg.maxTestMemoryMB())<<20 {
		t.Fatalf("default limits %+v %v", lim, err)
	}
	if _, err := s.limits(-1, 0); err == nil {
		t.Fatalf("negative time limit accepted")
	}
}
