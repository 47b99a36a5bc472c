package scoring

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// emitFunc receives item i's result as soon as it is known, from any goroutine.
type emitFunc func(i int, result json.RawMessage)

// Batch answers the items of a batch endpoint (op's own item shape) through emit,
// each as soon as it is known: from the cache, or from the service in chunks that
// replicas share. Identical items in one batch are scored once. It returns an
// error only when no item could reach the service at all, so that a synchronous
// caller can answer one whole-request error instead of N copies.
func (e *Engine) Batch(ctx context.Context, op Op, items []json.RawMessage, emit func(i int, result json.RawMessage)) error {
	read := make([]item, len(items))
	for i, raw := range items {
		read[i] = newItem(op, raw)
	}
	return e.dispatch(ctx, op, read, emit)
}

func (e *Engine) dispatch(ctx context.Context, op Op, items []item, emit emitFunc) error {
	work := e.answerFromCache(ctx, op, items, emit)
	if len(work) == 0 {
		return nil
	}
	return e.send(ctx, op, items, work, emit)
}

// pending is a distinct item the cache did not answer: every item of the batch
// with its key, the first of which is sent.
type pending struct {
	key     string
	hit     json.RawMessage // the cached answer, when there was one
	indexes []int
}

// answerFromCache emits what the cache knows and returns what is left to send:
// one pending entry per distinct item, a duplicate of which is answered with it.
func (e *Engine) answerFromCache(ctx context.Context, op Op, items []item, emit emitFunc) []*pending {
	var (
		work  []*pending
		byKey = map[string]*pending{}
	)
	for i, it := range items {
		if it.key == "" { // uncached, or not an object: the service explains what is wrong
			work = append(work, &pending{indexes: []int{i}})
			continue
		}
		if p, ok := byKey[it.key]; ok {
			if p.hit != nil {
				emit(i, withID(p.hit, it.id))
			} else {
				p.indexes = append(p.indexes, i)
			}
			continue
		}
		p := &pending{key: it.key, indexes: []int{i}}
		byKey[it.key] = p
		if hit, ok := e.cache.Get(ctx, it.key); ok {
			e.metrics.items.WithLabelValues(op.Service, "cached").Inc()
			p.hit = hit
			emit(i, withID(hit, it.id))
			continue
		}
		work = append(work, p)
	}
	return work
}

// send scores work in chunks, all at once; a whole op (groups) in one. It
// returns the first error when every chunk failed.
func (e *Engine) send(ctx context.Context, op Op, items []item, work []*pending, emit emitFunc) error {
	size := e.cfg.ChunkSize
	if op.Whole {
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
			if err := e.sendChunk(ctx, op, items, chunk, emit); err != nil {
				mu.Lock()
				failures += len(chunk)
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failures == len(work) && firstErr != nil {
		return firstErr
	}
	return nil
}

// sendChunk scores one chunk and answers every item that waits on it, caching
// what scored without an error. A chunk the service could not take answers each
// of its items with the call's error, which it returns.
func (e *Engine) sendChunk(ctx context.Context, op Op, items []item, chunk []*pending, emit emitFunc) error {
	batch := make([]json.RawMessage, len(chunk))
	for k, p := range chunk {
		batch[k] = items[p.indexes[0]].raw
	}
	results, err := e.callRetryingBusyItems(ctx, op, batch)
	if err != nil {
		failed := errorResult(err)
		for _, p := range chunk {
			for _, i := range p.indexes {
				emit(i, withID(failed, items[i].id))
			}
		}
		e.metrics.items.WithLabelValues(op.Service, "error").Add(float64(len(chunk)))
		return err
	}
	e.metrics.items.WithLabelValues(op.Service, "scored").Add(float64(len(chunk)))
	for k, p := range chunk {
		res := results[k]
		if p.key != "" && !hasError(res) {
			e.cache.Set(ctx, p.key, withID(res, nil))
		}
		for n, i := range p.indexes {
			if n == 0 {
				emit(i, res) // the item sent: the service echoed its id
			} else {
				emit(i, withID(res, items[i].id))
			}
		}
	}
	return nil
}

// cacheKey hashes the item without its id, its JSON normalized (keys sorted,
// numbers as written), so that the same question always finds the same answer;
// "" when op is not cached or the item is not an object.
func cacheKey(op Op, raw json.RawMessage) string {
	if !op.Cached {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
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
	return cache.Key([]byte(op.Service), []byte(op.Name), norm)
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

// errorCode is the code of the error a service answered for an item, or "".
func errorCode(result json.RawMessage) reward.ErrorCode {
	var v struct {
		Error *reward.Error `json:"error"`
	}
	if json.Unmarshal(result, &v) != nil || v.Error == nil {
		return ""
	}
	return v.Error.Code
}

// hasError says whether a result must not be cached: it failed, it does not
// read as a result at all, or its service marked it "no_cache" (it depends on
// more than the item: a math verdict a model judge was asked about).
func hasError(result json.RawMessage) bool {
	var v struct {
		Error   json.RawMessage `json:"error"`
		NoCache bool            `json:"no_cache"`
	}
	return json.Unmarshal(result, &v) != nil || v.NoCache || (len(v.Error) > 0 && string(v.Error) != "null")
}

func errorResult(err error) json.RawMessage {
	b, _ := json.Marshal(mesh.ItemError{Error: reward.AsError(err)})
	return b
}
