//go:build linux

package runner

import "sync"

// stdinStream is what OpStdin requests brought for a streamed run, kept in
// order until the program reads it. The agent's read loop never waits on it:
// a program that does not read its input holds up only its own stdin.
type stdinStream struct {
	mu     sync.Mutex
	ready  *sync.Cond
	pieces [][]byte
	closed bool // Close came: the program's stdin ends after the pieces
	over   bool // the run ended: nothing more is written
}

func newStdinStream() *stdinStream {
	st := &stdinStream{}
	st.ready = sync.NewCond(&st.mu)
	return st
}

// push adds a piece, and with close ends the stream after it.
func (st *stdinStream) push(piece []byte, close bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || st.over {
		return
	}
	if len(piece) > 0 {
		st.pieces = append(st.pieces, piece)
	}
	st.closed = close
	st.ready.Broadcast()
}

// next waits for the next piece; false means the stdin ends.
func (st *stdinStream) next() ([]byte, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.pieces) == 0 && !st.closed && !st.over {
		st.ready.Wait()
	}
	if st.over || len(st.pieces) == 0 {
		return nil, false
	}
	piece := st.pieces[0]
	st.pieces = st.pieces[1:]
	return piece, true
}

// end stops the stream: its run is over.
func (st *stdinStream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.over = true
	st.pieces = nil
	st.ready.Broadcast()
}

// openStdin makes the stdin of streamed run id, before any OpStdin for it.
func (a *Agent) openStdin(id uint64) {
	a.stdinMu.Lock()
	defer a.stdinMu.Unlock()
	if a.stdins == nil {
		a.stdins = map[uint64]*stdinStream{}
	}
	a.stdins[id] = newStdinStream()
}

// closeStdin forgets run id's stdin once the run is over.
func (a *Agent) closeStdin(id uint64) {
	a.stdinMu.Lock()
	st := a.stdins[id]
	delete(a.stdins, id)
	a.stdinMu.Unlock()
	if st != nil {
		st.end()
	}
}

// feedStdin passes an OpStdin request's piece to its run; one for a run that
// is over (or never was) is dropped: the program is gone.
func (a *Agent) feedStdin(req Request) {
	a.stdinMu.Lock()
	st := a.stdins[req.Run]
	a.stdinMu.Unlock()
	if st != nil {
		st.push(req.Stdin, req.Close)
	}
}

// stdinFor is run req's streamed stdin, nil when its stdin is req.Stdin.
func (a *Agent) stdinFor(req Request) *stdinStream {
	if !req.Stream {
		return nil
	}
	a.stdinMu.Lock()
	defer a.stdinMu.Unlock()
	return a.stdins[req.ID]
}
