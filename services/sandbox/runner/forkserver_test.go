//go:build linux

package runner

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forkAgent is a test agent whose fork server for python is ready.
func forkAgent(t testing.TB) (*Agent, string) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	a := newTestAgent(t)
	t.Cleanup(a.closeForkServer)
	// A ping asking for the server answers once it is ready (as a new
	// container's first ping does), so the first run is a copy.
	if resp := a.handle(Request{Op: OpPing, Fork: true, Argv: []string{py}}); resp.Error != "" {
		t.Fatalf("ping: %s", resp.Error)
	}
	if a.forkServer(py) == nil {
		t.Fatal("the ping answered before the fork server was ready")
	}
	return a, py
}

// runBoth runs the program in a fresh interpreter and as a copy of the fork
// server, and checks the copy was one.
func runBoth(t *testing.T, a *Agent, py, source, stdin string, lim Limits) (fresh, forked Response) {
	t.Helper()
	files := map[string]File{"main.py": {Data: []byte(source)}}
	req := Request{Op: OpRun, Files: files, Argv: []string{py, "main.py"}, Stdin: []byte(stdin), Limits: lim}
	fresh = a.run(req)
	req.Fork = true
	before := a.sparePid()
	forked = a.run(req)
	if before == 0 || a.sparePid() != before {
		t.Fatalf("the run was not a copy of the ready server (server %d before, %d after)", before, a.sparePid())
	}
	return fresh, forked
}

// Programs that notice how they were started behave as under a fresh python3.
func TestForkServerRunsAsFreshPython(t *testing.T) {
	a, py := forkAgent(t)
	cases := []struct {
		name, source, stdin string
	}{
		{"__main__ and its globals", `import sys
print(__name__, __file__, __doc__, __package__, __spec__, __cached__, type(__loader__).__name__, __annotations__)
print(sorted(k for k in globals()))
print(sys.modules["__main__"] is sys.modules[__name__], sys.argv, sys.orig_argv[1:], sys.path[0])
`, ""},
		{"stdin three ways", `import sys
a = input()
b = sys.stdin.readline()
c = sys.stdin.buffer.read()
print(repr(a), repr(b), repr(c), sys.stdin.encoding, sys.stdout.encoding)
`, "first\nsecond\nthird\nfourth"},
		{"open(0)", `print(sum(map(int, open(0).read().split())))`, "1 2 3\n4\n"},
		{"exit codes", `import sys
print("before", flush=True)
sys.exit(3)`, ""},
		{"exit with a message", `raise SystemExit("bye")`, ""},
		{"traceback", `def f(x):
    return 1 / x
f(0)
`, ""},
		{"syntax error", "x = (\n", ""},
		{"recursion depth", `import sys
def d(n):
    try:
        return d(n + 1)
    except RecursionError:
        return n
print(sys.getrecursionlimit(), d(0))
`, ""},
		{"threads", `import threading
out = []
def work(i):
    out.append(i * i)
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(out), threading.current_thread() is threading.main_thread(), threading.active_count())
`, ""},
		{"a thread outlives the main module", `import threading, time
def late():
    time.sleep(0.2)
    print("late", flush=True)
threading.Thread(target=late).start()
print("main done")
`, ""},
		{"multiprocessing pool", `from multiprocessing import Pool
def sq(x):
    return x * x
if __name__ == "__main__":
    with Pool(2) as p:
        print(p.map(sq, range(10)))
`, ""},
		{"os.fork", `import os
pid = os.fork()
if pid == 0:
    print("child", flush=True)
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("parent", os.waitstatus_to_exitcode(status))
`, ""},
		{"atexit and buffered output", `import atexit
atexit.register(lambda: print("at exit"))
print("x" * 100000)
`, ""},
		{"modules a fresh interpreter has not loaded are importable", `import heapq, collections, fractions
print(heapq.nsmallest(2, [5, 1, 4]), collections.Counter("abca").most_common(1), fractions.Fraction(1, 3) * 3)
`, ""},
		{"user module beside the program", `import os
open("helper_mod.py", "w").write("VALUE = 41\n")
import helper_mod
print(helper_mod.VALUE + 1)
`, ""},
		{"the server's failure words from a program", `import sys
sys.stderr.write("rewardmesh fork server: not really\n")
sys.exit(125)`, ""},
		{"unicode output", `print("héllo ✓ 日本")`, ""},
		{"keyboard interrupt exit code", `raise KeyboardInterrupt`, ""},
		// The end of a run: a copy skips the teardown of the server's modules,
		// and must still show everything a program can see of its own.
		{"__del__ at exit", `class Bye:
    def __del__(self):
        print("bye from", type(self).__name__)
keep = Bye()
print("main")
`, ""},
		{"an output object never closed", `import os
out = open(1, "w", buffering=1 << 16, closefd=False)
out.write("buffered, never flushed\n")
`, ""},
		{"stdout replaced and never flushed", `import io, sys
sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=False)
print("through the wrapper")
`, ""},
		{"stdout closed by the program", `import sys
print("before close")
sys.stdout.close()
`, ""},
		{"exit codes past a byte", `import sys
sys.exit(256 + 7)`, ""},
		{"negative exit code", `import sys
sys.exit(-2)`, ""},
		{"exit with None and with True", `import sys, atexit
atexit.register(lambda: print("atexit ran"))
sys.exit(True)`, ""},
		{"a failing atexit function", `import atexit
def boom():
    raise ValueError("in atexit")
atexit.register(boom)
print("main")
`, ""},
		{"a chained traceback", `try:
    {}["k"]
except KeyError:
    raise RuntimeError("while handling")
`, ""},
		{"the program's own excepthook", `import sys
sys.excepthook = lambda t, v, tb: print("hook saw", t.__name__, v)
raise ValueError("x")
`, ""},
		{"an exception in __del__ at exit", `import sys
class Bad:
    def __del__(self):
        print("in del", flush=True)
        raise RuntimeError("in del")
b = Bad()
print("main")
`, ""},
		{"a module the program imported, released at exit", `import os
open("mod_with_del.py", "w").write("class C:\n    def __del__(self):\n        print('module object released')\nobj = C()\n")
import mod_with_del
print("imported")
`, ""},
		{"a daemon thread still running at exit", `import threading, time
def spin():
    while True:
        time.sleep(0.01)
threading.Thread(target=spin, daemon=True).start()
print("main done")
`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh, forked := runBoth(t, a, py, tc.source, tc.stdin, Limits{})
			// Object addresses differ from run to run; so does, for an exception
			// in a __del__ that runs at exit, whether the source line is shown
			// (a fresh interpreter may have torn linecache down by then).
			stderr := func(r Response) string {
				s := objectAddress.ReplaceAllString(string(r.Stderr), "0x…")
				if strings.Contains(s, "Exception ignored in: <function Bad.__del__") {
					s = strings.ReplaceAll(s, "    raise RuntimeError(\"in del\")\n", "")
				}
				return s
			}
			if fresh.Status != forked.Status || fresh.ExitCode != forked.ExitCode || fresh.Signal != forked.Signal || fresh.Error != forked.Error ||
				string(fresh.Stdout) != string(forked.Stdout) || stderr(fresh) != stderr(forked) {
				t.Fatalf("fresh python3 and the fork server differ:\nfresh:  %s %d stdout %q stderr %q\nforked: %s %d stdout %q stderr %q",
					fresh.Status, fresh.ExitCode, fresh.Stdout, fresh.Stderr, forked.Status, forked.ExitCode, forked.Stdout, forked.Stderr)
			}
		})
	}
}

