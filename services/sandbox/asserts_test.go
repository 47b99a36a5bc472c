package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Mode assert in MultiPL-E's shapes: a prompt with its completion is the
// source, and each test is code appended to it that passes by exiting 0.
var assertCases = []struct {
	name, lang, src string
	tests           []string
	want            reward.Verdict
	passed          int
}{
	{"python, HumanEval's check", "python", "def add(x, y):\n    return x + y\n",
		[]string{"def check(candidate):\n    assert candidate(0, 1) == 1\n    assert candidate(2, 3) == 5\ncheck(add)"}, reward.Accepted, 1},
	{"python, a wrong completion", "python", "def add(x, y):\n    return x - y\n",
		[]string{"def check(candidate):\n    assert candidate(0, 1) == 1\ncheck(add)"}, reward.RuntimeError, 0},
	{"python, a completion that prints what the test wants but fails it", "python", "def add(x, y):\n    print('True')\n    return 0\n",
		[]string{"assert add(2, 3) == 5"}, reward.RuntimeError, 0},
	{"python, a completion that exits 0 before the tests run is still judged by them", "python", "import os\ndef add(x, y):\n    return 0\n",
		[]string{"assert add(2, 3) == 5"}, reward.RuntimeError, 0},
	{"cpp, MultiPL-E's main", "cpp", "#include<assert.h>\n#include<bits/stdc++.h>\nlong add(long x, long y) {\n    return x + y;\n",
		[]string{"}\nint main() {\n    auto candidate = add;\n    assert(candidate((0), (1)) == (1));\n    assert(candidate((2), (3)) == (5));\n}"}, reward.Accepted, 1},
	{"cpp, a wrong completion", "cpp", "#include<assert.h>\n#include<bits/stdc++.h>\nlong add(long x, long y) {\n    return x * y;\n",
		[]string{"}\nint main() {\n    assert(add(2, 3) == 5);\n}"}, reward.RuntimeError, 0},
	{"cpp, a completion that does not compile", "cpp", "long add(long x, long y) {\n    return x +;\n",
		[]string{"}\nint main() { return add(1, 2) == 3 ? 0 : 1; }"}, reward.CompileError, 0},
	{"two tests, the second failing", "python", "def add(x, y):\n    return x + y if x < 10 else 0\n",
		[]string{"assert add(1, 2) == 3", "assert add(10, 2) == 12"}, reward.RuntimeError, 1},
}

func judgeAsserts(t *testing.T, s *Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range assertCases {
		t.Run(tc.name, func(t *testing.T) {
			tests := make([]reward.TestCase, len(tc.tests))
			for i, code := range tc.tests {
				tests[i] = reward.TestCase{Input: code}
			}
			no := false
			res, err := s.Judge(ctx, JudgeItem{Language: tc.lang, Source: tc.src, Tests: tests, Mode: "assert", StopOnFail: &no})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Passed != tc.passed || len(res.Tests) != len(tests) {
				t.Fatalf("verdict %s, %d passed, want %s, %d: %+v", res.Verdict, res.Passed, tc.want, tc.passed, res)
			}
		})
	}
	t.Run("invalid with subtasks or a checker", func(t *testing.T) {
		tests := []reward.TestCase{{Input: "pass"}}
		for _, it := range []JudgeItem{
			{Language: "python", Source: "pass", Tests: tests, Mode: "assert", Subtasks: []Subtask{{Points: 1, Tests: []int{0}}}},
			{Language: "python", Source: "pass", Tests: tests, Mode: "assert", Checker: &Checker{Language: "python", Source: "pass"}},
		} {
			if _, err := s.Judge(ctx, it); !isCode(err, reward.Invalid) {
				t.Fatalf("%v, want invalid", err)
			}
		}
	})
}

func TestAssertMode(t *testing.T) {
	judgeAsserts(t, newLocalSandbox(t, Config{}))
}
