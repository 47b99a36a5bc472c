// Package sandbox_test is the hostile suite: programs that try to break out of, or
// break, the code sandbox, run against real Docker. After each, the sandbox must
// still judge correctly; after shutdown no sandbox container may remain.
package sandbox_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// requireDocker skips (or, with REWARDMESH_REQUIRE_DOCKER=1, fails) when Docker
// or the sandbox images are absent.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the sandbox suites need Docker and take minutes; skipped in -short")
	}
	sandboxtest.RequireDocker(t)
}

func newSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sandbox.New(ctx, cfg)
	if err != nil {
		t.Fatalf("start the sandbox: %v", err)
	}
	return s
}

// sandboxContainers lists the containers carrying the sandbox label (and owner,
// when given), as `docker ps -a --filter label=...` does.
func sandboxContainers(t *testing.T, owner string) []string {
	t.Helper()
	args := []string{"ps", "-a", "-q", "--filter", "label=rewardmesh.sandbox"}
	if owner != "" {
		args = append(args, "--filter", "label=rewardmesh.sandbox.owner="+owner)
	}
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

const addPython = "a, b = map(int, input().split())\nprint(a + b)\n"

// stillJudges checks the sandbox still gives the right verdicts after an attack.
func stillJudges(t *testing.T, ctx context.Context, s *sandbox.Sandbox) {
	t.Helper()
	tests := []reward.TestCase{{Input: "2 3\n", Output: "5\n"}, {Input: "10 -4\n", Output: "6\n"}}
	for _, tc := range []struct {
		src  string
		want reward.Verdict
	}{{addPython, reward.Accepted}, {"print(0)\n", reward.WrongAnswer}} {
		res, err := s.Judge(ctx, sandbox.JudgeItem{Language: "python", Source: tc.src, Tests: tests})
		if err != nil {
			t.Fatalf("after the attack, judge: %v", err)
		}
		if res.Verdict != tc.want {
			t.Fatalf("after the attack, verdict %s, want %s (%+v)", res.Verdict, tc.want, res)
		}
	}
}

func TestHostile(t *testing.T) {
	s := newSandbox(t, sandbox.Config{Concurrency: 2, OutputLimitBytes: 1 << 20})
	owner := s.OwnerID()
	closed := false
	defer func() {
		if !closed {
			_ = s.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	run := func(t *testing.T, lang, src string, timeMS, memMB int) sandbox.RunResult {
		t.Helper()
		// Python programs attack as copies of the fork server, the path with the
		// most to defend (a fresh interpreter is what the other suites run).
		res, err := s.Run(ctx, sandbox.RunItem{Language: lang, Source: src, TimeLimitMS: timeMS, MemoryLimitMB: memMB, Isolation: "fork"})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return res
	}
	judge := func(t *testing.T, lang, src string, timeMS, memMB int) sandbox.JudgeResult {
		t.Helper()
		res, err := s.Judge(ctx, sandbox.JudgeItem{Language: lang, Source: src, TimeLimitMS: timeMS, MemoryLimitMB: memMB,
			Tests: []reward.TestCase{{Input: "1\n", Output: "1\n"}}})
		if err != nil {
			t.Fatalf("judge: %v", err)
		}
		return res
	}

	t.Run("network", func(t *testing.T) {
		res := run(t, "python", `import os, socket
print(sorted(os.listdir("/sys/class/net")))
for addr in [("1.1.1.1", 80), ("8.8.8.8", 53), ("172.17.0.1", 2375)]:
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(addr)
        print("connected", addr)
    except OSError as e:
        print("refused")
try:
    socket.getaddrinfo("deb.debian.org", 80)
    print("resolved")
except OSError:
    print("no dns")
`, 10000, 0)
		want := "['lo']\nrefused\nrefused\nrefused\nno dns\n"
		if res.Status != "ok" || res.Stdout != want {
			t.Fatalf("network reachable: status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
		}
		// bash reaches the network through /dev/tcp; C through the same sockets.
		sh := run(t, "bash", `ls /sys/class/net
for a in 1.1.1.1/80 8.8.8.8/53 172.17.0.1/2375; do
  if (exec 3<>/dev/tcp/$a) 2>/dev/null; then echo connected; else echo refused; fi
done
`, 10000, 0)
		if sh.Status != "ok" || sh.Stdout != "lo\nrefused\nrefused\nrefused\n" {
			t.Fatalf("network reachable from bash: status %s stdout %q stderr %q", sh.Status, sh.Stdout, sh.Stderr)
		}
		c := run(t, "c", `#include <stdio.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  const char *ips[] = {"1.1.1.1", "8.8.8.8", "172.17.0.1"};
  for (int i = 0; i < 3; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(80); inet_pton(AF_INET, ips[i], &a.sin_addr);
    puts(connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? "connected" : "refused");
    close(fd);
  }
  return 0;
}
`, 10000, 0)
		if c.Status != "ok" || c.Stdout != "refused\nrefused\nrefused\n" {
			t.Fatalf("network reachable from C: status %s stdout %q stderr %q", c.Status, c.Stdout, c.Stderr)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("fork bomb", func(t *testing.T) {
		for _, tc := range []struct{ lang, src string }{
			{"python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"},
			{"cpp", "#include <unistd.h>\nint main(){ while(1) fork(); }\n"},
			{"c", "#include <unistd.h>\nint main(void){ while(1) fork(); }\n"},
			{"bash", ":(){ :|:; };:\n"}, // in the foreground: it holds the test until it is stopped
		} {
			res := judge(t, tc.lang, tc.src, 1000, 0)
			if res.Verdict != reward.TimeLimitExceeded && res.Verdict != reward.RuntimeError {
				t.Fatalf("%s fork bomb: verdict %s, want TLE or RE", tc.lang, res.Verdict)
			}
		}
		stillJudges(t, ctx, s)
	})

	t.Run("2 GiB allocation is MLE", func(t *testing.T) {
		for _, tc := range []struct{ lang, src string }{
			{"python", "x = bytearray(2 << 30)\nprint(len(x))\n"},
			{"python", "a = []\nwhile True:\n    a.append(bytearray(16 << 20))\n"},
			{"cpp", "#include <bits/stdc++.h>\nint main(){ std::vector<char> v(2LL << 30, 1); std::cout << v[12345]; }\n"},
			{"cpp", "#include <bits/stdc++.h>\nstatic char big[1LL << 30];\nint main(){ for (long i = 0; i < (1LL << 30); i += 4096) big[i] = 1; std::cout << big[4096]; }\n"},
			{"c", "#include <stdio.h>\nstatic char big[1L << 30];\nint main(void){ for (long i = 0; i < (1L << 30); i += 4096) big[i] = 1; printf(\"%d\", big[4096]); return 0; }\n"},
			{"cpp20", "#include <vector>\n#include <iostream>\nint main(){ std::vector<char> v(2LL << 30, 1); std::cout << v[12345]; }\n"},
		} {
			res := judge(t, tc.lang, tc.src, 5000, 256)
			if res.Verdict != reward.MemoryLimitExceeded {
				t.Fatalf("%s allocation: verdict %s, want MLE (%+v)", tc.lang, res.Verdict, res)
			}
		}
		stillJudges(t, ctx, s)
	})

	t.Run("sleep and busy loop are TLE soon after the limit", func(t *testing.T) {
		for _, src := range []string{"import time\ntime.sleep(60)\n", "while True:\n    pass\n"} {
			start := time.Now()
			res := judge(t, "python", src, 1000, 0)
			elapsed := time.Since(start)
			if res.Verdict != reward.TimeLimitExceeded {
				t.Fatalf("%q: verdict %s, want TLE", src, res.Verdict)
			}
			// The wall limit is 1.5 s for a 1 s limit; the rest is slack for a loaded host.
			if elapsed > 15*time.Second || res.Tests[0].TimeMS > 2500 {
				t.Fatalf("%q: TLE took %v (test time %d ms), want soon after the 1 s limit", src, elapsed, res.Tests[0].TimeMS)
			}
		}
		stillJudges(t, ctx, s)
	})

	t.Run("a program that leaves its process group is stopped at the wall limit", func(t *testing.T) {
		// It moves itself into its child's group, so killing its own group misses it.
		src := "import os, time\nr, w = os.pipe()\npid = os.fork()\nif pid == 0:\n    os.setpgid(0, 0)\n    os.write(w, b'x')\n    time.sleep(0.5)\n    os._exit(0)\nos.read(r, 1)\nos.setpgid(0, pid)\ntime.sleep(30)\nprint(1)\n"
		start := time.Now()
		res := judge(t, "python", src, 1000, 0)
		if elapsed := time.Since(start); res.Verdict != reward.TimeLimitExceeded || elapsed > 15*time.Second {
			t.Fatalf("verdict %s after %v, want TLE soon after the 1.5 s wall limit", res.Verdict, elapsed)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("every process a test starts is charged its CPU", func(t *testing.T) {
		// Each program makes two workers burn BURN seconds of CPU each, in a way
		// wait4 on the program alone never sees. Over the limit they must be TLE;
		// under it, AC with a time that holds the workers' 2×BURN.
		const burn = "import os, time\ndef burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s:\n        pass\nr, w = os.pipe()\n"
		cases := []struct{ name, lang, src string }{
			{"forked workers never waited", "python", burn + "for _ in range(2):\n    if os.fork() == 0:\n        burn(BURN)\n        os.write(w, b'x')\n        os._exit(0)\nos.read(r, 1)\nos.read(r, 1)\nprint(1)\n"},
			{"double-forked orphans", "python", burn + "for _ in range(2):\n    pid = os.fork()\n    if pid == 0:\n        if os.fork() == 0:\n            burn(BURN)\n            os.write(w, b'x')\n        os._exit(0)\n    os.waitpid(pid, 0)\nos.read(r, 1)\nos.read(r, 1)\nprint(1)\n"},
			{"workers still running after the program exits", "python", burn + "for _ in range(2):\n    if os.fork() == 0:\n        os.setsid()\n        burn(BURN)\n        os.write(w, b'x')\n        while True:\n            pass\nos.read(r, 1)\nos.read(r, 1)\nprint(1)\n"},
			{"threads in C++", "cpp", "#include <bits/stdc++.h>\nstatic void burn(double s) {\n  timespec a, b;\n  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);\n  do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);\n  while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < s);\n}\nint main() { std::thread t1(burn, BURN), t2(burn, BURN); t1.join(); t2.join(); puts(\"1\"); }\n"},
		}
		for _, tc := range cases {
			if res := judge(t, tc.lang, strings.ReplaceAll(tc.src, "BURN", "0.9"), 1000, 0); res.Verdict != reward.TimeLimitExceeded {
				t.Errorf("%s, 1.8 s of CPU under a 1 s limit: verdict %s, want TLE (%+v)", tc.name, res.Verdict, res)
			}
			// A generous limit: a loaded host must not turn 0.4 s into a wall-clock TLE.
			res := judge(t, tc.lang, strings.ReplaceAll(tc.src, "BURN", "0.2"), 3000, 0)
			if res.Verdict != reward.Accepted || res.Tests[0].TimeMS < 400 {
				t.Errorf("%s, 0.4 s of CPU under a 3 s limit: verdict %s, want AC with time_ms ≥ 400 (%+v)", tc.name, res.Verdict, res)
			} else {
				t.Logf("%s, 0.4 s of CPU: AC in %d ms", tc.name, res.Tests[0].TimeMS)
			}
		}
		stillJudges(t, ctx, s)
	})

	t.Run("memory of every process a test starts is charged", func(t *testing.T) {
		// Four workers hold 100 MB each, within their own RLIMIT_AS, 400 MB together.
		workers := "import os, time\nr, w = os.pipe()\nfor _ in range(N):\n    if os.fork() == 0:\n        x = bytearray(b'1') * (100 << 20)\n        os.write(w, b'x')\n        time.sleep(30)\nfor _ in range(N):\n    os.read(r, 1)\ntime.sleep(0.3)\nprint(1)\n"
		if res := judge(t, "python", strings.ReplaceAll(workers, "N", "4"), 5000, 256); res.Verdict != reward.MemoryLimitExceeded {
			t.Errorf("4 workers of 100 MB under 256 MB: verdict %s, want MLE (%+v)", res.Verdict, res)
		}
		if res := judge(t, "python", strings.ReplaceAll(workers, "N", "2"), 5000, 256); res.Verdict != reward.Accepted || res.Tests[0].MemoryKB < 200<<10 {
			t.Errorf("2 workers of 100 MB under 256 MB: verdict %s, want AC with memory_kb ≥ 200 MiB (%+v)", res.Verdict, res)
		}
		// memfd pages are in no address space, so RLIMIT_AS never sees them; with
		// its OOM score lowered as far as it may, the program would have the OOM
		// killer take the agent, were the container's limit ever reached.
		memfd := "import os\nfor v in ('-1000', '0'):\n    try:\n        with open('/proc/self/oom_score_adj', 'w') as f:\n            f.write(v)\n        break\n    except OSError:\n        pass\nchunk = b'z' * (1 << 20)\nfds = []\nfor _ in range(30):\n    fd = os.memfd_create('x')\n    fds.append(fd)\n    for _ in range(60):\n        os.write(fd, chunk)\nprint(1)\n"
		if res := judge(t, "python", memfd, 5000, 256); res.Verdict != reward.MemoryLimitExceeded {
			t.Errorf("1.8 GB of memfd pages under 256 MB: verdict %s, want MLE (%+v)", res.Verdict, res)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("a large input does not make later programs MLE", func(t *testing.T) {
		// The agent holds a 40 MB input in memory; a program started later shares
		// the agent's memory until execve, whose peak once became its ru_maxrss.
		big := strings.Repeat("1234567 ", 5<<20)
		for range 2 { // each of the pool's two C++ containers
			res, err := s.Run(ctx, sandbox.RunItem{Language: "cpp", Source: "#include <cstdio>\nint main(){ char b[1<<16]; long n = 0, k; while ((k = fread(b, 1, sizeof b, stdin)) > 0) n += k; printf(\"%ld\\n\", n); }\n", Stdin: big, TimeLimitMS: 10000})
			if err != nil || res.Status != "ok" {
				t.Fatalf("large input: %v %+v", err, res.Status)
			}
		}
		addCpp := "#include <cstdio>\nint main(){ long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b); }\n"
		for range 4 {
			res, err := s.Judge(ctx, sandbox.JudgeItem{Language: "cpp", Source: addCpp, MemoryLimitMB: 32,
				Tests: []reward.TestCase{{Input: "2 3\n", Output: "5\n"}}})
			if err != nil || res.Verdict != reward.Accepted {
				t.Fatalf("honest program after a large input: %v %+v", err, res)
			}
			if kb := res.Tests[0].MemoryKB; kb > 24<<10 {
				t.Errorf("honest program reports %d KiB", kb)
			}
		}
	})

	t.Run("output flood is OLE and truncated", func(t *testing.T) {
		res := run(t, "python", "while True:\n    print('x' * 1000)\n", 5000, 0)
		if res.Status != "ole" {
			t.Fatalf("status %s, want ole", res.Status)
		}
		if len(res.Stdout) > 1<<20 {
			t.Fatalf("stdout %d bytes, over the 1 MiB limit", len(res.Stdout))
		}
		if v := judge(t, "cpp", "#include <cstdio>\nint main(){ for(;;) fputs(\"yyyyyyyyyyyyyyyyyyyy\\n\", stdout); }\n", 5000, 0).Verdict; v != reward.OutputLimitExceeded {
			t.Fatalf("cpp flood: verdict %s, want OLE", v)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("4 GiB disk write fails", func(t *testing.T) {
		res := run(t, "python", `import os
chunk = b"z" * (1 << 20)
for path in ["/work/big", "/tmp/big", "/dev/shm/big", "/big", "/usr/big"]:
    written = 0
    try:
        with open(path, "wb") as f:
            while written < (4 << 30):
                f.write(chunk)
                written += len(chunk)
        print(path, "wrote 4 GiB")
    except OSError:
        print(path, "failed")
    try:
        os.remove(path)
    except OSError:
        pass
`, 20000, 0)
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			if !strings.HasSuffix(line, "failed") {
				t.Fatalf("disk write: %q (status %s, stderr %q)", res.Stdout, res.Status, res.Stderr)
			}
		}
		if strings.Count(res.Stdout, "failed") != 5 {
			t.Fatalf("disk write: %q (status %s, stderr %q)", res.Stdout, res.Status, res.Stderr)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("host files and the agent are out of reach", func(t *testing.T) {
		res := run(t, "python", `import os
checks = []
for p in ["/var/run/docker.sock", "/run/docker.sock", "/work/main/go.mod", "/root/.cache", "/etc/shadow"]:
    try:
        open(p, "rb").read(1)
        checks.append("read " + p)
    except OSError:
        pass
# The agent (pid 1) and the Python fork server this program is a copy of.
servers = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid() and open("/proc/%s/cmdline" % p, "rb").read().startswith(b"python3\0-c\0# The Python fork server")]
for pid in [1] + servers:
    for p in ["environ", "mem", "fd/0", "fd/3", "root/etc/hostname", "maps"]:
        try:
            open("/proc/%d/%s" % (pid, p), "rb").read(1)
            checks.append("read /proc/%d/%s" % (pid, p))
        except OSError:
            pass
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for pid in [1] + servers:
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        checks.append("ptrace attached to %d" % pid)
print(checks, len(servers))
`, 10000, 0)
		if res.Status != "ok" || strings.TrimSpace(res.Stdout) != "[] 1" {
			t.Fatalf("reached: status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("uid is not 0 and no capabilities", func(t *testing.T) {
		res := run(t, "python", `import os
print(os.getuid() != 0, os.geteuid() != 0, os.getgid() != 0)
caps = [l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "NoNewPrivs"))]
print("".join(caps).split())
`, 10000, 0)
		want := "True True True\n['CapPrm:', '0000000000000000', 'CapEff:', '0000000000000000', 'NoNewPrivs:', '1']\n"
		if res.Stdout != want {
			t.Fatalf("identity: %q (stderr %q), want %q", res.Stdout, res.Stderr, want)
		}
		stillJudges(t, ctx, s)
	})

	t.Run("files and processes of another submission are gone", func(t *testing.T) {
		leave := `import os, subprocess
for p in ["/work/secret.txt", "/tmp/secret.txt", "/dev/shm/secret.txt"]:
    open(p, "w").write("answer=42")
subprocess.Popen(["python3", "-c", "import time; time.sleep(600)"], start_new_session=True)
print("left")
`
		// Every process but the agent, this program and the fork server (which
		// has run no program's code) is a leftover.
		look := `import os
found = [p for p in ["/work/secret.txt", "/tmp/secret.txt", "/dev/shm/secret.txt"] if os.path.exists(p)]
def server(p):
    return open("/proc/%d/cmdline" % p, "rb").read().startswith(b"python3\0-c\0# The Python fork server")
procs = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid()) and not server(int(p)))
print(found, len(procs))
`
		// More submissions than containers, so later ones reuse containers that
		// earlier ones dirtied.
		for range 4 {
			if res := run(t, "python", leave, 5000, 0); res.Stdout != "left\n" {
				t.Fatalf("leave: %+v", res)
			}
			if res := run(t, "python", look, 5000, 0); res.Stdout != "[] 0\n" {
				t.Fatalf("a later submission saw: %q (stderr %q)", res.Stdout, res.Stderr)
			}
		}
		stillJudges(t, ctx, s)
	})

	t.Run("killing the runner", func(t *testing.T) {
		// From inside: the agent is the container's init and ignores signals.
		res := run(t, "python", "import os, signal\nfor sig in (signal.SIGKILL, signal.SIGTERM):\n    try:\n        os.kill(1, sig)\n    except OSError:\n        pass\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('alive')\n", 5000, 0)
		if res.Status != "ok" && res.Status != "re" {
			t.Fatalf("kill from inside: %+v", res)
		}
		stillJudges(t, ctx, s)
		// The fork server runs as the program's uid: a program can stop or kill
		// it. The program is still judged as under a fresh interpreter, and so
		// is every later one.
		for _, sig := range []string{"SIGSTOP", "SIGKILL"} {
			res := run(t, "python", `import os, signal
for p in os.listdir("/proc"):
    # A copy's own cmdline is the server's: it is not the server.
    if p.isdigit() and int(p) != os.getpid() and open("/proc/%s/cmdline" % p, "rb").read().startswith(b"python3\0-c\0# The Python fork server"):
        os.kill(int(p), signal.`+sig+`)
print(6 * 7)
`, 5000, 0)
			if res.Status != "ok" || res.Stdout != "42\n" {
				t.Fatalf("a program that sent the fork server %s: %+v", sig, res)
			}
			for range 4 {
				stillJudges(t, ctx, s)
			}
		}

		// From outside: kill the container mid-test; that submission is a system
		// error, and the next ones are judged in a fresh container.
		done := make(chan sandbox.JudgeResult, 1)
		go func() {
			// A fresh interpreter: `docker top` then names main.py (a copy of the
			// fork server shows the server's command line).
			res, err := s.Judge(ctx, sandbox.JudgeItem{Language: "python", Source: "import time\ntime.sleep(8)\n", TimeLimitMS: 10000, Isolation: "process",
				Tests: []reward.TestCase{{Input: "", Output: ""}}})
			if err != nil {
				res.Verdict = "error: " + reward.Verdict(err.Error())
			}
			done <- res
		}()
		var killed bool
		for deadline := time.Now().Add(20 * time.Second); !killed && time.Now().Before(deadline); {
			time.Sleep(500 * time.Millisecond)
			out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=rewardmesh.sandbox.owner="+owner).Output()
			for _, id := range strings.Fields(string(out)) {
				top, _ := exec.Command("docker", "top", id).Output()
				if strings.Contains(string(top), "time.sleep(8)") || strings.Contains(string(top), "main.py") {
					if err := exec.Command("docker", "kill", id).Run(); err == nil {
						killed = true
					}
				}
			}
		}
		if !killed {
			t.Fatalf("found no container running the sleeper to kill")
		}
		select {
		case res := <-done:
			if res.Verdict == reward.Accepted {
				t.Fatalf("a submission whose container was killed was accepted")
			}
			t.Logf("killed submission: %s", res.Verdict)
		case <-time.After(30 * time.Second):
			t.Fatalf("the submission whose container was killed never finished")
		}
		stillJudges(t, ctx, s)
	})

	t.Run("shutdown leaves no container", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		closed = true
		if left := sandboxContainers(t, owner); len(left) > 0 {
			t.Fatalf("containers left after shutdown: %v", left)
		}
		if left := sandboxContainers(t, ""); len(left) > 0 {
			t.Logf("sandbox containers of other owners still present: %v", left)
		}
	})
}
