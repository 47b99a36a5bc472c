// Package cache keeps reward results keyed by a hash of the normalized request:
// in memory by default, in Redis when one is given. A cache never fails a request:
// when Redis is away, lookups miss and writes are dropped, with a warning and a
// counted error.
package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Cache stores opaque results under string keys.
type Cache interface {
	// Get returns the stored value and true, or false on a miss or any failure.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores the value; failures are logged and counted, never returned.
	Set(ctx context.Context, key string, value []byte)
}

// Key hashes the parts of a normalized request into a cache key.
func Key(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		for i, l := 0, uint64(len(p)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:]) // length-prefix each part so ("ab","c") ≠ ("a","bc")
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Memory is a bounded least-recently-used cache.
type Memory struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	order   *list.List // front: most recently used
}

type entry struct {
	key   string
	value []byte
}

// NewMemory returns an LRU cache of at most max entries.
func NewMemory(max int) *Memory {
	if max <= 0 {
		max = 100_000
	}
	return &Memory{max: max, entries: make(map[string]*list.Element), order: list.New()}
}

func (m *Memory) Get(_ context.Context, key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok {
		return nil, false
	}
	m.order.MoveToFront(el)
	return el.Value.(*entry).value, true
}

func (m *Memory) Set(_ context.Context, key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		el.Value.(*entry).value = value
		m.order.MoveToFront(el)
		return
	}
	m.entries[key] = m.order.PushFront(&entry{key: key, value: value})
	for m.order.Len() > m.max {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.entries, oldest.Value.(*entry).key)
	}
}

// Len is the number of entries held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
