//go:build linux

package runner

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The agent runs here as an ordinary process (not a container's init): reset
// refuses to run, and everything else behaves as in the sandbox.
func newTestAgent(t testing.TB) *Agent {
	t.Helper()
	return &Agent{WorkDir: t.TempDir()}
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestAgentRun(t *testing.T) {
	a := newTestAgent(t)
	sh := needTool(t, "sh")
	cases := []struct {
		name   string
		script string
		stdin  string
		lim    Limits
		status Status
		stdout string
	}{
		{"echo stdin", "cat", "hello\n", Limits{}, StatusOK, "hello\n"},
		{"exit code", "exit 3", "", Limits{}, StatusRE, ""},
		{"killed by a signal", "kill -SEGV $$", "", Limits{}, StatusRE, ""},
		{"sleep past the wall limit", "sleep 5", "", Limits{CPUMillis: 200, WallMillis: 300}, StatusTLE, ""},
		{"busy loop past the CPU limit", "while :; do :; done", "", Limits{CPUMillis: 300, WallMillis: 5000}, StatusTLE, ""},
		{"output flood", "yes", "", Limits{OutputBytes: 1000}, StatusOLE, ""},
		{"stderr flood is drained, not OLE", "head -c 3000000 /dev/zero >&2; echo fine", "", Limits{OutputBytes: 1000}, StatusOK, "fine\n"},
		{"background child does not hold the test", "sleep 30 & echo done", "", Limits{WallMillis: 10000}, StatusOK, "done\n"},
		{"input never read", "echo skipped", strings.Repeat("x", 1<<20), Limits{}, StatusOK, "skipped\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := a.run(Request{ID: 1, Op: OpRun, Argv: []string{sh, "-c", tc.script}, Stdin: []byte(tc.stdin), Limits: tc.lim})
			if resp.Status != tc.status {
				t.Fatalf("status %s, want %s (%+v, stderr %q)", resp.Status, tc.status, resp, resp.Stderr)
			}
			if tc.stdout != "" && string(resp.Stdout) != tc.stdout {
				t.Fatalf("stdout %q, want %q", resp.Stdout, tc.stdout)
			}
			if tc.status == StatusOLE && len(resp.Stdout) > 1000 {
				t.Fatalf("stdout %d bytes, over the limit", len(resp.Stdout))
			}
		})
	}
}

func TestAgentMemoryLimit(t *testing.T) {
	a := newTestAgent(t)
	py := needTool(t, "python3")
	resp := a.run(Request{Op: OpRun, Argv: []string{py, "-c", "x = bytearray(1 << 30)"}, Limits: Limits{MemoryBytes: 128 << 20}})
	if resp.Status != StatusRE || !bytes.Contains(resp.Stderr, []byte("MemoryError")) {
		t.Fatalf("1 GiB under a 128 MiB limit: %+v stderr %q", resp, resp.Stderr)
	}
	resp = a.run(Request{Op: OpRun, Argv: []string{py, "-c", "print(sum(range(10)))"}, Limits: Limits{MemoryBytes: 256 << 20}})
	if resp.Status != StatusOK || string(resp.Stdout) != "45\n" || resp.MemoryKB <= 0 {
		t.Fatalf("small program: %+v stderr %q", resp, resp.Stderr)
	}
}

// A run with AddressSpaceBytes -1 has no RLIMIT_AS (the JVM, V8 and Go
// reserve far more than they use); one that leaves it 0 gets MemoryBytes.
func TestAgentAddressSpaceLimit(t *testing.T) {
	a := newTestAgent(t)
	py := needTool(t, "python3")
	show := "import resource; print(*resource.getrlimit(resource.RLIMIT_AS), *resource.getrlimit(resource.RLIMIT_NPROC))"
	for _, tc := range []struct {
		as   int64
		want string
	}{
		{0, "134217728 134217728 128 128\n"},
		{-1, "-1 -1 128 128\n"},
		{1 << 30, "1073741824 1073741824 128 128\n"},
	} {
		resp := a.run(Request{Op: OpRun, Argv: []string{py, "-c", show}, Limits: Limits{MemoryBytes: 128 << 20, AddressSpaceBytes: tc.as, Processes: 128}})
		if resp.Status != StatusOK || string(resp.Stdout) != tc.want {
			t.Fatalf("AddressSpaceBytes %d: %+v stdout %q, want %q (stderr %q)", tc.as, resp, resp.Stdout, tc.want, resp.Stderr)
		}
	}
}

func TestAgentStartErrors(t *testing.T) {
	a := newTestAgent(t)
	for _, argv := range [][]string{nil, {"no-such-program-here"}, {"/no/such/path"}} {
		resp := a.run(Request{Op: OpRun, Argv: argv})
		if resp.Status != StatusFailed || resp.Error == "" {
			t.Fatalf("argv %q: %+v", argv, resp)
		}
	}
}

func TestAgentFiles(t *testing.T) {
	a := newTestAgent(t)
	files := map[string]File{"main.py": {Data: []byte("print(1)")}, "bin/tool": {Data: []byte("#!/bin/sh\necho hi\n"), Exec: true}, "../escape": {Data: []byte("x")}}
	if err := a.write(files); err != nil {
		t.Fatal(err)
	}
	data, err := a.read("main.py", 0)
	if err != nil || string(data) != "print(1)" {
		t.Fatalf("read back %q %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(a.WorkDir), "escape")); err == nil {
		t.Fatalf("a path with .. escaped the work directory")
	}
	if _, err := os.Stat(filepath.Join(a.WorkDir, "escape")); err != nil {
		t.Fatalf("the .. path was not kept inside the work directory: %v", err)
	}
	resp := a.run(Request{Op: OpRun, Argv: []string{"./bin/tool"}})
	if resp.Status != StatusOK || string(resp.Stdout) != "hi\n" {
		t.Fatalf("run the written tool: %+v", resp)
	}
	// A run writes the files it carries before it starts the program.
	resp = a.run(Request{Op: OpRun, Files: map[string]File{"carried.sh": {Data: []byte("echo carried $1\n")}}, Argv: []string{"sh", "carried.sh", "x"}})
	if resp.Status != StatusOK || string(resp.Stdout) != "carried x\n" {
		t.Fatalf("run with the files it carries: %+v", resp)
	}
	if resp := a.run(Request{Op: OpRun, Files: map[string]File{"": {Data: []byte("x")}}, Argv: []string{"true"}}); resp.Status != StatusFailed {
		t.Fatalf("a run whose files cannot be written ran: %+v", resp)
	}
	if _, err := a.read("/", 0); err == nil {
		t.Fatalf("reading the work directory itself succeeded")
	}
	if err := a.reset(); err == nil {
		t.Fatalf("reset outside a container must refuse")
	}
}

// A program leaves what it likes where a file is expected; reading it back must
// neither follow it out, block on it, nor read without end.
func TestAgentReadOnlyRegularFilesWithinLimit(t *testing.T) {
	a := newTestAgent(t)
	if err := a.write(map[string]File{"out.txt": {Data: []byte("12345678")}}); err != nil {
		t.Fatal(err)
	}
	if data, err := a.read("out.txt", 8); err != nil || string(data) != "12345678" {
		t.Fatalf("a file exactly at the limit: %q %v", data, err)
	}
	if _, err := a.read("out.txt", 7); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a file over the limit was read: %v", err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(a.WorkDir, "link")); err != nil {
		t.Fatal(err)
	}
	if data, err := a.read("link", 0); err == nil {
		t.Fatalf("a symlink was followed: %q", data)
	}
	if err := syscall.Mkfifo(filepath.Join(a.WorkDir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := a.read("fifo", 0); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "regular") {
			t.Fatalf("a FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if err := os.Symlink("/dev/zero", filepath.Join(a.WorkDir, "zero")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.read("zero", 0); err == nil {
		t.Fatal("a link to /dev/zero was read")
	}
	if _, err := a.read("missing", 0); err == nil {
		t.Fatal("a missing file was read")
	}
}

func TestAgentServe(t *testing.T) {
	a := newTestAgent(t)
	sh := needTool(t, "sh")
	var in bytes.Buffer
	_ = WriteFrame(&in, Request{ID: 1, Op: OpPing})
	_ = WriteFrame(&in, Request{ID: 2, Op: OpRun, Argv: []string{sh, "-c", "echo two"}})
	_ = WriteFrame(&in, Request{ID: 3, Op: "bogus"})
	var out bytes.Buffer
	if err := a.Serve(&in, &out); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]Response{}
	for {
		var r Response
		if err := ReadFrame(&out, &r); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got[r.ID] = r
	}
	if len(got) != 3 || got[1].Error != "" || string(got[2].Stdout) != "two\n" || got[3].Error == "" {
		t.Fatalf("responses %+v", got)
	}
}
