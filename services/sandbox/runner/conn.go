package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrAgentGone reports that the agent stopped answering: its container died or
// was killed, or its stream broke. The request's outcome is unknown.
var ErrAgentGone = errors.New("sandbox agent is gone")

// Conn is the service's side of one agent's stream: requests go out as frames,
// answers come back matched by id, so a ping or a write need not wait behind a
// run. It is safe for concurrent use.
type Conn struct {
	w      io.Writer
	closer io.Closer
	diag   func() string // what the agent said on stderr, for the error when it goes

	wmu    sync.Mutex
	mu     sync.Mutex
	wait   map[uint64]chan Response
	nextID uint64
	dead   chan struct{}
	err    error // why the stream ended, set before dead closes
	once   sync.Once
}

// NewConn speaks to an agent whose answers arrive on r and whose requests go to
// w; closer ends the stream (the agent sees EOF and exits); diag, when not nil,
// tells what the agent wrote on stderr, to explain a broken stream.
func NewConn(r io.Reader, w io.Writer, closer io.Closer, diag func() string) *Conn {
	c := &Conn{w: w, closer: closer, diag: diag, wait: map[uint64]chan Response{}, dead: make(chan struct{})}
	go c.read(r)
	return c
}

func (c *Conn) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		var resp Response
		if err := ReadFrame(br, &resp); err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the agent closed its stream")
			}
			if c.diag != nil {
				if tail := c.diag(); tail != "" {
					err = fmt.Errorf("%w (agent stderr: %s)", err, tail)
				}
			}
			c.Close(err)
			return
		}
		c.mu.Lock()
		ch := c.wait[resp.ID]
		delete(c.wait, resp.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
}

// Close ends the stream, giving why to the requests still waiting.
func (c *Conn) Close(why error) {
	c.once.Do(func() {
		c.err = why
		close(c.dead)
		_ = c.closer.Close()
	})
}

// Alive reports whether the agent's stream is still open.
func (c *Conn) Alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

// Do sends one request and waits for its answer. A request abandoned by ctx
// leaves the agent in an unknown state; its owner must then not reuse it.
func (c *Conn) Do(ctx context.Context, req Request) (Response, error) {
	ch := make(chan Response, 1)
	c.mu.Lock()
	c.nextID++
	req.ID = c.nextID
	c.wait[req.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.wait, req.ID)
		c.mu.Unlock()
	}()
	c.wmu.Lock()
	if d, ok := c.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	err := WriteFrame(c.w, req)
	c.wmu.Unlock()
	if err != nil {
		c.Close(err)
		return Response{}, fmt.Errorf("%w: send %s: %v", ErrAgentGone, req.Op, err)
	}
	select {
	case resp := <-ch:
		if resp.Error != "" && resp.Status == "" {
			return resp, fmt.Errorf("agent %s: %s", req.Op, resp.Error)
		}
		return resp, nil
	case <-c.dead:
		return Response{}, fmt.Errorf("%w: %v", ErrAgentGone, c.err)
	case <-ctx.Done():
		return Response{}, fmt.Errorf("agent %s: %w", req.Op, ctx.Err())
	}
}
