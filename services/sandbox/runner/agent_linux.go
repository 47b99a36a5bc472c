//go:build linux

package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// stderrKeep is how much of a program's stderr is kept.
const stderrKeep = 64 << 10

// Defaults for limits a request leaves at zero.
var defaultLimits = Limits{
	CPUMillis:   2000,
	WallMillis:  4000,
	MemoryBytes: 512 << 20,
	OutputBytes: 64 << 20,
	FileBytes:   64 << 20,
	Processes:   128,
}

// Agent answers requests from one stream. It runs as the container's init, so a
// program it starts cannot signal it (the kernel drops signals to init that init
// has no handler for), and it makes itself non-dumpable so that a program running
// under the same uid can neither ptrace it nor open its /proc files.
type Agent struct {
	// WorkDir is where programs run; Wipe lists every writable place a reset empties.
	WorkDir string
	Wipe    []string
	// Path is where a program named without a slash is looked up, as in PATH
	// ["", the agent's own PATH]. Outside a container (tests) it picks the
	// system's interpreters over a user's wrappers.
	Path string

	out sync.Mutex
	w   io.Writer

	// runMu keeps to one run at a time: the container's cgroup is the meter of
	// a run, and every process in the container but the agent belongs to it.
	runMu sync.Mutex
	// init: the agent is its container's init (PID 1), so kill(-1) reaches every
	// process a run left and nothing else. cg is the container's cgroup; outside
	// a container (tests) both are unset and wait4's rusage is the meter.
	init  bool
	cg    *cgroup
	cgErr error

	// py is the Python fork server runs marked Fork are copies of.
	py forkServers

	// files are the files sent with a Key, kept for later requests.
	files fileCache
	// execs are the executables written by key alone, which are run from
	// the kept copy (see writeCached), by their path in the work directory.
	execs  map[string]*os.File
	execMu sync.Mutex

	// stdins are the streamed runs' stdins, by run id.
	stdinMu sync.Mutex
	stdins  map[uint64]*stdinStream
}

// Serve answers requests from r on w until r ends, then kills everything it started.
func (a *Agent) Serve(r io.Reader, w io.Writer) error {
	a.w = w
	if os.Getpid() == 1 {
		a.init = true
		// PR_SET_DUMPABLE = 4.
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, 4, 0, 0)
		// The kernel delivers to a container's init only the signals it handles.
		// The Go runtime handles many (SIGTERM would end the agent), so every
		// signal is taken and dropped here; SIGKILL and SIGSTOP never reach init.
		sigs := make(chan os.Signal, 64)
		signal.Notify(sigs)
		defer signal.Stop(sigs)
		go func() {
			for range sigs {
			}
		}()
		self, err := os.ReadFile("/proc/self/cgroup")
		if err == nil {
			a.cg, a.cgErr = openCgroup(cgroupRoot, self, 1)
		} else {
			a.cgErr = fmt.Errorf("read /proc/self/cgroup: %w", err)
		}
	}
	br := bufio.NewReaderSize(r, 1<<16)
	var wg sync.WaitGroup
	defer func() {
		a.closeForkServer()
		a.killOthers()
		wg.Wait()
	}()
	for {
		var req Request
		if err := ReadFrame(br, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		if req.Op == OpRun {
			if req.Stream {
				// Open before any OpStdin for it can be read.
				a.openStdin(req.ID)
			}
			// A run does not hold up pings, writes and reads; runs themselves
			// take turns (runMu).
			wg.Go(func() {
				resp := a.run(req)
				if req.Stream {
					a.closeStdin(req.ID)
				}
				a.reply(resp)
				// A run that did not start for a file not kept is sent again
				// with it (and its ResetAfter): no reset yet.
				if req.ResetAfter && !resp.NotCached {
					a.reply(a.resetAfter(req.ID))
				}
			})
			continue
		}
		if req.Op == OpStdin {
			a.feedStdin(req)
			continue
		}
		if req.Op == OpReset {
			// Nothing may still be running when the work directory is wiped.
			wg.Wait()
		}
		a.reply(a.handle(req))
	}
}

func (a *Agent) reply(resp Response) {
	a.out.Lock()
	defer a.out.Unlock()
	// A failed write means the service is gone; the next read ends Serve.
	_ = WriteFrame(a.w, resp)
}

