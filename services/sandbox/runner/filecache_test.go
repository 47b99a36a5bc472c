package runner

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingWriter counts the bytes that cross the stream to the agent.
type countingWriter struct {
	w io.WriteCloser
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

func (c *countingWriter) Close() error { return c.w.Close() }

// serveConn serves a on a pipe and returns the service's Conn to it, whose
// requests go through wrap (nil: as they are), and a context for the test;
// the agent is stopped when the test ends.
func serveConn(t *testing.T, a *Agent, wrap func(io.WriteCloser) io.WriteCloser) (*Conn, context.Context) {
	t.Helper()
	toAgent, fromService := io.Pipe()
	fromAgent, toService := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- a.Serve(toAgent, toService) }()
	var w io.WriteCloser = fromService
	if wrap != nil {
		w = wrap(fromService)
	}
	c := NewConn(fromAgent, w, w, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(func() {
		cancel()
		c.Close(nil)
		<-served
	})
	return c, ctx
}

// A file sent with a key crosses the stream once: the next request names it by
// key, and the agent writes it from what it kept, byte for byte. An agent
// that no longer keeps it answers NotCached without running anything, and Conn
// sends the request again with the data, its ResetAfter with it. The kept copy
// is sealed: nothing can write to it.
func TestKeyedFilesCrossOnce(t *testing.T) {
	a := newTestAgent(t)
	sh := needTool(t, "sh")
	var wire *countingWriter
	c, ctx := serveConn(t, a, func(w io.WriteCloser) io.WriteCloser {
		wire = &countingWriter{w: w}
		return wire
	})

	// A 256 KiB script: a line of output and padding after it.
	script := "echo kept\nexit 0\n" + strings.Repeat("# padding padding padding padding\n", 256<<10/34)
	files := map[string]File{"prog.sh": {Data: []byte(script), Exec: true, Key: "k1"}}
	run := func(what string, req Request) (Response, int64) {
		t.Helper()
		before := wire.n.Load()
		resp, err := c.Do(ctx, req)
		if err != nil || resp.Status != StatusOK || string(resp.Stdout) != "kept\n" {
			t.Fatalf("%s: %+v, %v", what, resp, err)
		}
		return resp, wire.n.Load() - before
	}
	_, first := run("first run", Request{Op: OpRun, Files: files, Argv: []string{sh, "prog.sh"}})
	if first < int64(len(script)) {
		t.Fatalf("the first run sent %d bytes, less than the file's %d", first, len(script))
	}
	_, second := run("second run", Request{Op: OpRun, Files: files, Argv: []string{sh, "prog.sh"}})
	if second > 4096 {
		t.Fatalf("the second run sent %d bytes: the kept file was sent again", second)
	}
	// The file written from the cache is the one sent.
	resp, err := c.Do(ctx, Request{Op: OpRead, Path: "prog.sh"})
	if err != nil || string(resp.Data) != script {
		t.Fatalf("the file written from the cache differs (%d bytes, %v)", len(resp.Data), err)
	}

	// The agent never had k2, though the Conn thinks it has: NotCached, then
	// the run again with its data, which runs once and resets once.
	other := map[string]File{"prog.sh": {Data: []byte(script), Exec: true, Key: "k2"}}
	c.keep(Request{Files: other})
	raw, err := c.doOnce(ctx, Request{Op: OpRun, Files: map[string]File{"prog.sh": {Exec: true, Key: "k2"}}, Argv: []string{sh, "prog.sh"}}, nil, nil)
	if err != nil || !raw.NotCached || raw.Status != StatusFailed || len(raw.Stdout) > 0 {
		t.Fatalf("a key the agent does not keep: %+v, %v; want NotCached and nothing run", raw, err)
	}
	_, again := run("a run whose key the agent lost", Request{Op: OpRun, Files: other, Argv: []string{sh, "prog.sh"}, ResetAfter: true})
	if again < int64(len(script)) {
		t.Fatalf("the run again sent %d bytes, without the file", again)
	}
	if _, asked, err := c.AwaitReset(ctx); !asked || err == nil || !strings.Contains(err.Error(), "init") {
		t.Fatalf("the reset of the run sent again: asked %v, err %v", asked, err)
	}
	// A write by key alone of a file the agent lacks fails for that reason.
	resp, err = c.doOnce(ctx, Request{Op: OpWrite, Files: map[string]File{"x": {Key: "nope"}}}, nil, nil)
	if err != nil || !resp.NotCached {
		t.Fatalf("a write by an unknown key: %+v, %v", resp, err)
	}

	a.files.mu.Lock()
	kept := a.files.byKey["k1"].Value.(*cachedFile)
	a.files.mu.Unlock()
	if _, err := kept.f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("the kept copy could be written")
	}
}

