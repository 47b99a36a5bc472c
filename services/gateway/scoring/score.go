package scoring

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// rewardItem is a mixed-domain reward item read once: the item, the op that
// scores its domain and what is sent on; or why it was refused unsent.
type rewardItem struct {
	reward.Item
	op      Op
	sent    item
	refused *reward.Error
}

// readRewardItem reads a /v1/rewards item as the client sent it.
func readRewardItem(raw json.RawMessage) rewardItem {
	var it reward.Item
	if err := json.Unmarshal(raw, &it); err != nil {
		return rewardItem{Item: reward.Item{ID: mesh.ItemID(raw)}, refused: reward.Errorf(reward.Invalid, "decode item: %v", err)}
	}
	return routed(it, raw)
}

// newRewardItem is a reward item decoded already (a job's, a trainer
// protocol's), encoded once for the service.
func newRewardItem(it reward.Item) rewardItem {
	raw, err := json.Marshal(it)
	if err != nil {
		return rewardItem{refused: reward.Errorf(reward.Invalid, "encode item: %v", err)}
	}
	return routed(it, raw)
}

// routed finds the op that scores the item; raw is the item as it is sent on,
// whose JSON the cache key hashes.
func routed(it reward.Item, raw json.RawMessage) rewardItem {
	op, ok := rewardsOp(it.Domain)
	if !ok {
		return rewardItem{Item: it, refused: reward.Errorf(reward.Invalid, "unknown domain %q: use one of %v", it.Domain, reward.Domains)}
	}
	return rewardItem{Item: it, op: op, sent: item{raw: raw, id: it.ID, key: cacheKey(op, raw)}}
}

// result reads the service's answer to the item, filling in what it left out.
func (ri rewardItem) result(answer json.RawMessage) reward.Result {
	var res reward.Result
	if err := json.Unmarshal(answer, &res); err != nil {
		res = reward.Result{Error: reward.Errorf(reward.Internal, "%s answered an undecodable result", ri.op.Service)}
	}
	if res.ID == nil {
		res.ID = ri.ID
	}
	if res.Domain == "" {
		res.Domain = ri.Domain
	}
	return res
}

// Score answers mixed-domain reward items (/v1/rewards), each through emit as
// soon as it is known: items go to their domain's service, every service at
// once. It returns an error only when no item reached a service.
func (e *Engine) Score(ctx context.Context, items []json.RawMessage, emit func(i int, r reward.Result)) error {
	read := make([]rewardItem, len(items))
	for i, raw := range items {
		read[i] = readRewardItem(raw)
	}
	return e.score(ctx, read, emit)
}

func (e *Engine) score(ctx context.Context, items []rewardItem, emit func(int, reward.Result)) error {
	byOp := map[Op][]int{} // the items each op scores, by index
	var ops []Op
	for i, it := range items {
		if it.refused != nil {
			emit(i, reward.Failed(it.Item, it.refused))
			continue
		}
		if _, ok := byOp[it.op]; !ok {
			ops = append(ops, it.op)
		}
		byOp[it.op] = append(byOp[it.op], i)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, op := range ops {
		at := byOp[op]
		wg.Go(func() {
			sent := make([]item, len(at))
			for k, i := range at {
				sent[k] = items[i].sent
			}
			err := e.dispatch(ctx, op, sent, func(k int, answer json.RawMessage) {
				emit(at[k], items[at[k]].result(answer))
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(ops) > 0 && len(errs) == len(ops) {
		return errs[0]
	}
	return nil
}

// ScoreJob scores a job's items for the job worker (it is a mesh.Scorer), as
// /v1/rewards does, with one difference: nobody waits on a job, so an item the
// mesh could not score now (a service restarting, NATS reconnecting, every
// replica busy) is tried again with backoff for up to JobRetryFor before its
// error is published, a reward-model group whole. Items unanswered when ctx ends
// leave the job unacked, for another worker.
func (e *Engine) ScoreJob(ctx context.Context, items []reward.Item, emit func(int, reward.Result)) {
	e.ScoreRetrying(ctx, items, e.cfg.JobRetryFor, emit)
}

// ScoreRetrying scores items as Score does, and then sends again, with backoff,
// the items the mesh could not score now (a service restarting, NATS
// reconnecting, every replica busy) until retryFor has passed; an item still
// failing then is emitted with its last error. A reward-model group is retried
// whole: its rewards are normalized over the members scored together, so none is
// emitted until the whole group has scored in one request. Items still waiting
// when ctx ends are not emitted.
func (e *Engine) ScoreRetrying(ctx context.Context, items []reward.Item, retryFor time.Duration, emit func(int, reward.Result)) {
	read := make([]rewardItem, len(items))
	pending := make([]int, len(items))
	for i, it := range items {
		read[i], pending[i] = newRewardItem(it), i
	}
	giveUp := time.Now().Add(retryFor)
	backoff := 250 * time.Millisecond
	for len(pending) > 0 {
		batch := make([]rewardItem, len(pending))
		for k, i := range pending {
			batch[k] = read[i]
		}
		var mu sync.Mutex
		got := make(map[int]reward.Result, len(pending))
		// score's error only repeats what every item's result already says.
		_ = e.score(ctx, batch, func(k int, r reward.Result) {
			mu.Lock()
			got[pending[k]] = r
			mu.Unlock()
		})
		var retry func(int) bool
		if time.Now().Add(backoff).Before(giveUp) {
			retry = meshFailedWithGroup(items, got)
		}
		var again []int
		for _, i := range pending {
			if retry != nil && retry(i) {
				again = append(again, i)
			} else if r, ok := got[i]; ok {
				emit(i, r)
			}
		}
		if len(again) == 0 {
			return
		}
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		case <-ctx.Done():
			return
		}
		pending = again
	}
}

// meshFailedWithGroup says which items to send again: each whose result is a
// failure of the mesh, and every member of such an item's reward-model group.
func meshFailedWithGroup(items []reward.Item, got map[int]reward.Result) func(i int) bool {
	failed := map[int]bool{}
	failedGroup := map[string]bool{}
	for i, r := range got {
		if r.Error.MeshFailed() {
			failed[i] = true
			if g := items[i].NormalizedGroup(); g != "" {
				failedGroup[g] = true
			}
		}
	}
	return func(i int) bool { return failed[i] || failedGroup[items[i].NormalizedGroup()] }
}