func (a *Agent) handle(req Request) Response {
	resp := Response{ID: req.ID}
	var err error
	switch req.Op {
	case OpPing:
		if forkable(Request{Fork: req.Fork, Argv: append(req.Argv, "program")}) {
			// Asked to have the fork server ready before the first run needs it:
			// the answer waits for it.
			if prog, err := lookPath(req.Argv[0], a.Path); err == nil {
				a.awaitForkServer(prog)
			}
		}
		// The service checks the cgroup before the container judges anything.
		if a.cg != nil {
			lim := a.cg.limits
			resp.Cgroup = &lim
		} else if a.init {
			resp.Cgroup = &Cgroup{Error: a.cgErr.Error()}
		}
	case OpWrite:
		err = a.write(req.Files)
		resp.NotCached = errors.Is(err, errNotCached)
	case OpRead:
		a.materialize()
		resp.Data, err = a.read(req.Path, req.Limits.FileBytes)
	case OpReset:
		err = a.reset()
		// A high peak of the agent's own memory would read as later programs'
		// (see freeMemory): past retirePeakKB the container is better replaced.
		resp.Retire = selfPeakKB() > retirePeakKB
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
}

// inWork resolves a request path inside the work directory.
func (a *Agent) inWork(name string) (string, error) {
	clean := filepath.Clean("/" + name)
	if clean == "/" {
		return "", fmt.Errorf("path %q names the work directory itself", name)
	}
	return filepath.Join(a.WorkDir, clean), nil
}

func (a *Agent) write(files map[string]File) error {
	for name, f := range files {
		path, err := a.inWork(name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		mode := os.FileMode(0o644)
		if f.Exec {
			mode = 0o755
		}
		// Remove first: a program may have left a read-only file or a symlink there.
		_ = os.Remove(path)
		a.forgetExec(path)
		if f.Key != "" && len(f.Data) == 0 {
			if f.Exec {
				if err := a.execCached(path, f.Key); err != nil {
					return fmt.Errorf("write %s: %w", name, err)
				}
				continue
			}
			if err := a.writeCached(path, f.Key, mode); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			continue
		}
		if err := os.WriteFile(path, f.Data, mode); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if f.Key != "" {
			// A copy not kept only costs a later request the NotCached
			// answer and the data sent again.
			_ = a.files.put(f.Key, f.Data)
		}
	}
	return nil
}

// execCached makes path, an executable named by key alone, run from the kept
// copy itself: exec of /proc/self/fd/N, N the copy's descriptor (close-on-exec,
// so the program does not hold it). Nothing is copied into the work directory
// for it, and nothing is wiped after: a binary of megabytes costs more to copy
// and free than a short run. The program cannot change it (sealed),
// where a copy in the work directory could be overwritten by one test for the
// next. A file a program writes at path later is run instead (forgetExec).
func (a *Agent) execCached(path, key string) error {
	f, err := a.files.dup(key)
	if err != nil {
		return err
	}
	a.execMu.Lock()
	defer a.execMu.Unlock()
	if a.execs == nil {
		a.execs = map[string]*os.File{}
	}
	a.execs[path] = f
	return nil
}

// forgetExec ends path's run from a kept copy (written again, or reset).
func (a *Agent) forgetExec(path string) {
	a.execMu.Lock()
	defer a.execMu.Unlock()
	if f := a.execs[path]; f != nil {
		f.Close()
		delete(a.execs, path)
	}
}

// execPath is what a run of prog (resolved) starts, and a function to call
// once it has started: its kept copy when it was written by key alone and
// nothing has been written there since, through a descriptor of its own (a
// read's materialize may close the registered one meanwhile, and the number
// must not name another file by the time of the exec). A run of anything
// else, and a read, first has every such file written out (materialize), so
// that only the executable's own runs see it missing from the work directory.
func (a *Agent) execPath(prog string) (string, func()) {
	path := prog
	if !filepath.IsAbs(path) {
		path = filepath.Join(a.WorkDir, path)
	}
	path = filepath.Clean(path)
	a.execMu.Lock()
	var own *os.File
	if f := a.execs[path]; f != nil {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			own, _ = dupCloexec(f)
		}
	}
	a.execMu.Unlock()
	if own != nil {
		return "/proc/self/fd/" + strconv.Itoa(int(own.Fd())), func() { own.Close() }
	}
	a.materialize()
	return prog, func() {}
}

// materialize writes out the executables kept for runs by key alone.
func (a *Agent) materialize() {
	a.execMu.Lock()
	defer a.execMu.Unlock()
	for path, f := range a.execs {
		// A file a program put there is left alone; one that cannot be
		// written whole (the work directory full) is not left half written.
		if out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755); err == nil {
			st, err := f.Stat()
			if err == nil {
				_, err = io.Copy(out, io.NewSectionReader(f, 0, st.Size()))
			}
			if cerr := out.Close(); err != nil || cerr != nil {
				_ = os.Remove(path)
			}
		}
		f.Close()
		delete(a.execs, path)
	}
}

