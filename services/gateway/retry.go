package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// meshFailed says whether an item's error is a failure of the mesh rather than
// of the item (a service not reachable now, a silent replica, every replica
// busy): the same item sent again later may well be scored.
func meshFailed(e *reward.Error) bool {
	return e != nil && (e.Retryable || e.Code == reward.Busy)
}

// itemAtFault says whether an item's error is the item's own (a bad label, a
// malformed row), which no retry mends, as opposed to a failure of the mesh.
func itemAtFault(e *reward.Error) bool {
	return !meshFailed(e) && e.Code.HTTPStatus() < http.StatusInternalServerError
}

// scoreRetrying is score, and then sends again, with backoff, the items the mesh
// could not score now (a service restarting, NATS reconnecting, every replica
// busy) until retryFor has passed; an item still failing then is emitted with its
// last error. A reward-model group is retried whole: its rewards are normalized
// over the members scored together, so none is emitted until the whole group has
// scored in one request. Items still waiting when ctx ends are not emitted.
func (s *Server) scoreRetrying(ctx context.Context, items []reward.Item, retryFor time.Duration, emit func(int, reward.Result)) {
	raw := make([]json.RawMessage, len(items))
	for i, item := range items {
		raw[i], _ = json.Marshal(item)
	}
	pending := make([]int, len(items))
	for i := range pending {
		pending[i] = i
	}
	giveUp := time.Now().Add(retryFor)
	backoff := 250 * time.Millisecond
	for len(pending) > 0 {
		batch := make([]json.RawMessage, len(pending))
		for k, i := range pending {
			batch[k] = raw[i]
		}
		var mu sync.Mutex
		got := make(map[int]reward.Result, len(pending))
		// score's error only repeats what every item's result already says.
		_ = s.score(ctx, batch, func(k int, r reward.Result) {
			mu.Lock()
			got[pending[k]] = r
			mu.Unlock()
		})
		retry := map[int]bool{}
		retryGroup := map[string]bool{}
		if time.Now().Add(backoff).Before(giveUp) {
			for i, r := range got {
				if meshFailed(r.Error) {
					retry[i] = true
					if g := items[i].NormalizedGroup(); g != "" {
						retryGroup[g] = true
					}
				}
			}
		}
		var again []int
		for _, i := range pending {
			if retry[i] || retryGroup[items[i].NormalizedGroup()] {
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

// scoreWaiting scores items for a trainer that waits on the answer: a short
// outage (a service restarting) is waited out for up to OutageWaitFor, so that
// the trainer sees it as a slow answer rather than a failure. Every item gets a
// result; one still unscored when the request ends is a retryable timeout. A math
// item with a blank gold answer is answered invalid unsent: the math service
// would score it 0 ("no_gold"), but from a trainer it is a row without its answer.
func (s *Server) scoreWaiting(ctx context.Context, items []reward.Item) []reward.Result {
	results := make([]reward.Result, len(items))
	var send []reward.Item
	var at []int
	for i, item := range items {
		if blankGold(item) {
			results[i] = reward.Failed(item, reward.Errorf(reward.Invalid, "the math gold answer is blank: the row lacks its answer"))
			continue
		}
		results[i] = reward.Failed(item, &reward.Error{Code: reward.Timeout,
			Message: "the request ended before this item was scored", Retryable: true})
		send = append(send, item)
		at = append(at, i)
	}
	s.scoreRetrying(ctx, send, s.cfg.OutageWaitFor, func(k int, r reward.Result) { results[at[k]] = r })
	return results
}

// blankGold says whether item is a math item whose gold answer is blank.
func blankGold(item reward.Item) bool {
	if item.Domain != reward.Math {
		return false
	}
	var ref struct {
		Gold json.RawMessage `json:"gold"`
	}
	var gold string
	return json.Unmarshal(item.Reference, &ref) == nil && json.Unmarshal(ref.Gold, &gold) == nil && strings.TrimSpace(gold) == ""
}

// itemFailure turns the error of the single item a trainer protocol carries into
// the whole request's failure: 4xx for an item that is wrong itself, which no
// retry mends; 429/5xx, marked retryable, for a mesh that could not score it.
func itemFailure(e *reward.Error) *httpError {
	body := *e
	body.Retryable = meshFailed(e)
	status := e.Code.HTTPStatus()
	if body.Retryable && status < http.StatusInternalServerError && status != http.StatusTooManyRequests {
		status = http.StatusServiceUnavailable // a retryable failure must read as one to every client
	}
	return &httpError{status: status, body: body}
}
