package pool

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

func muxFrame(stream byte, data []byte) []byte {
	head := make([]byte, 8)
	head[0] = stream
	binary.BigEndian.PutUint32(head[4:], uint32(len(data)))
	return append(head, data...)
}

func TestDemux(t *testing.T) {
	var proto bytes.Buffer
	if err := runner.WriteFrame(&proto, runner.Response{ID: 3, Status: runner.StatusOK, Stdout: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	p := proto.Bytes()
	// The protocol frame arrives split across stdout chunks with stderr between.
	var stream []byte
	stream = append(stream, muxFrame(1, p[:5])...)
	stream = append(stream, muxFrame(2, []byte("agent warning\n"))...)
	stream = append(stream, muxFrame(1, p[5:])...)
	d := &demux{src: bytes.NewReader(stream)}
	var resp runner.Response
	if err := runner.ReadFrame(d, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ID != 3 || string(resp.Stdout) != "hello" {
		t.Fatalf("response %+v", resp)
	}
	if d.stderr() != "agent warning\n" {
		t.Fatalf("stderr %q", d.stderr())
	}
	if _, err := d.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	bad := &demux{src: bytes.NewReader(muxFrame(9, []byte("x")))}
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Fatalf("unknown stream id accepted")
	}
}

func FuzzDemux(f *testing.F) {
	f.Add(muxFrame(1, []byte("abc")))
	f.Add(append(muxFrame(2, []byte("e")), muxFrame(1, []byte("x"))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &demux{src: bytes.NewReader(data)}
		buf := make([]byte, 7)
		for range 1000 {
			if _, err := d.Read(buf); err != nil {
				return
			}
		}
	})
}

func TestOrphaned(t *testing.T) {
	self := Owner{ID: "me", Host: "h", PID: os.Getpid(), Start: processStart(os.Getpid())}
	old := time.Now().Add(-time.Hour)
	fresh := time.Now()
	mine := func(id string) bool { return id == "tracked" }
	labels := func(owner, host string, pid int, start string) map[string]string {
		return map[string]string{LabelSandbox: "python", LabelOwner: owner, LabelHost: host, LabelPID: strconv.Itoa(pid), LabelStart: start}
	}
	cases := []struct {
		name    string
		labels  map[string]string
		state   string
		created time.Time
		id      string
		want    bool
	}{
		{"ours, tracked", labels("me", "h", self.PID, self.Start), "running", old, "tracked", false},
		{"ours, untracked and old", labels("me", "h", self.PID, self.Start), "running", old, "lost", true},
		{"ours, untracked but just created", labels("me", "h", self.PID, self.Start), "running", fresh, "new", false},
		{"another live owner here", labels("other", "h", self.PID, self.Start), "running", old, "x", false},
		{"another owner's pid reused", labels("other", "h", self.PID, "1"), "running", old, "x", true},
		{"dead owner here", labels("other", "h", 1<<30, ""), "running", old, "x", true},
		{"exited", labels("other", "elsewhere", 1, ""), "exited", old, "x", true},
		{"running, owner on another host", labels("other", "elsewhere", 1, ""), "running", old, "x", false},
		{"created long ago and never started", labels("other", "elsewhere", 1, ""), "created", old, "x", true},
		{"no pid label", map[string]string{LabelSandbox: "python", LabelOwner: "other", LabelHost: "h"}, "running", old, "x", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := orphaned(tc.labels, tc.state, tc.created, self, mine, tc.id); got != tc.want {
				t.Fatalf("orphaned = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProcessStart(t *testing.T) {
	if processStart(os.Getpid()) == "" {
		t.Skip("no /proc here")
	}
	if processStart(os.Getpid()) != processStart(os.Getpid()) {
		t.Fatalf("start time is not stable")
	}
	if processStart(1<<30) != "" {
		t.Fatalf("a missing process has a start time")
	}
}

// A container whose daemon did not apply its limits, or whose agent cannot meter
// it, must not judge.
func TestCheckCgroup(t *testing.T) {
	p := &Pool{cfg: Config{MemoryBytes: 2 << 30, PidsLimit: 256, CPUs: 1}}
	good := runner.Cgroup{Version: 1, Memory: true, MemoryBytes: 2 << 30, CPUs: 1, Pids: 256}
	if err := p.checkCgroup(&good); err != nil {
		t.Fatalf("the limits asked for: %v", err)
	}
	for _, tc := range []struct {
		name string
		cg   *runner.Cgroup
		want string
	}{
		{"no report", nil, "no cgroup"},
		{"not found", &runner.Cgroup{Error: "no cgroup lists pid 1"}, "no cgroup lists pid 1"},
		{"memory unbounded", &runner.Cgroup{Version: 1, MemoryBytes: -1, CPUs: 1, Pids: 256}, "memory limit -1"},
		{"no CPU quota", &runner.Cgroup{Version: 2, MemoryBytes: 2 << 30, Pids: 256}, "CPU quota 0.00"},
		{"no pids limit", &runner.Cgroup{Version: 2, MemoryBytes: 2 << 30, CPUs: 1, Pids: -1}, "pids limit -1"},
	} {
		if err := p.checkCgroup(tc.cg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}