// writeCached writes the file kept under key to path.
func (a *Agent) writeCached(path, key string, mode os.FileMode) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	err = a.files.writeTo(key, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// read returns a regular file of the work directory, at most limit bytes of it
// when limit > 0. What a program left where a file was expected may be a symlink,
// a FIFO that would block the read, or a device that never ends: only a regular
// file reached without following a final symlink is read.
func (a *Agent) read(name string, limit int64) ([]byte, error) {
	path, err := a.inWork(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", name)
	}
	if limit <= 0 {
		limit = st.Size() + 1<<20 // the size it had, and what a writer still adds
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: over the %d-byte limit", name, limit)
	}
	return data, nil
}

// reset leaves the container as it started: no process but the agent (and the
// fork server, which has run no program's code), nothing in any writable place,
// no System V IPC object or POSIX message queue.
func (a *Agent) reset() error {
	if os.Getpid() != 1 {
		// Outside a container, "every other process" is the host's.
		return errors.New("reset: the agent is not the container's init")
	}
	a.killOthers()
	a.execMu.Lock()
	for path, f := range a.execs {
		f.Close()
		delete(a.execs, path)
	}
	a.execMu.Unlock()
	var errs []error
	for _, dir := range a.Wipe {
		if err := emptyDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	removeSysVIPC()
	if others := otherProcesses(a.sparePid()); len(others) > 0 {
		errs = append(errs, fmt.Errorf("processes survived the reset: %v", others))
	}
	return errors.Join(errs...)
}

// resetAfter resets the container once a run with ResetAfter is answered; no
// other run can start meanwhile.
func (a *Agent) resetAfter(id uint64) Response {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	resp := Response{ID: id, Reset: true}
	if err := a.reset(); err != nil {
		resp.Error = err.Error()
	}
	resp.Retire = selfPeakKB() > retirePeakKB
	return resp
}

// killOthers kills every process the agent can signal but the fork server, and
// reaps them. As init, the agent inherits every orphan, so each one ends up reaped
// here. Processes that keep forking faster than they are listed and killed one
// by one are killed with kill(-1), the fork server with them (a new one starts
// for a later run).
func (a *Agent) killOthers() {
	if os.Getpid() != 1 {
		return
	}
	for round := range 50 {
		spare := a.sparePid()
		if round >= 10 {
			spare = 0
		}
		killAllBut(spare)
		a.reapAll()
		if len(otherProcesses(a.sparePid())) == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// killAllBut kills every process the agent can signal but spare (0: none, with
// one kill(-1)).
func killAllBut(spare int) {
	if spare == 0 {
		_ = syscall.Kill(-1, syscall.SIGKILL)
		return
	}
	for _, pid := range otherProcesses(spare) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (a *Agent) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		a.reaped(pid)
	}
}

// otherProcesses lists the pids in /proc other than the agent's own and spare.
func otherProcesses(spare int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == spare {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// emptyDir removes everything inside dir, first giving back the owner's permissions
// a program may have taken away.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		_ = os.Chmod(dir, 0o755)
		if entries, err = os.ReadDir(dir); err != nil {
			return fmt.Errorf("wipe %s: %w", dir, err)
		}
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(path); err == nil {
			continue
		}
		_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("wipe %s: %w", path, err)
		}
	}
	return nil
}

// removeSysVIPC removes the shared memory segments, semaphore sets and message
// queues left behind: they outlive processes and the container's IPC namespace is
// shared by every submission it serves.
func removeSysVIPC() {
	const ipcRMID = 0
	for _, t := range []struct {
		file  string
		call  uintptr
		idCol int
	}{
		{"/proc/sysvipc/shm", syscall.SYS_SHMCTL, 1},
		{"/proc/sysvipc/sem", syscall.SYS_SEMCTL, 1},
		{"/proc/sysvipc/msg", syscall.SYS_MSGCTL, 1},
	} {
		data, err := os.ReadFile(t.file)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] {
			fields := strings.Fields(line)
			if len(fields) <= t.idCol {
				continue
			}
			id, err := strconv.Atoi(fields[t.idCol])
			if err != nil {
				continue
			}
			if t.call == syscall.SYS_SEMCTL {
				_, _, _ = syscall.Syscall6(t.call, uintptr(id), 0, ipcRMID, 0, 0, 0)
			} else {
				_, _, _ = syscall.Syscall(t.call, uintptr(id), ipcRMID, 0)
			}
		}
	}
}

// run starts req.Argv under its limits and waits for it.
func (a *Agent) run(req Request) Response {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	lim := withDefaults(req.Limits)
	if len(req.Argv) == 0 {
		return Response{ID: req.ID, Status: StatusFailed, Error: "run: empty argv"}
	}
	if len(req.Files) > 0 {
		if err := a.write(req.Files); err != nil {
			return Response{ID: req.ID, Status: StatusFailed, Error: fmt.Sprintf("run: %v", err), NotCached: errors.Is(err, errNotCached)}
		}
	}
	// A streamed run is never a copy of the fork server: a copy that fails
	// before the program runs is run again, and the stdin it took would be lost.
	resp, err := a.runOnce(req, lim, forkable(req) && !req.Stream)
	if errors.Is(err, errForkServer) {
		// The copy failed before the program ran (a program broke the server,
		// say): the run is started afresh, as if no server were there.
		resp, _ = a.runOnce(req, lim, false)
	}
	return resp
}

// runOnce runs req once, as a copy of the fork server when fork is set and a
// server is ready. errForkServer says the copy failed before the program ran.
func (a *Agent) runOnce(req Request, lim Limits, fork bool) (Response, error) {
	resp := Response{ID: req.ID}
	fail := func(err error) (Response, error) {
		resp.Status, resp.Error = StatusFailed, err.Error()
		return resp, nil
	}
	oomBefore := a.oomKills()
	p, err := a.start(req, lim, fork)
	if errors.Is(err, errTooBig) {
		resp.Status, resp.ExitCode, resp.Stderr = StatusMLE, -1, []byte(err.Error())
		return resp, nil
	}
	if err != nil {
		return fail(err)
	}
	defer p.close()
	var others func()
	if a.init {
		others = func() { killAllBut(a.sparePid()) }
	}
	k := newRunKiller(p.pid, p.early == nil, others)
	defer k.end()

	go func() {
		// The program may never read its input; the write then ends when the pipe
		// closes after the program is gone.
		defer p.stdinW.Close()
		if st := a.stdinFor(req); st != nil {
			for {
				piece, ok := st.next()
				if !ok {
					return
				}
				if _, err := p.stdinW.Write(piece); err != nil {
					return
				}
			}
		}
		_, _ = p.stdinW.Write(req.Stdin)
	}()
	var stream func([]byte)
	if req.Stream {
		stream = func(piece []byte) { a.reply(Response{ID: req.ID, Partial: true, Stdout: piece}) }
	}
	out := capture(p.stdoutR, p.stderrR, lim, k.kill, stream)
	var timedOut atomic.Bool
	wall := time.AfterFunc(time.Duration(lim.WallMillis)*time.Millisecond, func() {
		timedOut.Store(true)
		k.kill()
	})
	stopWatch := p.meter.watch(lim, k.kill)
	ws, ru, err := p.wait()
	elapsed := time.Since(p.started)
	wall.Stop()
	watched := stopWatch()
	a.killLeftovers(p.pid)
	out.finish(p)
	if err != nil {
		return fail(fmt.Errorf("wait for %s: %w", req.Argv[0], err))
	}
	if p.forked && ws.Exited() && ws.ExitStatus() == 125 && bytes.HasPrefix(out.stderr.Bytes(), []byte(forkServerFailure)) {
		return resp, errForkServer
	}

	resp.Stdout, resp.Stderr = out.stdout.Bytes(), out.stderr.Bytes()
	resp.CPUMicros = ru.Utime.Usec + ru.Utime.Sec*1e6 + ru.Stime.Usec + ru.Stime.Sec*1e6
	if cpu, ok := p.meter.cpuMicros(); ok {
		// rusage holds only the program and the children it waited for; the
		// cgroup holds them all.
		resp.CPUMicros = max(resp.CPUMicros, cpu)
	}
	resp.WallMicros = elapsed.Microseconds()
	// A copy of the fork server starts holding the server's pages, shared with
	// it: its own memory is what it holds beyond them.
	maxRSS := max(ru.Maxrss-p.sharedKB, 0)
	resp.MemoryKB = max(maxRSS, watched.peakMemory>>10)
	if ws.Exited() {
		resp.ExitCode = ws.ExitStatus()
	} else if ws.Signaled() {
		resp.Signal = int(ws.Signal())
		resp.ExitCode = 128 + resp.Signal
	}
	ended := ending{overflow: out.overflow.Load(), timedOut: timedOut.Load() || watched.cpuOver, memoryOver: watched.memoryOver,
		oomKilled: a.oomKills() > oomBefore,
		// At or under the agent's own peak, ru_maxrss may be the agent's (see
		// freeMemory), and it says only that the program used no more. A copy
		// of the fork server never held the agent's memory.
		ownMemory: p.forked || ru.Maxrss > selfPeakKB(), maxRSSKB: maxRSS}
	resp.Status = classify(ws, lim, resp, ended)
	return resp, nil
}

// process is a started run: the program, the pipes to it, and its meter.
type process struct {
	pid     int
	early   *exited // the program's end, when it ended before it could be watched
	started time.Time
	meter   runMeter
	// forked: a copy of the fork server, holding sharedKB of the server's pages
	// when it started.
	forked   bool
	sharedKB int64
	// The agent's ends of the program's stdin, stdout and stderr.
	stdinW, stdoutR, stderrR *os.File
}

// start opens the program's pipes, reads the meter and starts the program under
// its limits. The program's ends of the pipes are closed here, once it has them.
func (a *Agent) start(req Request, lim Limits, fork bool) (*process, error) {
	prog, err := lookPath(req.Argv[0], a.Path)
	if err != nil {
		return nil, err
	}
	var ends [6]*os.File // stdin r/w, stdout r/w, stderr r/w
	closeAll := func() {
		for _, f := range ends {
			if f != nil {
				f.Close()
			}
		}
	}
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if ends[2*i], ends[2*i+1], err = os.Pipe(); err != nil {
			closeAll()
			return nil, fmt.Errorf("%s pipe: %w", name, err)
		}
	}
	stdinR, stdinW, stdoutR, stdoutW, stderrR, stderrW := ends[0], ends[1], ends[2], ends[3], ends[4], ends[5]
	meter, err := a.startMeter()
	if err != nil {
		closeAll()
		return nil, err
	}
	var (
		pid      int
		early    *exited
		forked   bool
		sharedKB int64
	)
	if srv := a.forkFor(fork, prog, lim); srv != nil {
		sharedKB = residentKB(srv.pid)
		if pid, err = srv.spawn(req.Argv, a.WorkDir, []*os.File{stdinR, stdoutW, stderrW}, lim); err == nil {
			forked = true
		} else {
			a.dropForkServer(srv)
		}
	}
	if !forked {
		exe, started := a.execPath(prog)
		pid, early, err = startLimited(exe, req.Argv, a.WorkDir, []uintptr{stdinR.Fd(), stdoutW.Fd(), stderrW.Fd()}, lim)
		started()
	}
	started := time.Now()
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		stderrR.Close()
		if errors.Is(err, errTooBig) {
			return nil, err
		}
		return nil, fmt.Errorf("start %s: %w", req.Argv[0], err)
	}
	return &process{pid: pid, early: early, started: started, meter: meter, forked: forked, sharedKB: sharedKB,
		stdinW: stdinW, stdoutR: stdoutR, stderrR: stderrR}, nil
}

