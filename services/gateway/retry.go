package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The trainer protocols (/get_reward, /verify, /reward) carry one reward per
// sample and no place for an item's error, so a failure of the mesh is waited out
// for a while and then fails the whole request, retryably.

// itemAtFault says whether an item's error is the item's own (a bad label, a
// malformed row), which no retry mends, as opposed to a failure of the mesh.
func itemAtFault(e *reward.Error) bool {
	return !e.MeshFailed() && e.Code.HTTPStatus() < http.StatusInternalServerError
}

// scoreWaiting scores items for a trainer that waits on the answer: a short
// outage (a service restarting) is waited out for up to OutageWaitFor, so that
// the trainer sees it as a slow answer rather than a failure. Every item gets a
// result; one still unscored when the request ends is a retryable timeout. A math
// item with a blank gold answer is answered invalid unsent: the math service
// would score it 0 ("no_gold"), but from a trainer it is a row without its answer.
func (s *server) scoreWaiting(ctx context.Context, items []reward.Item) []reward.Result {
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
	s.engine.ScoreRetrying(ctx, send, s.cfg.OutageWaitFor, func(k int, r reward.Result) { results[at[k]] = r })
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
func itemFailure(e *reward.Error) *reward.Error {
	failure := *e
	failure.Retryable = e.MeshFailed()
	return &failure
}
