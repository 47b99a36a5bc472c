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

	wmu  sync.Mutex
	mu   sync.Mutex
	wait map[uint64]chan Response
	// streams take the Partial pieces of streamed runs, by run id.
	streams map[uint64]func([]byte)
	// resets take the answers to runs' ResetAfter, by run id; reset is the
	// last one asked for (see AwaitReset).
	resets map[uint64]chan Response
	reset  chan Response
	nextID uint64
	// held are the keys of files the agent was sent with their data and so
	// keeps (see File.Key), unless it has let them go since.
	held map[string]bool
	dead chan struct{}
	err  error // why the stream ended, set before dead closes
	once sync.Once
}

// NewConn speaks to an agent whose answers arrive on r and whose requests go to
// w; closer ends the stream (the agent sees EOF and exits); diag, when not nil,
// tells what the agent wrote on stderr, to explain a broken stream.
func NewConn(r io.Reader, w io.Writer, closer io.Closer, diag func() string) *Conn {
	c := &Conn{w: w, closer: closer, diag: diag, wait: map[uint64]chan Response{}, streams: map[uint64]func([]byte){}, resets: map[uint64]chan Response{}, dead: make(chan struct{})}
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
		if resp.Partial {
			out := c.streams[resp.ID]
			c.mu.Unlock()
			if out != nil {
				out(resp.Stdout)
			}
			continue
		}
		if resp.Reset {
			ch := c.resets[resp.ID]
			delete(c.resets, resp.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- resp
			}
			continue
		}
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
	return c.do(ctx, req, nil, nil)
}

// Stream runs req as a streamed run (Request.Stream): what arrives on in is
// the program's stdin, which ends when in is closed; its stdout goes to out,
// piece by piece, as the program writes it. out is called from the stream's
// reader and must not wait long. Stream reads in until it is closed, even
// after the run is over, so a sender never blocks on it.
func (c *Conn) Stream(ctx context.Context, req Request, in <-chan []byte, out func([]byte)) (Response, error) {
	req.Stream = true
	return c.do(ctx, req, in, out)
}

// AwaitReset waits for the answer to the reset the last run with ResetAfter
// asked for. asked is false when no run since the last AwaitReset asked for
// one (send OpReset then); err is set when the agent went before answering it.
func (c *Conn) AwaitReset(ctx context.Context) (resp Response, asked bool, err error) {
	c.mu.Lock()
	ch := c.reset
	c.reset = nil
	c.mu.Unlock()
	if ch == nil {
		return Response{}, false, nil
	}
	select {
	case resp = <-ch:
		if resp.Error != "" {
			return resp, true, fmt.Errorf("agent reset: %s", resp.Error)
		}
		return resp, true, nil
	case <-c.dead:
		return Response{}, true, fmt.Errorf("%w: %v", ErrAgentGone, c.err)
	case <-ctx.Done():
		return Response{}, true, fmt.Errorf("agent reset: %w", ctx.Err())
	}
}

func (c *Conn) send(req Request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if d, ok := c.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	return WriteFrame(c.w, req)
}

func (c *Conn) do(ctx context.Context, req Request, in <-chan []byte, out func([]byte)) (Response, error) {
	if in != nil {
		// A streamed run is never sent twice (its stdin would be gone).
		return c.doOnce(ctx, req, in, out)
	}
	sent, keyed := c.byKey(req)
	if !keyed {
		return c.doOnce(ctx, req, in, out)
	}
	resp, err := c.doOnce(ctx, sent, in, out)
	if err == nil && resp.NotCached {
		c.forget(sent)
		resp, err = c.doOnce(ctx, req, in, out)
	}
	if err == nil && !resp.NotCached {
		c.keep(req)
	}
	return resp, err
}

// byKey is req with the data left out of every keyed file the agent keeps;
// keyed reports whether req has keyed files at all.
func (c *Conn) byKey(req Request) (Request, bool) {
	keyed, held := false, false
	for _, f := range req.Files {
		if f.Key != "" {
			keyed = true
		}
	}
	if !keyed {
		return req, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	files := make(map[string]File, len(req.Files))
	for name, f := range req.Files {
		if f.Key != "" && c.held[f.Key] {
			f.Data, held = nil, true
		}
		files[name] = f
	}
	if held {
		req.Files = files
	}
	return req, true
}

// keep notes the keyed files req sent with their data: the agent keeps them.
func (c *Conn) keep(req Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range req.Files {
		if f.Key != "" && len(f.Data) > 0 && int64(len(f.Data)) <= CacheFileBytes {
			if c.held == nil {
				c.held = map[string]bool{}
			}
			c.held[f.Key] = true
		}
	}
}

// forget notes that the agent no longer keeps the files req named by key.
func (c *Conn) forget(req Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range req.Files {
		if f.Key != "" && len(f.Data) == 0 {
			delete(c.held, f.Key)
		}
	}
}

func (c *Conn) doOnce(ctx context.Context, req Request, in <-chan []byte, out func([]byte)) (Response, error) {
	ch := make(chan Response, 1)
	c.mu.Lock()
	c.nextID++
	req.ID = c.nextID
	c.wait[req.ID] = ch
	if req.ResetAfter {
		c.reset = make(chan Response, 1)
		c.resets[req.ID] = c.reset
	}
	if out != nil {
		c.streams[req.ID] = out
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.wait, req.ID)
		delete(c.streams, req.ID)
		c.mu.Unlock()
	}()
	err := c.send(req)
	if err != nil {
		c.Close(err)
		return Response{}, fmt.Errorf("%w: send %s: %v", ErrAgentGone, req.Op, err)
	}
	if in != nil {
		// The pieces go out in order, after the run itself; once the run is
		// over they are dropped (the agent would drop them too).
		go func() {
			for piece := range in {
				_ = c.send(Request{Op: OpStdin, Run: req.ID, Stdin: piece})
			}
			_ = c.send(Request{Op: OpStdin, Run: req.ID, Close: true})
		}()
	}
	select {
	case resp := <-ch:
		if resp.NotCached {
			// Nothing ran, and no reset answer follows: the request goes again.
			c.mu.Lock()
			if c.resets[req.ID] == c.reset {
				c.reset = nil
			}
			delete(c.resets, req.ID)
			c.mu.Unlock()
			return resp, nil
		}
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
