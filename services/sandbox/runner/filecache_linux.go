package runner

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// errNotCached: a file asked for by key alone is not in the agent's cache; the
// service sends it again with its contents (see Conn.Do).
var errNotCached = errors.New("not in the agent's file cache")

// fileCache keeps files the service sent with a Key (compiled artifacts) in
// sealed memfds, so a later submission in the same container names the file by
// key and its contents need not cross the stream again (a Go binary is some
// 1.5 MB, a Kotlin jar more, and each crossing is decoded in the agent's
// memory). The memfds live in the agent alone (close-on-exec; the agent is
// not dumpable, so no program reaches them through /proc), and their seals keep
// them unwritable by anyone. Their pages belong to the container's memory
// cgroup, held before any run starts, so a run's memory reading (the change
// from its start) leaves them out; the cache keeps to CacheBytes.
type fileCache struct {
	mu    sync.Mutex
	size  int64
	order *list.List // most recent first; values are *cachedFile
	byKey map[string]*list.Element
}

type cachedFile struct {
	key  string
	f    *os.File
	size int64
}

// put keeps data under key, evicting the least recently used beyond
// CacheBytes; a file over CacheFileBytes is not kept.
func (c *fileCache) put(key string, data []byte) error {
	if int64(len(data)) > CacheFileBytes {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.order, c.byKey = list.New(), map[string]*list.Element{}
	}
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return nil
	}
	fd, err := unix.MemfdCreate("rewardmesh-cache", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+key)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cache %s: %w", key, err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return fmt.Errorf("seal %s: %w", key, err)
	}
	for c.size+int64(len(data)) > CacheBytes && c.order.Len() > 0 {
		old := c.order.Remove(c.order.Back()).(*cachedFile)
		delete(c.byKey, old.key)
		c.size -= old.size
		old.f.Close()
	}
	c.byKey[key] = c.order.PushFront(&cachedFile{key: key, f: f, size: int64(len(data))})
	c.size += int64(len(data))
	return nil
}

// writeTo writes the file kept under key to w; errNotCached when none is.
func (c *fileCache) writeTo(key string, w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf := c.use(key)
	if cf == nil {
		return errNotCached
	}
	// The section reader is not an *os.File, so the copy goes through a
	// buffer: memfd to tmpfs, no system call the seals or cgroups mind.
	_, err := io.Copy(w, io.NewSectionReader(cf.f, 0, cf.size))
	return err
}

// dup is a new close-on-exec descriptor of the copy kept under key, which
// stays open when the cache lets the copy go; errNotCached when none is kept.
func (c *fileCache) dup(key string) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf := c.use(key)
	if cf == nil {
		return nil, errNotCached
	}
	return dupCloexec(cf.f)
}

// use is the copy kept under key, now the most recently used; nil when none
// is kept. c.mu is held.
func (c *fileCache) use(key string) *cachedFile {
	e, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedFile)
}

// dupCloexec is a new close-on-exec descriptor of f.
func dupCloexec(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
