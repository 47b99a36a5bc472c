package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// route is one batch operation of a service.
type route struct {
	service, op string
	cached      bool // results are a pure function of the item (less its id)
	whole       bool // the batch must reach the service in one call (groups)
}

// emitFunc receives item i's result as soon as it is known, from any goroutine.
type emitFunc func(i int, result json.RawMessage)

// dispatch answers every item through emit: from the cache, or from the service
// in chunks that replicas share. Identical items in one batch are scored once. It
// returns an error only when no item could reach the service at all, so that a
// synchronous caller can answer one whole-request error instead of N copies.
func (s *Server) dispatch(ctx context.Context, rt route, items []json.RawMessage, emit emitFunc) error {
	type pending struct {
		key     string
		hit     json.RawMessage // the cached answer, when there was one
		indexes []int           // every item with this key; the first is sent
	}
	var (
		work  []*pending
		byKey = map[string]*pending{}
	)
	for i, item := range items {
		key := ""
		if rt.cached {
			key = cacheKey(rt, item) // "" for a non-object: the service explains what is wrong
		}
		if key == "" {
			work = append(work, &pending{indexes: []int{i}})
			continue
		}
		if p, ok := byKey[key]; ok {
			if p.hit != nil {
				emit(i, withID(p.hit, itemID(item)))
			} else {
				p.indexes = append(p.indexes, i)
			}
			continue
		}
		p := &pending{key: key, indexes: []int{i}}
		byKey[key] = p
		if hit, ok := s.cache.Get(ctx, key); ok {
			s.metrics.items.WithLabelValues(rt.service, "cached").Inc()
			p.hit = hit
			emit(i, withID(hit, itemID(item)))
			continue
		}
		work = append(work, p)
	}
	if len(work) == 0 {
		return nil
	}

	size := s.cfg.ChunkSize
	if rt.whole {
		size = len(work)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures int
		firstErr error
	)
	for start := 0; start < len(work); start += size {
		chunk := work[start:min(start+size, len(work))]
		wg.Go(func() {
			batch := make([]json.RawMessage, len(chunk))
			for k, p := range chunk {
				batch[k] = items[p.indexes[0]]
			}
			results, err := s.callRetryingBusyItems(ctx, rt, batch)
			if err != nil {
				mu.Lock()
				failures += len(chunk)
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				failed := errorResult(err)
				for _, p := range chunk {
					for _, i := range p.indexes {
						emit(i, withID(failed, itemID(items[i])))
					}
				}
				s.metrics.items.WithLabelValues(rt.service, "error").Add(float64(len(chunk)))
				return
			}
			s.metrics.items.WithLabelValues(rt.service, "scored").Add(float64(len(chunk)))
			for k, p := range chunk {
				res := results[k]
				if p.key != "" && !hasError(res) {
					s.cache.Set(ctx, p.key, withID(res, nil))
				}
				for n, i := range p.indexes {
					if n == 0 {
						emit(i, res)
					} else {
						emit(i, withID(res, itemID(items[i])))
					}
				}
			}
		})
	}
	wg.Wait()
	if failures == len(work) && firstErr != nil {
		return firstErr
	}
	return nil
}

// call sends one chunk to the service, retrying with backoff while every replica
// is busy (for up to BusyRetryFor; then the items answer busy), and checks that the answer has one result per item.
func (s *Server) call(ctx context.Context, rt route, batch []json.RawMessage) ([]json.RawMessage, error) {
	payload, err := json.Marshal(map[string]any{"items": batch})
	if err != nil {
		return nil, reward.Errorf(reward.Internal, "encode batch: %v", err)
	}
	backoff := 20 * time.Millisecond
	giveUp := time.Now().Add(s.cfg.BusyRetryFor)
	for {
		start := time.Now()
		body, err := s.mesh.Call(ctx, rt.service, rt.op, payload)
		s.metrics.calls.WithLabelValues(rt.service, rt.op).Observe(time.Since(start).Seconds())
		if err == nil {
			var resp struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return nil, reward.Errorf(reward.Internal, "%s.%s answered undecodable JSON: %v", rt.service, rt.op, err)
			}
			if len(resp.Results) != len(batch) {
				return nil, reward.Errorf(reward.Internal, "%s.%s answered %d results for %d items", rt.service, rt.op, len(resp.Results), len(batch))
			}
			return resp.Results, nil
		}
		var e *reward.Error
		if !errors.As(err, &e) || e.Code != reward.Busy || time.Now().Add(backoff).After(giveUp) {
			return nil, err
		}
		s.metrics.busy.WithLabelValues(rt.service).Inc()
		select {
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
			backoff = min(2*backoff, time.Second)
		case <-ctx.Done():
			return nil, err
		}
	}
}

// callRetryingBusyItems is call, and then resends the items that a service
// answered busy one by one (its queue was full), with backoff, for up to
// BusyRetryFor: a trainer wants its rewards more than it wants them at once.
// Items still busy after that answer busy. A whole batch (groups) is never split.
func (s *Server) callRetryingBusyItems(ctx context.Context, rt route, batch []json.RawMessage) ([]json.RawMessage, error) {
	results, err := s.call(ctx, rt, batch)
	if err != nil || rt.whole {
		return results, err
	}
	giveUp := time.Now().Add(s.cfg.BusyRetryFor)
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
		s.metrics.busy.WithLabelValues(rt.service).Add(float64(len(busy)))
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
		again, err := s.call(ctx, rt, retry)
		if err != nil {
			return results, nil // the busy answers stand
		}
		for k, i := range busy {
			results[i] = again[k]
		}
	}
}

func errorCode(result json.RawMessage) reward.ErrorCode {
	var v struct {
		Error *reward.Error `json:"error"`
	}
	if json.Unmarshal(result, &v) != nil || v.Error == nil {
		return ""
	}
	return v.Error.Code
}

// cacheKey hashes the item without its id, its JSON normalized (keys sorted,
// numbers as written), so that the same question always finds the same answer.
func cacheKey(rt route, item json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ""
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	delete(obj, "id")
	norm, err := json.Marshal(obj)
	if err != nil {
		return ""
	}
	return cache.Key([]byte(rt.service), []byte(rt.op), norm)
}

// itemID returns the item's id as raw JSON, or nil.
func itemID(item json.RawMessage) json.RawMessage {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(item, &v) != nil {
		return nil
	}
	return v.ID
}

// withID returns result with its "id" set to id (removed when id is nil).
func withID(result json.RawMessage, id json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(result, &obj) != nil {
		return result
	}
	if len(id) == 0 || string(id) == "null" {
		delete(obj, "id")
	} else {
		obj["id"] = id
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return result
	}
	return b
}

func hasError(result json.RawMessage) bool {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	return json.Unmarshal(result, &v) != nil || (len(v.Error) > 0 && string(v.Error) != "null")
}

func errorResult(err error) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"error": reward.AsError(err)})
	return b
}
