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
		for _, iso := range []string{"", "fork"} { // fork is the default
			forked := false
			for range 20 { // the first runs may come before the new container's server is ready
				res, err := s.Run(ctx, RunItem{Language: "python", Source: probe, Stdin: "2 3\n", Isolation: iso})
				if err != nil || res.Status != "ok" {
					t.Fatalf("%+v %v", res, err)
				}
				if forked = res.Stdout == "True 5\n"; forked {
					break
				}
				if res.Stdout != "False 5\n" {
					t.Fatalf("isolation %q: %+v", iso, res)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !forked {
				t.Fatalf("isolation %q: no run was a copy of the fork server", iso)
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