// Each copy starts with its own random state, as a fresh interpreter does, and
// a program's objects do not carry over from one run to the next.
func TestForkServerFreshStatePerRun(t *testing.T) {
	a, py := forkAgent(t)
	source := `import random, os, sys
print(random.random(), os.urandom(8).hex(), id(object()) > 0, "leak" in dir(sys))
sys.leak = 1
`
	seen := map[string]bool{}
	for range 5 {
		_, forked := runBoth(t, a, py, source, "", Limits{})
		if forked.Status != StatusOK {
			t.Fatalf("%+v stderr %q", forked, forked.Stderr)
		}
		out := string(forked.Stdout)
		if !strings.HasSuffix(out, " True False\n") {
			t.Fatalf("a run saw what an earlier one left: %q", out)
		}
		if seen[out] {
			t.Fatalf("two runs drew the same random numbers: %q", out)
		}
		seen[out] = true
	}
}

// The limits are in force in a copy as in a fresh interpreter.
func TestForkServerLimits(t *testing.T) {
	a, py := forkAgent(t)
	cases := []struct {
		name   string
		source string
		lim    Limits
		status Status
	}{
		{"busy loop past the CPU limit", "while True: pass", Limits{CPUMillis: 300, WallMillis: 5000}, StatusTLE},
		{"sleep past the wall limit", "import time; time.sleep(5)", Limits{WallMillis: 300}, StatusTLE},
		{"memory over the limit", "x = bytearray(1 << 30)", Limits{MemoryBytes: 256 << 20}, StatusRE},
		{"output flood", "while True: print('y' * 1000)", Limits{OutputBytes: 10000}, StatusOLE},
		{"file size", "open('big', 'wb').write(b'x' * (1 << 20))", Limits{FileBytes: 1000}, StatusRE},
		{"a fair program near the memory limit", "x = bytearray(150 << 20); print(len(x) >> 20)", Limits{MemoryBytes: 256 << 20}, StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh, forked := runBoth(t, a, py, tc.source, "", tc.lim)
			if fresh.Status != tc.status || forked.Status != tc.status {
				t.Fatalf("fresh %s, forked %s, want %s (forked stderr %q)", fresh.Status, forked.Status, tc.status, forked.Stderr)
			}
			if tc.status == StatusOK && forked.MemoryKB > fresh.MemoryKB+8<<10 {
				t.Fatalf("a copy's memory %d KiB is over a fresh run's %d KiB by more than the server's modules", forked.MemoryKB, fresh.MemoryKB)
			}
		})
	}
}

