//go:build linux

package runner

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// forkServerSource is the Python fork server (forkserver.py): it runs as
// `python3 -c SOURCE`, so no file of it need be in the image or on the host.
//
//go:embed forkserver.py
var forkServerSource string

const (
	// forkServerReady bounds the server's start-up, its imports included.
	forkServerReady = 10 * time.Second
	// forkServerReply bounds one spawn: a server that does not answer in time
	// (stopped by a program, say) is replaced and the run started afresh.
	forkServerReply = 5 * time.Second
	// forkServerFailure starts the line a copy writes when it could not set the
	// run up; its exit code is 125. The run is then started afresh.
	forkServerFailure = "rewardmesh fork server: "
)

// pyServer is a running Python fork server: the agent's child, with the control
// socket the agent asks it for copies on.
type pyServer struct {
	pid  int
	prog string // the interpreter it runs
	conn *net.UnixConn
	rd   *bufio.Reader
}

// forkServers holds the agent's one fork server and its state.
type forkServers struct {
	mu  sync.Mutex
	srv *pyServer // ready to serve; nil when none is
	// pid is the server's process while it starts or serves (0: none): the one
	// process besides the agent that the kill of a run's leftovers spares.
	pid      int
	starting bool
	// started is closed when the start under way (starting) has ended, ready
	// or failed.
	started chan struct{}
	closed  bool // the agent is ending: no server starts again
}

// sparePid is the fork server's pid, 0 when there is none.
func (a *Agent) sparePid() int {
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	return a.py.pid
}

// forkable reports whether a run may be a copy of the fork server: the plain
// `python3 FILE` form, asked for with Fork.
func forkable(req Request) bool {
	return req.Fork && len(req.Argv) == 2 && pythonName.MatchString(filepath.Base(req.Argv[0])) &&
		!strings.HasPrefix(req.Argv[1], "-")
}

var pythonName = regexp.MustCompile(`^python3(\.\d+)?$`)

// forkServer returns the ready server for prog, or nil. With none ready it starts
// one in the background, for the runs after this one: the run that finds none is
// started afresh, never kept waiting for a server.
func (a *Agent) forkServer(prog string) *pyServer {
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	if s := a.py.srv; s != nil {
		if s.prog == prog && processRunnable(s.pid) {
			return s
		}
		a.dropLocked(s)
	}
	if !a.py.starting && a.py.pid == 0 {
		a.py.starting = true
		a.py.started = make(chan struct{})
		go a.startForkServer(prog)
	}
	return nil
}

// awaitForkServer has a fork server for prog started, if none is ready, and
// waits for the start to end (ready or failed), at most forkServerReady: a new
// container is handed out with its server ready, so its first runs are copies
// and not fresh interpreters.
func (a *Agent) awaitForkServer(prog string) {
	if a.forkServer(prog) != nil {
		return
	}
	a.py.mu.Lock()
	started := a.py.started
	a.py.mu.Unlock()
	if started == nil {
		return
	}
	select {
	case <-started:
	case <-time.After(forkServerReady):
	}
}

// processRunnable reports whether pid is alive and not stopped: a program may
// have sent the server SIGSTOP, or killed it.
func processRunnable(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	switch data[i+2] {
	case 'R', 'S', 'D':
		return true
	}
	return false
}

// startForkServer starts prog as a fork server and waits for it to be ready.
func (a *Agent) startForkServer(prog string) {
	srv, err := spawnForkServer(prog, func(pid int) {
		a.py.mu.Lock()
		a.py.pid = pid
		a.py.mu.Unlock()
	})
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	a.py.starting = false
	close(a.py.started)
	if err != nil {
		a.py.pid = 0
		return
	}
	if a.py.closed {
		srv.stop()
		a.py.pid = 0
		return
	}
	a.py.srv = srv
}

