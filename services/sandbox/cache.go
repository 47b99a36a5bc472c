package sandbox

import (
	"container/list"
	"sync"
)

// binaryCache keeps compiled binaries by the hash of their source and flags, and
// makes identical compiles in flight wait for the first (singleflight).
type binaryCache struct {
	mu       sync.Mutex
	limit    int
	size     int
	order    *list.List // most recent first; values are keys
	entries  map[string]*compiled
	inflight map[string]*compiled
}

type compiled struct {
	done   chan struct{}
	result prepared
	binary []byte
	// binaryKey names binary's contents (its hash) to the agents, which keep
	// what they were sent (runner.File.Key).
	binaryKey string
	err       error
	elem      *list.Element
}

func newBinaryCache(limit int) *binaryCache {
	return &binaryCache{limit: limit, order: list.New(), entries: map[string]*compiled{}, inflight: map[string]*compiled{}}
}

// begin returns the entry for key and whether the caller must compile it (and
// then call finish). A finished entry has its done channel closed.
func (c *binaryCache) begin(key string) (*compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.order.MoveToFront(e.elem)
		return e, false
	}
	if e, ok := c.inflight[key]; ok {
		return e, false
	}
	e := &compiled{done: make(chan struct{})}
	c.inflight[key] = e
	return e, true
}

// finish publishes a compile. Failures of ours are not kept, nor compiles that
// ran out of time (a longer limit may finish them); compile errors are, since the
// same source fails the same way.
func (c *binaryCache) finish(key string, e *compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	close(e.done)
	if e.err != nil || e.result.compileTimedOut || len(e.binary)+len(e.result.compileOutput) > c.limit/4 {
		return
	}
	e.elem = c.order.PushFront(key)
	c.entries[key] = e
	c.size += len(e.binary) + len(e.result.compileOutput)
	for c.size > c.limit {
		last := c.order.Back()
		k := last.Value.(string)
		old := c.entries[k]
		c.order.Remove(last)
		delete(c.entries, k)
		c.size -= len(old.binary) + len(old.result.compileOutput)
	}
}