// forkFor is the fork server a run is a copy of, nil when it is started afresh:
// fork not asked for, no server ready, or a memory limit the server's own
// address space is over (a fresh start then shows what the limit allows).
func (a *Agent) forkFor(fork bool, prog string, lim Limits) *pyServer {
	if !fork {
		return nil
	}
	srv := a.forkServer(prog)
	if srv == nil || virtualSize(srv.pid) >= lim.MemoryBytes {
		return nil
	}
	return srv
}

// close closes the agent's ends of the pipes.
func (p *process) close() {
	p.stdinW.Close()
	p.stdoutR.Close()
	p.stderrR.Close()
}

// wait waits for the program itself to end.
func (p *process) wait() (syscall.WaitStatus, syscall.Rusage, error) {
	if p.early != nil {
		return p.early.ws, p.early.ru, nil
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err := syscall.Wait4(p.pid, &ws, 0, &ru)
		if !errors.Is(err, syscall.EINTR) {
			return ws, ru, err
		}
	}
}

// runKiller stops a whole run: in a container every process but the agent is
// the run's, wherever it went (another group, another session, orphaned). The
// program itself is killed through a pidfd too (which names this process and no
// later one with its pid): it may have moved out of its group (setpgid into a
// child's), and a kill of the group alone would leave it running past its wall
// limit. A timer that fires as the run ends must not reach the next run's
// program: once end is called, kill does nothing. others, in a container, kills
// every process but the agent and the fork server.
type runKiller struct {
	pid    int
	pidfd  int
	others func()
	mu     sync.Mutex
	over   bool
}

