package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// newDockerSandbox starts a Sandbox on the local Docker engine, or skips the test
// with the reason when Docker or the images are absent (unless
// REWARDMESH_REQUIRE_DOCKER=1, as in CI, where their absence fails it).
func newDockerSandbox(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	sandboxtest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("new sandbox: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The judge on real containers: the same verdicts as through in-process boxes
// (judge_test.go), with the limits that only a container's cgroup applies.
func TestDockerJudgeSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker; skipped in -short")
	}
	s := newDockerSandbox(t, Config{})
	judgeVerdicts(t, s, []verdictCase{
		{"python AC", "python", "a,b=map(int,input().split())\nprint(a+b)\n", reward.Accepted},
		{"python WA", "python", "print(0)\n", reward.WrongAnswer},
		{"c AC, in the C++ image", "c", "#include <stdio.h>\nint main(void){long a,b;scanf(\"%ld %ld\",&a,&b);printf(\"%ld\\n\",a+b);return 0;}\n", reward.Accepted},
		{"cpp20 AC, in the C++ image", "cpp20", "#include <iostream>\n#include <span>\nint main(){long v[2];std::cin>>v[0]>>v[1];std::span<long> s(v);long t=0;for(long x:s)t+=x;std::cout<<t<<\"\\n\";}\n", reward.Accepted},
		{"bash AC, in the Python image", "bash", "read a b\necho $((a + b))\n", reward.Accepted},
		{"cpp AC", "cpp", "#include <bits/stdc++.h>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n", reward.Accepted},
		// Three children burn 0.5 s of CPU each and hand their answers over a
		// pipe; the parent never waits for them. Their CPU is the test's.
		{"python workers it never waits for", "python", "import os, time\nfds = []\nfor _ in range(3):\n    r, w = os.pipe()\n    if os.fork() == 0:\n        t = time.process_time()\n        while time.process_time() - t < 0.5: pass\n        os.write(w, b'1')\n        os._exit(0)\n    os.close(w)\n    fds.append(r)\nfor r in fds: os.read(r, 1)\na,b=map(int,input().split())\nprint(a+b)\n", reward.TimeLimitExceeded},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("python runs are copies of the fork server unless isolation is process", func(t *testing.T) {
		// A fresh python3 has not imported fractions; the fork server has.
		probe := "import sys\nprint('fractions' in sys.modules, sum(map(int, input().split())))\n"
		// A container is handed out once its server is ready (its first ping
		// waits for it), so every run is a copy, the first ones too.
		for _, iso := range []string{"", "fork"} { // fork is the default
			for i := range 5 {
				res, err := s.Run(ctx, RunItem{Language: "python", Source: probe, Stdin: "2 3\n", Isolation: iso})
				if err != nil || res.Stdout != "True 5\n" {
					t.Fatalf("isolation %q, run %d: %+v %v, want a copy of the fork server", iso, i, res, err)
				}
			}
		}
		for range 2 {
			res, err := s.Run(ctx, RunItem{Language: "python", Source: probe, Stdin: "2 3\n", Isolation: "process"})
			if err != nil || res.Stdout != "False 5\n" {
				t.Fatalf("isolation process: %+v %v", res, err)
			}
		}
		if _, err := s.Run(ctx, RunItem{Language: "python", Source: probe, Isolation: "thread"}); !isCode(err, reward.Invalid) {
			t.Fatalf("isolation thread: %v, want invalid", err)
		}
	})
	t.Run("a one-test item's run resets its container, and a syntax check after it still runs", func(t *testing.T) {
		one := []reward.TestCase{{Input: "1 2\n", Output: "3\n"}}
		for _, c := range []struct {
			name, src string
			want      reward.Verdict
		}{
			{"syntax error", "a,b=map(int,input().split())\nprint(a+b)\nif a >:\n  pass\n", reward.CompileError},
			{"a crash is no syntax error", "raise SystemExit(input() and 3)\n", reward.RuntimeError},
			// A file and a process left behind, which would write another file
			// later: the reset after the run takes both, before the next item.
			{"leaves a file and a process", "import os, time\nopen('left.txt', 'w').write('x')\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(0.3)\n    open('late.txt', 'w').write('x')\n    os._exit(0)\nprint(3)\n", reward.Accepted},
			{"sees neither", "import os, time\ntime.sleep(0.5)\nprint(3 if not os.path.exists('left.txt') and not os.path.exists('late.txt') else 0)\n", reward.Accepted},
		} {
			for range 3 { // each container of the pool, about
				res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: c.src, Tests: one})
				if err != nil || res.Verdict != c.want {
					t.Fatalf("%s: %+v %v, want %s", c.name, res, err, c.want)
				}
			}
		}
	})
	t.Run("interactive problems, solution and interactor in containers of their own", func(t *testing.T) {
		judgeInteractive(t, s)
	})
	t.Run("assert mode, and MultiPL-E's Java with its assertions on", func(t *testing.T) {
		judgeAsserts(t, s)
		prompt := "import java.util.*;\nclass Problem {\n    public static long add(long x, long y) {\n"
		tests := []reward.TestCase{{Input: "    public static void main(String[] args) {\n    assert(add((2l), (3l)) == (5l));\n    }\n\n}\n"}}
		for _, c := range []struct {
			completion string
			want       reward.Verdict
		}{{"        return x + y;\n    }\n", reward.Accepted}, {"        return x * y;\n    }\n", reward.RuntimeError}} {
			res, err := s.Judge(ctx, JudgeItem{Language: "java", Source: prompt + c.completion, Tests: tests, Mode: "assert"})
			if err != nil || res.Verdict != c.want {
				t.Fatalf("%q: %+v %v, want %s", c.completion, res, err, c.want)
			}
		}
	})
	t.Run("memory of the whole container", func(t *testing.T) {
		res, err := s.Run(ctx, RunItem{Language: "python", Source: "x = bytearray(400 << 20)\nprint(len(x))\n", MemoryLimitMB: 128})
		if err != nil || res.Status != "mle" {
			t.Fatalf("400 MB under a 128 MB limit: %+v %v", res, err)
		}
		if res.Executor != s.OwnerID() {
			t.Errorf("executor %q, want %q", res.Executor, s.OwnerID())
		}
	})
}
