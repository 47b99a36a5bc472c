package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The batch protocol every service op speaks: `{"items":[...]}` in,
// `{"results":[...]}` out, one result per item in item order, and an item that
// fails alone answered with its error in its place. The helpers below are what
// every service (and the gateway, which sends the batches) needs of it.

// ItemFunc scores one item of a batch. A failure of the item alone belongs in the
// returned result (with an "error" field), never in a Go error: it must not fail
// the items beside it.
type ItemFunc func(ctx context.Context, item json.RawMessage) any

// Batch turns an ItemFunc into a Handler for `{"items":[...]}` →
// `{"results":[...]}`, results in item order, at most parallel items at once
// (GOMAXPROCS when parallel ≤ 0).
func Batch(fn ItemFunc, parallel int) Handler {
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		items, err := DecodeBatch(payload)
		if err != nil {
			return nil, err
		}
		results := make([]any, len(items))
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for i, item := range items {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				results[i] = withID(item, fn(ctx, item))
			})
		}
		wg.Wait()
		return EncodeResults(results)
	}
}

// DecodeBatch reads a batch request's items, each left undecoded for its op.
func DecodeBatch(payload []byte) ([]json.RawMessage, error) {
	var req struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, reward.Errorf(reward.Invalid, "decode batch: %v", err)
	}
	return req.Items, nil
}

// EncodeResults is a batch's answer: `{"results":[...]}`.
func EncodeResults[T any](results []T) ([]byte, error) {
	out, err := json.Marshal(struct {
		Results []T `json:"results"`
	}{results})
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	return out, nil
}

// DecodeItem decodes one batch item into v, with the error a client can act on.
func DecodeItem(item json.RawMessage, v any) *reward.Error {
	if err := json.Unmarshal(item, v); err != nil {
		return reward.Errorf(reward.Invalid, "decode item: %v", err)
	}
	return nil
}

// ItemID is the item's "id" as raw JSON, or nil when it has none or is not an
// object: what an answer echoes, also for an item that did not decode.
func ItemID(item json.RawMessage) json.RawMessage {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(item, &v) != nil {
		return nil
	}
	return v.ID
}

// ItemError is the result of an item that failed on its own:
// `{"id"?, "error":{"code","message"}}`.
type ItemError struct {
	ID    json.RawMessage `json:"id,omitempty"`
	Error *reward.Error   `json:"error"`
}

// withID returns result as JSON, with the item's id in it when the item has one and
// the result does not: every endpoint echoes ids, as the API promises, also for an
// item that failed to decode, whichever service answers it.
func withID(item json.RawMessage, result any) any {
	out, err := json.Marshal(result)
	if err != nil || len(out) < 2 || out[0] != '{' {
		return result
	}
	// Results that carry an id put it first (reward.Result and the services' own
	// types do): then neither side needs decoding, which keeps this off the hot path.
	if bytes.HasPrefix(out, []byte(`{"id":`)) {
		return json.RawMessage(out)
	}
	id := ItemID(item)
	if len(id) == 0 || string(id) == "null" {
		return json.RawMessage(out)
	}
	var has struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(out, &has) == nil && len(has.ID) > 0 {
		return json.RawMessage(out)
	}
	spliced := make([]byte, 0, len(out)+len(id)+7)
	spliced = append(spliced, `{"id":`...)
	spliced = append(spliced, id...)
	if len(out) > 2 {
		spliced = append(spliced, ',')
	}
	spliced = append(spliced, out[1:]...)
	return json.RawMessage(spliced)
}