func newRunKiller(pid int, running bool, others func()) *runKiller {
	k := &runKiller{pid: pid, pidfd: -1, others: others}
	if running {
		if fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0); errno == 0 {
			k.pidfd = int(fd)
		}
	}
	return k
}

func (k *runKiller) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.over {
		return
	}
	if k.others != nil {
		k.others()
	}
	_ = syscall.Kill(-k.pid, syscall.SIGKILL)
	if k.pidfd >= 0 {
		_, _, _ = syscall.Syscall6(sysPidfdSendSignal, uintptr(k.pidfd), uintptr(syscall.SIGKILL), 0, 0, 0, 0)
	}
}

// end makes kill a no-op from now on and closes the pidfd.
func (k *runKiller) end() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.over = true
	if k.pidfd >= 0 {
		syscall.Close(k.pidfd)
		k.pidfd = -1
	}
}

// killLeftovers kills whatever the program left: in its group, and in a
// container every other process (children it never waited for, double-forked
// orphans, workers still running). Once they are reaped their CPU time is final
// and in the cgroup's count.
func (a *Agent) killLeftovers(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if a.init {
		a.killOthers()
	}
}

// outputs collects a run's stdout and stderr.
type outputs struct {
	stdout, stderr bytes.Buffer
	overflow       atomic.Bool
	readers        sync.WaitGroup
}