// A program that kills or stops the server is judged as under a fresh
// interpreter, and the runs after it find a working server again.
func TestForkServerSurvivesPrograms(t *testing.T) {
	a, py := forkAgent(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		t.Run(sig.String(), func(t *testing.T) {
			server := a.sparePid()
			// A loaded machine may make the agent give up on the server (no reply
			// in forkServerReply) before the program runs: the run is then a
			// fresh one, and the server the program aims at is already gone.
			source := "import os, signal\ntry:\n    os.kill(" + itoa(server) + ", " + itoa(int(sig)) + ")\nexcept ProcessLookupError:\n    pass\nprint(sum(map(int, input().split())))\n"
			resp := a.run(Request{Op: OpRun, Files: map[string]File{"main.py": {Data: []byte(source)}}, Argv: []string{py, "main.py"}, Stdin: []byte("2 3\n"), Fork: true})
			if resp.Status != StatusOK || string(resp.Stdout) != "5\n" {
				t.Fatalf("%+v stderr %q", resp, resp.Stderr)
			}
			// The next run finds the broken server, starts it afresh, and a
			// new server serves the runs after it.
			deadline := time.Now().Add(forkServerReady)
			for {
				resp = a.run(Request{Op: OpRun, Files: map[string]File{"main.py": {Data: []byte("print(6 * 7)")}}, Argv: []string{py, "main.py"}, Fork: true})
				if resp.Status != StatusOK || string(resp.Stdout) != "42\n" {
					t.Fatalf("run after the server was broken: %+v stderr %q", resp, resp.Stderr)
				}
				if s := a.sparePid(); s != 0 && s != server && a.forkServer(py) != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no new fork server")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if sig == syscall.SIGSTOP {
				_ = syscall.Kill(server, syscall.SIGKILL)
			}
		})
	}
}

// A copy holds no descriptor but its stdin, stdout and stderr: not the
// server's control socket. (That a program cannot read the server's memory, as
// the container's unprivileged user, the sandbox's Docker tests show.)
func TestForkServerLeavesNoDescriptors(t *testing.T) {
	a, py := forkAgent(t)
	source := `import os
print(sorted(os.listdir("/proc/self/fd")))
`
	resp := a.run(Request{Op: OpRun, Files: map[string]File{"main.py": {Data: []byte(source)}}, Argv: []string{py, "main.py"}, Fork: true})
	if resp.Status != StatusOK {
		t.Fatalf("%+v stderr %q", resp, resp.Stderr)
	}
	if out := string(resp.Stdout); out != "['0', '1', '2', '3']\n" { // 3: listdir's own
		t.Fatalf("a program holds descriptors it should not: %q", out)
	}
}

var objectAddress = regexp.MustCompile(`0x[0-9a-f]+`)

func itoa(n int) string { return strconv.Itoa(n) }

// The cost of one run of a trivial program, a fresh interpreter against a copy
// of the fork server, measured in the same run:
//
//	go test -run NONE -bench ForkServer ./services/sandbox/runner
func BenchmarkForkServer(b *testing.B) {
	a, py := forkAgent(b)
	files := map[string]File{"main.py": {Data: []byte("print(input())\n")}}
	for _, fork := range []bool{false, true} {
		name := "fresh"
		if fork {
			name = "fork"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				resp := a.run(Request{Op: OpRun, Files: files, Argv: []string{py, "main.py"}, Stdin: []byte("7\n"), Fork: fork})
				if resp.Status != StatusOK || string(resp.Stdout) != "7\n" {
					b.Fatalf("%+v stderr %q", resp, resp.Stderr)
				}
			}
		})
	}
}
