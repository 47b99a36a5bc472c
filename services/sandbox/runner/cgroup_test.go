//go:build linux

package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCgroups writes files under a temporary root: path → contents.
func fakeCgroups(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The layouts a container sees: Docker's (its own cgroup at the mount root, v1
// and v2), and the whole hierarchy with the container's path from
// /proc/self/cgroup (no cgroup namespace); and a host cgroup that lists other
// processes, never taken for the agent's.
func TestOpenCgroup(t *testing.T) {
	const v1Self = "4:memory:/docker/abc\n3:pids:/docker/abc\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n"
	v1Own := map[string]string{
		"cpu,cpuacct/cgroup.procs": "1\n7\n", "cpu,cpuacct/cpuacct.usage": "5000\n",
		"cpu,cpuacct/cpu.cfs_quota_us": "150000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
		"memory/cgroup.procs": "1\n", "memory/memory.stat": "cache 10\nrss 4096\nshmem 1024\n",
		"memory/memory.limit_in_bytes": "2147483648\n", "memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
		"pids/cgroup.procs": "1\n", "pids/pids.max": "256\n",
	}
	v1Full := map[string]string{"cpu,cpuacct/cgroup.procs": "2211\n", "cpu,cpuacct/cpuacct.usage": "99\n"}
	for name, data := range v1Own {
		dir, file := filepath.Split(name)
		v1Full[filepath.Join(dir, "docker/abc", file)] = data
	}
	v2Own := map[string]string{
		"cgroup.procs": "1\n", "cpu.stat": "usage_usec 7\nuser_usec 5\n", "cpu.max": "max 100000\n",
		"memory.stat": "anon 8192\nfile 10\nshmem 0\n", "memory.max": "max\n", "memory.events": "oom 1\noom_kill 1\n", "pids.max": "max\n",
	}
	v2Full := map[string]string{"cgroup.procs": "1\n"} // the host's init is pid 1 too
	for name, data := range v2Own {
		v2Full["system.slice/docker-abc.scope/"+name] = data
	}
	cases := []struct {
		name    string
		files   map[string]string
		self    string
		want    Cgroup
		cpu     int64
		oomKill int64
	}{
		{"v1, own cgroup at the root", v1Own, v1Self, Cgroup{Version: 1, Memory: true, MemoryBytes: 2 << 30, CPUs: 1.5, Pids: 256}, 5000, 3},
		{"v1, whole hierarchy", v1Full, v1Self, Cgroup{Version: 1, Memory: true, MemoryBytes: 2 << 30, CPUs: 1.5, Pids: 256}, 5000, 3},
		{"v2, cgroup namespace", v2Own, "0::/\n", Cgroup{Version: 2, Memory: true, MemoryBytes: -1, Pids: -1}, 7000, 1},
		{"v2, whole hierarchy (systemd)", v2Full, "0::/system.slice/docker-abc.scope\n", Cgroup{Version: 2, Memory: true, MemoryBytes: -1, Pids: -1}, 7000, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cg, err := openCgroup(fakeCgroups(t, tc.files), []byte(tc.self), 1)
			if err != nil {
				t.Fatal(err)
			}
			if cg.limits != tc.want {
				t.Errorf("limits %+v, want %+v", cg.limits, tc.want)
			}
			if cpu, err := cg.cpuNanos(); err != nil || cpu != tc.cpu {
				t.Errorf("cpu %d %v, want %d", cpu, err, tc.cpu)
			}
			if n := cg.oomKills(); n != tc.oomKill {
				t.Errorf("oom kills %d, want %d", n, tc.oomKill)
			}
			if _, err := cg.memoryBytes(); err != nil {
				t.Errorf("memory: %v", err)
			}
		})
	}
	// The agent is not in the host's cgroup: no meter.
	host := map[string]string{"cpuacct/cgroup.procs": "1\n2\n", "cpuacct/cpuacct.usage": "1\n"}
	if _, err := openCgroup(fakeCgroups(t, host), []byte("2:cpuacct:/\n"), 4242); err == nil || !strings.Contains(err.Error(), "4242") {
		t.Errorf("a cgroup that does not list the agent was taken: %v", err)
	}
}