// capture reads the program's output as it comes. stdout is the answer: past
// the limit the program is stopped with kill (OLE). stderr is only
// diagnostics: its first part is kept and the rest drained, so a chatty
// program is neither blocked nor failed for it.
//
// With stream, stdout is not kept: each piece goes to stream as it comes, and
// the limit counts them all.
func capture(stdoutR, stderrR *os.File, lim Limits, kill func(), stream func([]byte)) *outputs {
	o := &outputs{}
	read := func(r *os.File, buf *bytes.Buffer, limit int, enforce bool) {
		defer o.readers.Done()
		chunk := make([]byte, 64<<10)
		sent := 0
		for {
			n, err := r.Read(chunk)
			if n > 0 && enforce && stream != nil {
				if sent += n; sent > limit {
					o.overflow.Store(true)
					kill()
					return
				}
				stream(bytes.Clone(chunk[:n]))
			} else if n > 0 {
				room := limit - buf.Len()
				if n > room {
					buf.Write(chunk[:max(room, 0)])
					if enforce {
						o.overflow.Store(true)
						kill()
						return
					}
				} else {
					buf.Write(chunk[:n])
				}
			}
			if err != nil {
				return
			}
		}
	}
	o.readers.Add(2)
	go read(stdoutR, &o.stdout, int(lim.OutputBytes), true)
	go read(stderrR, &o.stderr, int(min(lim.OutputBytes, stderrKeep)), false)
	return o
}

// finish waits for the readers once the program and its leftovers are gone.
// The pipes then close, unless an escaped process holds them (outside a
// container); after a short grace the agent closes its ends itself.
func (o *outputs) finish(p *process) {
	done := make(chan struct{})
	go func() { o.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
		p.stdoutR.Close()
		p.stderrR.Close()
		<-done
	}
}

// ending is what the agent saw of a run besides its wait status.
type ending struct {
	overflow   bool  // printed past the output limit
	timedOut   bool  // stopped at the wall limit or at the CPU limit of all its processes
	memoryOver bool  // stopped when all its processes together held more than the memory limit
	oomKilled  bool  // the container's memory cgroup killed a process during the run
	ownMemory  bool  // maxRSSKB is the program's own, not the agent's peak (see freeMemory)
	maxRSSKB   int64 // the program's peak resident set (wait4)
}

// classify decides how a run ended. Order matters: a program killed for printing
// too much or running too long also died of a signal.
func classify(ws syscall.WaitStatus, lim Limits, resp Response, e ending) Status {
	switch {
	case e.overflow:
		return StatusOLE
	case e.timedOut:
		return StatusTLE
	case e.memoryOver:
		return StatusMLE
	case resp.CPUMicros > lim.CPUMillis*1000, ws.Signaled() && ws.Signal() == syscall.SIGXCPU:
		return StatusTLE
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL && e.oomKilled:
		return StatusMLE
	case e.ownMemory && e.maxRSSKB*1024 > lim.MemoryBytes:
		return StatusMLE
	case ws.Exited() && ws.ExitStatus() == 0:
		return StatusOK
	}
	return StatusRE
}

// watchEvery is how often the watchdog reads the cgroup while a program runs:
// a run is stopped within about this much of reaching its CPU or memory limit.
const watchEvery = 10 * time.Millisecond

