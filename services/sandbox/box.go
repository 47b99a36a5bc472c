package sandbox

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/rewardmesh/rewardmesh/services/sandbox/pool"
	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

// The seam between judging and where programs run, as go-judge separates the
// two: the judge (verdicts, comparisons, checkers, the functional harness, the
// compile cache) speaks the runner protocol to a Box, and knows nothing of
// Docker. In production a box is a container of a warm pool (docker.go); in
// tests it can be an agent in the test's own process (LocalBoxes), so verdict
// logic is tested in milliseconds without Docker.

// Box is one submission's place to run: a runner agent and a work directory
// that no other submission sees while it holds the box.
type Box interface {
	Do(ctx context.Context, req runner.Request) (runner.Response, error)
}

// Boxes hands out the boxes of one language.
type Boxes interface {
	// Acquire returns a box ready for a submission, waiting for one if needed;
	// after Close it returns an error wrapping ErrBoxesClosed.
	Acquire(ctx context.Context) (Box, error)
	// TryAcquire returns a box only if one is ready now, else nil.
	TryAcquire() Box
	// Release gives a box back after a submission: nothing of it stays for
	// the next one.
	Release(Box)
	// Discard gives back a box that must not serve again (its agent failed or a
	// request was abandoned mid-way).
	Discard(Box)
	Close()
}

// ErrBoxesClosed is what Boxes.Acquire answers after Close.
var ErrBoxesClosed = pool.ErrClosed

// madeBoxes is the backend of Config.Boxes: each language's boxes made on first
// use.
type madeBoxes struct {
	make func(Language) (Boxes, error)
	mu   sync.Mutex
	made map[Language]Boxes
}

func (m *madeBoxes) boxes(_ context.Context, lang Language) (Boxes, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.made[lang]; b != nil {
		return b, nil
	}
	b, err := m.make(lang)
	if err != nil {
		return nil, err
	}
	m.made[lang] = b
	return b, nil
}

func (m *madeBoxes) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.made {
		b.Close()
	}
}

// LocalBoxes is a Config.Boxes whose boxes are runner agents in this process,
// each in a fresh temporary directory, looking programs up in path (such as
// "/usr/bin:/bin", where Debian's python3 and g++ are, as in the images). It
// isolates nothing: programs run as this process's user, on this host, with
// its environment. It is for tests of the judge, never for untrusted code.
func LocalBoxes(path string) func(Language) (Boxes, error) {
	return func(Language) (Boxes, error) {
		return &localBoxes{path: path, live: map[*localBox]struct{}{}}, nil
	}
}

type localBoxes struct {
	path   string
	mu     sync.Mutex
	closed bool
	live   map[*localBox]struct{}
	ends   sync.WaitGroup // boxes being taken down
}

type localBox struct {
	*runner.Conn
	dir    string
	served chan struct{} // closed when the agent's Serve returns
}

func (l *localBoxes) Acquire(context.Context) (Box, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrBoxesClosed
	}
	dir, err := os.MkdirTemp("", "rewardmesh-box-")
	if err != nil {
		return nil, err
	}
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	b := &localBox{dir: dir, served: make(chan struct{})}
	agent := &runner.Agent{WorkDir: dir, Path: l.path}
	go func() {
		defer close(b.served)
		err := agent.Serve(reqR, respW)
		_ = reqR.CloseWithError(err)
		_ = respW.CloseWithError(err)
	}()
	b.Conn = runner.NewConn(respR, reqW, reqW, nil)
	l.live[b] = struct{}{}
	return b, nil
}

func (l *localBoxes) TryAcquire() Box {
	b, err := l.Acquire(context.Background())
	if err != nil {
		return nil
	}
	return b
}

// Release ends the box: a box serves one submission, so nothing of one
// submission can reach the next.
func (l *localBoxes) Release(b Box) { l.end(b.(*localBox)) }
func (l *localBoxes) Discard(b Box) { l.end(b.(*localBox)) }

func (l *localBoxes) end(b *localBox) {
	l.mu.Lock()
	if _, ok := l.live[b]; !ok {
		l.mu.Unlock()
		return
	}
	delete(l.live, b)
	l.ends.Add(1)
	l.mu.Unlock()
	b.Close(errors.New("box released"))
	go func() {
		defer l.ends.Done()
		<-b.served // a run still going ends at its own limits
		removeAll(b.dir)
	}()
}

// Close ends every box and waits until each agent has stopped and its
// directory is gone.
func (l *localBoxes) Close() {
	l.mu.Lock()
	l.closed = true
	boxes := make([]*localBox, 0, len(l.live))
	for b := range l.live {
		boxes = append(boxes, b)
	}
	l.mu.Unlock()
	for _, b := range boxes {
		l.end(b)
	}
	l.ends.Wait()
}

// removeAll removes dir, giving back the permissions a program may have taken
// from its own files first.
func removeAll(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