// The watchdog stops a run once the cgroup, less the agent, passes the CPU or
// the memory limit: whichever process used it.
func TestMeterWatchdog(t *testing.T) {
	root := fakeCgroups(t, map[string]string{"cgroup.procs": "1\n", "cpu.stat": "usage_usec 1000\n", "memory.stat": "anon 0\nshmem 0\n"})
	cg, err := openCgroup(root, []byte("0::/\n"), 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{cg: cg}
	lim := Limits{CPUMillis: 100, MemoryBytes: 64 << 20}
	for _, tc := range []struct {
		name, file, data string
		cpuOver, memOver bool
	}{
		{"CPU of other processes", "cpu.stat", "usage_usec 900000\n", true, false},
		{"memory of other processes", "memory.stat", "anon 1073741824\nshmem 1073741824\n", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := a.startMeter()
			if err != nil {
				t.Fatal(err)
			}
			killed := make(chan struct{}, 1)
			stop := m.watch(lim, func() { killed <- struct{}{} })
			if err := os.WriteFile(filepath.Join(root, tc.file), []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			select {
			case <-killed:
			case <-time.After(5 * time.Second):
				t.Fatal("the watchdog did not stop the run")
			}
			w := stop()
			if w.cpuOver != tc.cpuOver || w.memoryOver != tc.memOver {
				t.Fatalf("watched %+v", w)
			}
			// Back to the start for the next case.
			_ = os.WriteFile(filepath.Join(root, "cpu.stat"), []byte("usage_usec 1000\n"), 0o644)
			_ = os.WriteFile(filepath.Join(root, "memory.stat"), []byte("anon 0\nshmem 0\n"), 0o644)
		})
	}
}

// testAgentEnv makes the test binary serve as the agent (see TestMain): the
// cgroup test starts it as PID 1 of a new pid namespace.
const testAgentEnv = "REWARDMESH_TEST_AGENT_WORKDIR"

func TestMain(m *testing.M) {
	if work := os.Getenv(testAgentEnv); work != "" {
		a := &Agent{WorkDir: work, Wipe: []string{work}}
		if err := a.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestAgentInCgroup runs the agent as a container's init would run: PID 1 of a
// pid namespace, alone in a cgroup of its own with a memory limit and a
// one-core quota, on whichever cgroup version the host has. Every process a
// program starts must be charged. It makes cgroups as root, so it runs only when
// asked: REWARDMESH_CGROUP_TEST=1 (as root; needs unshare and python3). The
// same programs run in Docker in the hostile suite; this test is how the other
// cgroup version is checked where Docker runs this one.
func TestAgentInCgroup(t *testing.T) {
	if os.Getenv("REWARDMESH_CGROUP_TEST") != "1" {
		t.Skip("makes cgroups as root; set REWARDMESH_CGROUP_TEST=1 to run")
	}
	needTool(t, "unshare")
	// The system interpreter: a version manager's shim would be charged too.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = needTool(t, "python3")
	}
	dirs := makeTestCgroup(t)
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The shell moves itself into the cgroup, then becomes unshare, whose
	// child, the agent, starts there.
	join := `for d; do echo $$ > "$d/cgroup.procs" || exit 1; done; exec unshare --pid --fork --mount-proc "$AGENT"`
	cmd := exec.Command("sh", append([]string{"-c", join, "sh"}, dirs...)...)
	cmd.Env = append(os.Environ(), testAgentEnv+"="+work, "AGENT="+self)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	call := func(req Request) Response {
		t.Helper()
		if err := WriteFrame(in, req); err != nil {
			t.Fatal(err)
		}
		var resp Response
		if err := ReadFrame(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ping := call(Request{ID: 1, Op: OpPing})
	if ping.Cgroup == nil || ping.Cgroup.Version == 0 || ping.Cgroup.MemoryBytes != 2<<30 || ping.Cgroup.CPUs != 1 {
		t.Fatalf("ping: cgroup %+v", ping.Cgroup)
	}
	t.Logf("cgroup v%d", ping.Cgroup.Version)
	const burn = "import os, time\ndef burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s:\n        pass\nr, w = os.pipe()\n"
	workers := burn + "for _ in range(2):\n    if os.fork() == 0:\n        burn(BURN)\n        os.write(w, b'x')\n        os._exit(0)\nos.read(r, 1)\nos.read(r, 1)\n"
	orphans := burn + "for _ in range(2):\n    pid = os.fork()\n    if pid == 0:\n        if os.fork() == 0:\n            burn(BURN)\n            os.write(w, b'x')\n        os._exit(0)\n    os.waitpid(pid, 0)\nos.read(r, 1)\nos.read(r, 1)\n"
	memory := "import os, time\nr, w = os.pipe()\nfor _ in range(N):\n    if os.fork() == 0:\n        x = bytearray(b'1') * (100 << 20)\n        os.write(w, b'x')\n        time.sleep(30)\nfor _ in range(N):\n    os.read(r, 1)\ntime.sleep(0.3)\n"
	memfd := "import os\nfds = [os.memfd_create('x') for _ in range(30)]\nfor fd in fds:\n    for _ in range(60):\n        os.write(fd, b'z' * (1 << 20))\n"
	for i, tc := range []struct {
		name, src string
		cpuMS     int64
		want      Status
		minCPUus  int64
		minMemKB  int64
	}{
		// Over the limit, the wall clock of a loaded host may stop them first: TLE either way.
		{"workers never waited, over", strings.ReplaceAll(workers, "BURN", "0.9"), 1000, StatusTLE, 0, 0},
		{"workers never waited, under", strings.ReplaceAll(workers, "BURN", "0.2"), 3000, StatusOK, 400000, 0},
		{"double-forked orphans, over", strings.ReplaceAll(orphans, "BURN", "0.9"), 1000, StatusTLE, 0, 0},
		{"double-forked orphans, under", strings.ReplaceAll(orphans, "BURN", "0.2"), 3000, StatusOK, 400000, 0},
		{"four workers of 100 MB", strings.ReplaceAll(memory, "N", "4"), 5000, StatusMLE, 0, 0},
		{"two workers of 100 MB", strings.ReplaceAll(memory, "N", "2"), 5000, StatusOK, 0, 200 << 10},
		{"memfd pages", memfd, 5000, StatusMLE, 0, 0},
	} {
		file := fmt.Sprintf("p%d.py", i)
		if r := call(Request{ID: uint64(10 + 2*i), Op: OpWrite, Files: map[string]File{file: {Data: []byte(tc.src)}}}); r.Error != "" {
			t.Fatal(r.Error)
		}
		lim := Limits{CPUMillis: tc.cpuMS, WallMillis: tc.cpuMS * 3 / 2, MemoryBytes: 256 << 20}
		r := call(Request{ID: uint64(11 + 2*i), Op: OpRun, Argv: []string{python, file}, Limits: lim})
		if r.Status != tc.want || r.CPUMicros < tc.minCPUus || r.MemoryKB < tc.minMemKB {
			t.Errorf("%s: status %s cpu %d µs memory %d KiB, want %s, cpu ≥ %d µs, memory ≥ %d KiB (stderr %q)",
				tc.name, r.Status, r.CPUMicros, r.MemoryKB, tc.want, tc.minCPUus, tc.minMemKB, r.Stderr)
		} else {
			t.Logf("%s: %s, cpu %d ms, memory %d KiB", tc.name, r.Status, r.CPUMicros/1000, r.MemoryKB)
		}
	}
}

// makeTestCgroup makes a cgroup with a 2 GiB memory limit, a one-core quota and
// 256 pids (v2, or one per v1 controller) and returns its directories.
func makeTestCgroup(t *testing.T) []string {
	t.Helper()
	name := fmt.Sprintf("rewardmesh-agent-test-%d", os.Getpid())
	var dirs []string
	write := func(dir, file, data string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
			t.Fatalf("cgroup %s: %v", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		for _, c := range []string{"cpu", "memory", "pids"} {
			_ = os.WriteFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		}
		dir := filepath.Join(cgroupRoot, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
		dirs = []string{dir}
		write(dir, "memory.max", "2147483648")
		write(dir, "cpu.max", "100000 100000")
		write(dir, "pids.max", "256")
	} else {
		for _, c := range []string{"cpu", "cpuacct", "memory", "pids"} {
			dir := filepath.Join(cgroupRoot, c, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Skipf("cannot make a cgroup: %v", err)
			}
			dirs = append(dirs, dir)
		}
		write(dirs[0], "cpu.cfs_quota_us", "100000")
		write(dirs[2], "memory.limit_in_bytes", "2147483648")
		write(dirs[3], "pids.max", "256")
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			for range 50 { // its processes may take a moment to go
				if os.Remove(d) == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	return dirs
}
