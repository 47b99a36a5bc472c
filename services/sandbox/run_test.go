package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// What /run_code (SandboxFusion's protocol) asks of a run:
// files in and out, a wall-clock limit, limits clamped rather than refused, and
// a Python syntax error told from a program that only prints like one.
func TestRunForRunCode(t *testing.T) {
	t.Parallel()
	s := newLocalSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("files in and out", func(t *testing.T) {
		src := "import os\n" +
			"data = open('in/data.txt').read()\n" +
			"open('out.txt', 'w').write(data.upper())\n" +
			"os.symlink('/etc/passwd', 'link.txt')\n" +
			"os.mkfifo('fifo')\n" +
			"print(len(data))\n"
		res, err := s.Run(ctx, RunItem{Language: "python", Source: src, ClampLimits: true,
			Files:      map[string][]byte{"in/data.txt": []byte("hello\n")},
			FetchFiles: []string{"out.txt", "missing.txt", "link.txt", "fifo", "in/data.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "ok" || res.Stdout != "6\n" {
			t.Fatalf("run %+v", res)
		}
		if string(res.Files["out.txt"]) != "HELLO\n" || string(res.Files["in/data.txt"]) != "hello\n" {
			t.Errorf("fetched %q", res.Files)
		}
		for _, left := range []string{"missing.txt", "link.txt", "fifo"} {
			if _, ok := res.Files[left]; ok {
				t.Errorf("%s was fetched: %q", left, res.Files[left])
			}
			if res.FetchErrors[left] == "" {
				t.Errorf("%s left out without a reason: %v", left, res.FetchErrors)
			}
		}
		if res.Executor != s.OwnerID() {
			t.Errorf("executor %q, want %q", res.Executor, s.OwnerID())
		}
	})

	t.Run("wall clock limit", func(t *testing.T) {
		res, err := s.Run(ctx, RunItem{Language: "python", Source: "import time\nprint('started', flush=True)\ntime.sleep(20)\n", WallLimitMS: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "tle" || res.WallMS < 1000 || res.WallMS > 5000 || res.Stdout != "started\n" {
			t.Fatalf("a sleeper under a 1 s wall limit: %+v", res)
		}
	})

	t.Run("limits clamped or refused", func(t *testing.T) {
		item := RunItem{Language: "python", Source: "print('x')\n", MemoryLimitMB: 1 << 20, WallLimitMS: 10_000_000}
		if _, err := s.Run(ctx, item); !isCode(err, reward.Invalid) {
			t.Fatalf("limits over the maxima without clamp_limits: %v, want invalid", err)
		}
		item.ClampLimits = true
		if res, err := s.Run(ctx, item); err != nil || res.Status != "ok" {
			t.Fatalf("clamped: %+v %v", res, err)
		}
	})

	t.Run("memory", func(t *testing.T) {
		res, err := s.Run(ctx, RunItem{Language: "python", Source: "x = bytearray(400 << 20)\nprint(len(x))\n", MemoryLimitMB: 128})
		if err != nil || res.Status != "mle" {
			t.Fatalf("400 MB under a 128 MB limit: %+v %v", res, err)
		}
	})

	t.Run("syntax errors", func(t *testing.T) {
		res, err := s.Run(ctx, RunItem{Language: "python", Source: "print('before')\ndef f(:\n"})
		if err != nil || res.Status != "ce" || !strings.Contains(res.Stderr, "SyntaxError") {
			t.Fatalf("a syntax error: %+v %v", res, err)
		}
		fake := "import sys\nsys.stderr.write('SyntaxError: not really\\n')\nsys.exit(1)\n"
		res, err = s.Run(ctx, RunItem{Language: "python", Source: fake})
		if err != nil || res.Status != "re" || res.ExitCode != 1 {
			t.Fatalf("a program that prints a syntax error: %+v %v", res, err)
		}
	})

	t.Run("bad paths", func(t *testing.T) {
		for _, item := range []RunItem{
			{Language: "python", Source: "print(1)", Files: map[string][]byte{"../escape": []byte("x")}},
			{Language: "python", Source: "print(1)", Files: map[string][]byte{"/etc/x": []byte("x")}},
			{Language: "python", Source: "print(1)", Files: map[string][]byte{"main.py": []byte("x")}},
			{Language: "python", Source: "print(1)", FetchFiles: []string{"a/../../b"}},
		} {
			if _, err := s.Run(ctx, item); !isCode(err, reward.Invalid) {
				t.Errorf("files %v fetch %v: %v, want invalid", item.Files, item.FetchFiles, err)
			}
		}
	})

	t.Run("cpp compile", func(t *testing.T) {
		src := "#include <cstdio>\n#include \"op.h\"\nint main(){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",op(a,b));}\n"
		add := RunItem{Language: "cpp", Source: src, Stdin: "3 4\n", Files: map[string][]byte{"op.h": []byte("int op(int a,int b){return a+b;}\n")}}
		res, err := s.Run(ctx, add)
		if err != nil || res.Status != "ok" || res.Stdout != "7\n" || res.Compile == nil || res.Compile.Status != "ok" {
			t.Fatalf("compile with a header from files: %+v %v", res, err)
		}
		again, err := s.Run(ctx, add)
		if err != nil || again.Stdout != "7\n" || !again.Compile.Cached {
			t.Fatalf("the same compile again, from the cache: %+v %v", again, err)
		}
		// The same source beside another header is another compile.
		mul := add
		mul.Files = map[string][]byte{"op.h": []byte("int op(int a,int b){return a*b;}\n")}
		if res, err := s.Run(ctx, mul); err != nil || res.Stdout != "12\n" || res.Compile.Cached {
			t.Fatalf("another header: %+v %v (a cached binary of the other header?)", res, err)
		}
		// A source among the files is compiled with the program.
		sub := add
		sub.Files = map[string][]byte{"op.h": []byte("int op(int a,int b);\n"), "op.cpp": []byte("int op(int a,int b){return a-b;}\n")}
		if res, err := s.Run(ctx, sub); err != nil || res.Stdout != "-1\n" {
			t.Fatalf("a second source in files: %+v %v", res, err)
		}
		bad, err := s.Run(ctx, RunItem{Language: "cpp", Source: "int main(){ return x; }\n"})
		if err != nil || bad.Status != "ce" || bad.Compile == nil || bad.Compile.Status != "ce" || bad.Compile.ExitCode == 0 {
			t.Fatalf("a compile error: %+v %v", bad, err)
		}
	})

	t.Run("compile limit", func(t *testing.T) {
		// Templates and iostream: far more than 50 ms of g++.
		src := "#include <iostream>\n#include <map>\n#include <string>\n#include <vector>\ntemplate<int N> struct F { static constexpr long v = F<N-1>::v + F<N-2>::v % 7 + N; };\n" +
			"template<> struct F<0> { static constexpr long v = 0; };\ntemplate<> struct F<1> { static constexpr long v = 1; };\n" +
			"int main(){ std::map<int,std::vector<std::string>> m; m[1].push_back(\"x\"); std::cout << F<800>::v << m[1].size() << std::endl; }\n"
		slow, err := s.Run(ctx, RunItem{Language: "cpp", Source: src, CompileLimitMS: 50})
		if err != nil || slow.Compile == nil || slow.Compile.Status != "tle" || slow.Status != "ce" {
			t.Fatalf("a compile over a 50 ms limit: %+v %v", slow, err)
		}
		res, err := s.Run(ctx, RunItem{Language: "cpp", Source: src})
		if err != nil || res.Status != "ok" || res.Compile.Status != "ok" {
			t.Fatalf("the same source with the default limit (a timed-out compile must not be cached): %+v %v", res, err)
		}
	})
}

func isCode(err error, code reward.ErrorCode) bool {
	var e *reward.Error
	return errors.As(err, &e) && e.Code == code
}