func spawnForkServer(prog string, started func(pid int)) (*pyServer, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fork server: socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "fork-server")
	defer theirs.Close()
	ours := os.NewFile(uintptr(fds[0]), "fork-server")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("fork server: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("fork server: %w", err)
	}
	defer null.Close()
	pid, err := syscall.ForkExec(prog, []string{"python3", "-c", forkServerSource}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   os.Environ(),
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), theirs.Fd()},
		// Its own group: the kill of a run's group never reaches it.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("fork server: start %s: %w", prog, err)
	}
	started(pid)
	srv := &pyServer{pid: pid, prog: prog, conn: conn.(*net.UnixConn), rd: bufio.NewReader(conn)}
	var ready struct {
		Ready bool `json:"ready"`
	}
	if err := srv.readLine(forkServerReady, &ready); err != nil || !ready.Ready {
		srv.stop()
		return nil, fmt.Errorf("fork server: not ready: %v", err)
	}
	return srv, nil
}

func (s *pyServer) readLine(timeout time.Duration, v any) error {
	_ = s.conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := s.rd.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// stop kills the server and reaps it where it is still the agent's to reap.
func (s *pyServer) stop() {
	s.conn.Close()
	_ = syscall.Kill(s.pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(s.pid, &ws, 0, nil)
}

// dropLocked stops the ready server; a.py.mu is held.
func (a *Agent) dropLocked(s *pyServer) {
	if a.py.srv == s {
		a.py.srv = nil
		a.py.pid = 0
	}
	s.stop()
}

// dropForkServer stops s, which failed a spawn.
func (a *Agent) dropForkServer(s *pyServer) {
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	a.dropLocked(s)
}

// reaped notes that pid was reaped: if it was the server, there is none now.
func (a *Agent) reaped(pid int) {
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	if a.py.pid != pid {
		return
	}
	if s := a.py.srv; s != nil {
		s.conn.Close()
		a.py.srv = nil
	}
	a.py.pid = 0
}

// closeForkServer stops the server for good: the agent is ending.
func (a *Agent) closeForkServer() {
	a.py.mu.Lock()
	defer a.py.mu.Unlock()
	a.py.closed = true
	if s := a.py.srv; s != nil {
		a.dropLocked(s)
	}
}

// forkRequest is what the server reads for one run.
type forkRequest struct {
	Argv   []string            `json:"argv"`
	Cwd    string              `json:"cwd"`
	Limits map[string][2]int64 `json:"limits"` // soft, hard; -1 is unlimited
}

// spawn asks the server for a copy that runs argv with the given stdin, stdout
// and stderr under lim, and returns its pid. The copy is the agent's child.
func (s *pyServer) spawn(argv []string, dir string, files []*os.File, lim Limits) (int, error) {
	req := forkRequest{Argv: argv, Cwd: dir, Limits: map[string][2]int64{}}
	for _, l := range rlimits(lim) {
		req.Limits[l.name] = [2]int64{rlimitValue(l.soft), rlimitValue(l.hard)}
	}
	line, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	rights := syscall.UnixRights(int(files[0].Fd()), int(files[1].Fd()), int(files[2].Fd()))
	_ = s.conn.SetWriteDeadline(time.Now().Add(forkServerReply))
	if _, _, err := s.conn.WriteMsgUnix(append(line, '\n'), rights, nil); err != nil {
		return 0, fmt.Errorf("fork server: send: %w", err)
	}
	var resp struct {
		Pid   int    `json:"pid"`
		Error string `json:"error"`
	}
	if err := s.readLine(forkServerReply, &resp); err != nil {
		return 0, fmt.Errorf("fork server: reply: %w", err)
	}
	if resp.Error != "" || resp.Pid <= 0 {
		return 0, fmt.Errorf("fork server: %s", resp.Error)
	}
	return resp.Pid, nil
}

func rlimitValue(v uint64) int64 {
	if v == rlimInfinity {
		return -1
	}
	return int64(v)
}

// residentKB is a process's resident set in KiB (0 when unreadable).
func residentKB(pid int) int64 {
	_, resident, _ := statm(strconv.Itoa(pid))
	return resident >> 10
}

// errForkServer reports a copy that could not set its run up.
var errForkServer = errors.New("the fork server's copy failed before the program ran")
