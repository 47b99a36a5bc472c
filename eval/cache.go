package eval

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// CacheFile is the name of the verdict cache inside an output folder.
const CacheFile = "judged.jsonl"

// Cache is the append-only record of every verdict a run obtained, keyed by a
// hash of everything that decides the verdict (code, tests, mode, limits,
// comparison, checker). Each batch is written and fsync'd before the run goes
// on, so a run killed at any point loses at most the batches in flight, and a
// rerun judges only what is not in the file.
type Cache struct {
	mu      sync.Mutex
	f       *os.File
	results map[string]JudgeResult
}

type cacheRecord struct {
	Key    string      `json:"key"`
	Result JudgeResult `json:"result"`
}

// OpenCache opens (creating if needed) the cache at path and loads it. A last
// line cut short by a crash is dropped, so the next append starts clean.
func OpenCache(path string) (*Cache, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	c := &Cache{f: f, results: make(map[string]JudgeResult)}
	good, err := c.load()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("trim cache: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek cache: %w", err)
	}
	return c, nil
}

// load reads every complete line and returns the offset past the last one.
func (c *Cache) load() (int64, error) {
	r := bufio.NewReaderSize(c.f, 1<<20)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An unterminated tail is a write the crash interrupted.
			return good, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read cache: %w", err)
		}
		var rec cacheRecord
		if json.Unmarshal(bytes.TrimSpace(line), &rec) == nil && rec.Key != "" {
			c.results[rec.Key] = rec.Result
		}
		good += int64(len(line))
	}
}

// Get returns the cached result for key.
func (c *Cache) Get(key string) (JudgeResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[key]
	return r, ok
}

// Len is the number of cached verdicts.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.results)
}

// Put appends results under keys in one write and syncs it to disk.
func (c *Cache) Put(keys []string, results []JudgeResult) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, k := range keys {
		r := results[i]
		r.ID = nil
		if err := enc.Encode(cacheRecord{Key: k, Result: r}); err != nil {
			return fmt.Errorf("encode cache record: %w", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to cache: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("sync cache: %w", err)
	}
	for i, k := range keys {
		r := results[i]
		r.ID = nil
		c.results[k] = r
	}
	return nil
}

// Close closes the file.
func (c *Cache) Close() error { return c.f.Close() }

// ItemKey is the cache key of an item: a hash of every field that decides its
// verdict. The id is left out; it only pairs a result with its request.
func ItemKey(item JudgeItem) (string, error) {
	item.ID = nil
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(item); err != nil {
		return "", fmt.Errorf("hash judge item: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
