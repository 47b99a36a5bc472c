package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// call sends one chunk to op's service, retrying with backoff while every
// replica is busy (for up to BusyRetryFor; then the items answer busy), and
// checks that the answer has one result per item.
func (e *Engine) call(ctx context.Context, op Op, batch []json.RawMessage) ([]json.RawMessage, error) {
	payload, err := json.Marshal(map[string]any{"items": batch})
	if err != nil {
		return nil, reward.Errorf(reward.Internal, "encode batch: %v", err)
	}
	backoff := 20 * time.Millisecond
	giveUp := time.Now().Add(e.cfg.BusyRetryFor)
	for {
		start := time.Now()
		body, err := e.mesh.Call(ctx, op.Service, op.Name, payload)
		e.metrics.calls.WithLabelValues(op.Service, op.Name).Observe(time.Since(start).Seconds())
		if err == nil {
			return results(op, body, len(batch))
		}
		var busy *reward.Error
		if !errors.As(err, &busy) || busy.Code != reward.Busy || time.Now().Add(backoff).After(giveUp) {
			return nil, err
		}
		e.metrics.busy.WithLabelValues(op.Service).Inc()
		select {
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
			backoff = min(2*backoff, time.Second)
		case <-ctx.Done():
			return nil, err
		}
	}
}

// results reads a service's answer to a batch of n items.
func results(op Op, body []byte, n int) ([]json.RawMessage, error) {
	var resp struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, reward.Errorf(reward.Internal, "%s.%s answered undecodable JSON: %v", op.Service, op.Name, err)
	}
	if len(resp.Results) != n {
		return nil, reward.Errorf(reward.Internal, "%s.%s answered %d results for %d items", op.Service, op.Name, len(resp.Results), n)
	}
	return resp.Results, nil
}

// callRetryingBusyItems is call, and then resends the items that a service
// answered busy one by one (its queue was full), with backoff, for up to
// BusyRetryFor: a trainer wants its rewards more than it wants them at once.
// Items still busy after that answer busy. A whole batch (groups) is never split.
func (e *Engine) callRetryingBusyItems(ctx context.Context, op Op, batch []json.RawMessage) ([]json.RawMessage, error) {
	results, err := e.call(ctx, op, batch)
	if err != nil || op.Whole {
		return results, err
	}
	giveUp := time.Now().Add(e.cfg.BusyRetryFor)
	backoff := 50 * time.Millisecond
	for {
		var busy []int
		for i, r := range results {
			if errorCode(r) == reward.Busy {
				busy = append(busy, i)
			}
		}
		if len(busy) == 0 || time.Now().Add(backoff).After(giveUp) {
			return results, nil
		}
		e.metrics.busy.WithLabelValues(op.Service).Add(float64(len(busy)))
		select {
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
			backoff = min(2*backoff, time.Second)
		case <-ctx.Done():
			return results, nil
		}
		retry := make([]json.RawMessage, len(busy))
		for k, i := range busy {
			retry[k] = batch[i]
		}
		again, err := e.call(ctx, op, retry)
		if err != nil {
			return results, nil // the busy answers stand
		}
		for k, i := range busy {
			results[i] = again[k]
		}
	}
}

// CallItem sends one item to op's service, uncached, and returns its result, or
// the error of a call that got none. A call is tried again while every replica
// is busy, as every call is; beyond that the caller decides what to try again. A
// busy answer, the call's or the item's, is counted.
func (e *Engine) CallItem(ctx context.Context, op Op, item json.RawMessage) (json.RawMessage, error) {
	results, err := e.call(ctx, op, []json.RawMessage{item})
	var failed *reward.Error
	switch {
	case err == nil && errorCode(results[0]) == reward.Busy,
		errors.As(err, &failed) && failed.Code == reward.Busy:
		e.metrics.busy.WithLabelValues(op.Service).Inc()
	}
	if err != nil {
		return nil, err
	}
	return results[0], nil
}
