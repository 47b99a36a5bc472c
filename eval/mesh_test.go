package eval

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// TestMeshJudge serves a stand-in judge endpoint on the real subject
// (rewardmesh.sandbox.v1.judge) and checks the mesh judge's batches, order and
// retry of a busy service.
func TestMeshJudge(t *testing.T) {
	nc := evaltest.StartNATS(t)
	var calls, busy atomic.Int32
	busy.Store(1)
	batch := mesh.Batch(func(ctx context.Context, raw json.RawMessage) any {
		var it JudgeItem
		if err := mesh.DecodeItem(raw, &it); err != nil {
			return JudgeResult{Error: err}
		}
		return fakeVerdict(it.Source, 2)
	}, 0)
	svc, err := mesh.Serve(nc, mesh.Config{Name: "sandbox", Endpoints: []mesh.Endpoint{{Name: "judge", Handler: func(ctx context.Context, payload []byte) ([]byte, error) {
		calls.Add(1)
		if busy.Add(-1) >= 0 {
			return nil, reward.Errorf(reward.Busy, "all containers taken")
		}
		return batch(ctx, payload)
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(time.Second)

	j := NewMeshJudge(nc)
	j.Limits.MaxItems = 3
	j.Backoff = Backoff{Attempts: 4, Min: time.Millisecond, Max: 5 * time.Millisecond}
	items := []JudgeItem{{Source: "a"}, {Source: "WRONG"}, {Source: "CRASH"}, {Source: "d"}}
	for i := range items {
		items[i].Tests = json.RawMessage(`[]`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := j.Judge(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []reward.Verdict{"AC", "WA", "RE", "AC"}
	for i, r := range res {
		if r.Verdict != want[i] || r.Total != 2 {
			t.Errorf("result %d: %+v, want %s of 2 tests", i, r, want[i])
		}
	}
	if got := calls.Load(); got != 3 { // one busy, then batches of 3 and 1
		t.Errorf("%d calls, want 3", got)
	}
}

func TestMeshJudgeNoSandbox(t *testing.T) {
	nc := evaltest.StartNATS(t)
	j := NewMeshJudge(nc)
	j.Backoff = Backoff{Attempts: 2, Min: time.Millisecond, Max: time.Millisecond}
	_, err := j.Judge(context.Background(), []JudgeItem{{Source: "a", Tests: json.RawMessage(`[]`)}})
	if err == nil || reward.AsError(err).Code != reward.Unavailable {
		t.Errorf("err = %v, want unavailable after retries", err)
	}
}