// runMeter measures one run from the container's cgroup. The zero value (no
// cgroup: outside a container) measures nothing.
type runMeter struct {
	cg                    *cgroup
	cpu0, agent0, memory0 int64
	memoryOK              bool
}

// watched is what the watchdog saw during a run.
type watched struct {
	cpuOver, memoryOver bool
	peakMemory          int64 // bytes, all the run's processes together
}

// startMeter reads the cgroup before a run starts. A cgroup that was found and
// cannot be read now fails the run: its verdict would be wrong.
func (a *Agent) startMeter() (runMeter, error) {
	if a.cg == nil {
		return runMeter{}, nil
	}
	m := runMeter{cg: a.cg, agent0: selfCPUNanos()}
	var err error
	if m.cpu0, err = a.cg.cpuNanos(); err != nil {
		return runMeter{}, fmt.Errorf("meter: %w", err)
	}
	if a.cg.memDir != "" {
		if m.memory0, err = a.cg.memoryBytes(); err != nil {
			return runMeter{}, fmt.Errorf("meter: %w", err)
		}
		m.memoryOK = true
	}
	return m, nil
}

// cpuMicros is the CPU time the cgroup gained since the start, less the agent's
// own: every process of the run, exited or still running.
func (m runMeter) cpuMicros() (int64, bool) {
	if m.cg == nil {
		return 0, false
	}
	agent := selfCPUNanos() // first: see selfCPUNanos
	cpu, err := m.cg.cpuNanos()
	if err != nil {
		return 0, false
	}
	return max(0, (cpu-m.cpu0)-(agent-m.agent0)) / 1000, true
}

// watch stops the run with kill once all its processes together pass the CPU
// or memory limit (RLIMIT_CPU and RLIMIT_AS see one process each), until the
// returned function is called, which reports what it saw.
func (m runMeter) watch(lim Limits, kill func()) func() watched {
	if m.cg == nil {
		return func() watched { return watched{} }
	}
	var w watched
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if m.memoryOK {
				if mem, err := m.cg.memoryBytes(); err == nil {
					w.peakMemory = max(w.peakMemory, mem-m.memory0)
					if w.peakMemory > lim.MemoryBytes {
						w.memoryOver = true
						kill()
						return
					}
				}
			}
			if cpu, ok := m.cpuMicros(); ok && cpu > lim.CPUMillis*1000 {
				w.cpuOver = true
				kill()
				return
			}
		}
	}()
	return func() watched {
		close(stop)
		<-done
		return w
	}
}

// oomKills is how many processes the container's memory cgroup has OOM-killed;
// 0 where that cannot be read.
func (a *Agent) oomKills() int64 {
	if a.cg == nil {
		return 0
	}
	return a.cg.oomKills()
}

func withDefaults(l Limits) Limits {
	if l.CPUMillis <= 0 {
		l.CPUMillis = defaultLimits.CPUMillis
	}
	if l.WallMillis <= 0 {
		l.WallMillis = defaultLimits.WallMillis
	}
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = defaultLimits.MemoryBytes
	}
	if l.OutputBytes <= 0 {
		l.OutputBytes = defaultLimits.OutputBytes
	}
	if l.FileBytes <= 0 {
		l.FileBytes = defaultLimits.FileBytes
	}
	if l.Processes <= 0 {
		l.Processes = defaultLimits.Processes
	}
	return l
}

// errTooBig reports a program whose address space is over its memory limit
// before it runs an instruction.
var errTooBig = errors.New("the program does not fit in its memory limit")

// virtualSize is a process's address-space size; 0 when unreadable.
func virtualSize(pid int) int64 {
	size, _, _ := statm(strconv.Itoa(pid))
	return size
}

// pidfd system calls (linux/amd64 and arm64 alike).
const (
	sysPidfdSendSignal = 424
	sysPidfdOpen       = 434
)

// exited is a child that ended before its limits were set (killed while stopped).
type exited struct {
	ws syscall.WaitStatus
	ru syscall.Rusage
}