// The cache keeps to CacheBytes, the least recently used going first; a file
// over CacheFileBytes is not kept.
func TestFileCacheEvicts(t *testing.T) {
	var c fileCache
	big := make([]byte, CacheFileBytes)
	for i := range CacheBytes/CacheFileBytes + 1 {
		if err := c.put(string(rune('a'+i)), big); err != nil {
			t.Fatal(err)
		}
	}
	if c.size > CacheBytes {
		t.Fatalf("the cache holds %d bytes, over %d", c.size, CacheBytes)
	}
	if err := c.writeTo("a", io.Discard); err != errNotCached {
		t.Fatalf("the oldest file is still kept (%v)", err)
	}
	if err := c.writeTo(string(rune('a'+CacheBytes/CacheFileBytes)), io.Discard); err != nil {
		t.Fatalf("the newest file: %v", err)
	}
	if err := c.put("huge", make([]byte, CacheFileBytes+1)); err != nil || c.byKey["huge"] != nil {
		t.Fatalf("a file over CacheFileBytes was kept (%v)", err)
	}
}

// An executable written by key alone runs from the kept copy itself: the
// program starts, holds no descriptor of it, and a run of anything else first
// finds it written out in the work directory, byte for byte.
func TestKeyedExecutableRunsFromTheKeptCopy(t *testing.T) {
	a := newTestAgent(t)
	gcc := needTool(t, "gcc")
	cat := needTool(t, "cat")
	dir := t.TempDir()
	src := dir + "/p.c"
	prog := "#include <stdio.h>\n#include <fcntl.h>\n#include <unistd.h>\n" +
		"int main(void){char b[256]={0};readlink(\"/proc/self/exe\",b,255);int n=0;scanf(\"%d\",&n);" +
		"printf(\"%d %s %s\\n\",n*2,fcntl(3,F_GETFD)==-1?\"closed\":\"open\",b);return 0;}\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-O2", "-o", dir+"/p", src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, out)
	}
	bin, err := os.ReadFile(dir + "/p")
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := serveConn(t, a, nil)
	files := map[string]File{"p": {Data: bin, Exec: true, Key: "p1"}}
	for i, want := range []string{"", "memfd"} {
		resp, err := c.Do(ctx, Request{Op: OpRun, Files: files, Argv: []string{"./p"}, Stdin: []byte("21\n")})
		if err != nil || resp.Status != StatusOK {
			t.Fatalf("run %d: %+v, %v", i, resp, err)
		}
		out := strings.SplitN(strings.TrimSpace(string(resp.Stdout)), " ", 3)
		if len(out) != 3 || out[0] != "42" || out[1] != "closed" || !strings.Contains(out[2], want) {
			t.Fatalf("run %d printed %q; want 42, no descriptor 3, and an exe path with %q", i, resp.Stdout, want)
		}
	}
	resp, err := c.Do(ctx, Request{Op: OpRun, Argv: []string{cat, "p"}})
	if err != nil || resp.Status != StatusOK || string(resp.Stdout) != string(bin) {
		t.Fatalf("another program read %d bytes of the binary, want %d (%v)", len(resp.Stdout), len(bin), err)
	}
}