// startLimited starts prog with its limits in force from its first instruction.
// Go cannot run code between fork and exec, so the child is started traced: the
// kernel stops it right after execve, the agent sets its rlimits with prlimit and
// its OOM score, and detaches. This costs a few syscalls, where a helper process
// that sets the limits and execs would cost a whole runtime start per test.
func startLimited(prog string, argv []string, dir string, files []uintptr, lim Limits) (int, *exited, error) {
	// ptrace requests must come from the thread that is the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	freeMemory()
	pid, err := syscall.ForkExec(prog, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   os.Environ(),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true, Ptrace: true},
	})
	if err != nil {
		return 0, nil, err
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, syscall.WALL, &ru)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return 0, nil, fmt.Errorf("wait for exec: %w", err)
	}
	if !ws.Stopped() {
		return pid, &exited{ws, ru}, nil
	}
	if as := addressSpace(lim); as != rlimInfinity && uint64(virtualSize(pid)) > as {
		// Its static data alone is over the limit: what execve under RLIMIT_AS
		// would have refused with ENOMEM.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		reapPid(pid)
		return 0, nil, errTooBig
	}
	if err := setLimits(pid, lim); err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		reapPid(pid)
		return 0, nil, err
	}
	// Raising a process's OOM score needs no privilege: when the container's
	// memory cgroup runs out, the kernel then kills the program, not the agent.
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("1000"), 0)
	if err := syscall.PtraceDetach(pid); err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		reapPid(pid)
		return 0, nil, fmt.Errorf("detach: %w", err)
	}
	return pid, nil, nil
}

// freeMemory gives memory back to the OS before a program starts, when the agent
// holds much. Go starts a child sharing the parent's memory (clone with CLONE_VM),
// and execve carries that memory's peak (the larger of its high-water mark and what
// it holds now) into the child's ru_maxrss. The high-water mark cannot be reset by a
// non-dumpable process, so a run whose ru_maxrss is not above the agent's own peak
// is never judged MLE on it (the rlimit and the OOM killer still catch a program
// over its limit), and a container whose agent peaked past retirePeakKB is replaced
// after its submission.
func freeMemory() {
	if resident, _ := selfStatm(); resident > 32<<20 {
		debug.FreeOSMemory()
	}
}

// retirePeakKB is the agent memory peak past which its container is replaced.
const retirePeakKB = 64 << 10

// selfPeakKB is the agent's peak resident memory (VmHWM), in KiB; 0 when unreadable.
func selfPeakKB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func reapPid(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WALL, nil)
}

const rlimInfinity = ^uint64(0)

// rlimit is one resource limit a run is started under.
type rlimit struct {
	res        int
	name       string // as the fork server names it
	soft, hard uint64
}

// rlimits are a run's resource limits, from its first instruction.
func rlimits(lim Limits) []rlimit {
	cpuSec := uint64((lim.CPUMillis + 999) / 1000)
	const rlimitNPROC = 6
	return []rlimit{
		{syscall.RLIMIT_CPU, "cpu", cpuSec + 1, cpuSec + 2}, // SIGXCPU at the soft limit, SIGKILL a second later
		{syscall.RLIMIT_FSIZE, "fsize", uint64(lim.FileBytes), uint64(lim.FileBytes)},
		{syscall.RLIMIT_CORE, "core", 0, 0},
		{rlimitNPROC, "nproc", uint64(lim.Processes), uint64(lim.Processes)},
		// The stack is bounded by the address space alone. glibc sizes every
		// thread's stack by RLIMIT_STACK when it is finite, so a stack limit as
		// large as the memory limit left no room for a second thread (C++
		// std::thread, Python threading); unlimited, threads get 2 MiB stacks.
		// The main stack can still grow to the gap execve left below it (128 MiB
		// at least).
		{syscall.RLIMIT_STACK, "stack", rlimInfinity, rlimInfinity},
		{syscall.RLIMIT_AS, "as", addressSpace(lim), addressSpace(lim)},
	}
}

// addressSpace is the run's RLIMIT_AS (see Limits.AddressSpaceBytes).
func addressSpace(lim Limits) uint64 {
	switch {
	case lim.AddressSpaceBytes < 0:
		return rlimInfinity
	case lim.AddressSpaceBytes > 0:
		return uint64(lim.AddressSpaceBytes)
	}
	return uint64(lim.MemoryBytes)
}

func setLimits(pid int, lim Limits) error {
	for _, l := range rlimits(lim) {
		rl := syscall.Rlimit{Cur: l.soft, Max: l.hard}
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(l.res), uintptr(unsafe.Pointer(&rl)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("prlimit %d: %w", l.res, errno)
		}
	}
	return nil
}

var pathCache sync.Map // PATH and name → resolved path

// lookPath finds name in path ("" is $PATH).
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if path == "" {
		path = os.Getenv("PATH")
	}
	key := path + "\x00" + name
	if p, ok := pathCache.Load(key); ok {
		return p.(string), nil
	}
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			pathCache.Store(key, p)
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", name)
}
