package sandbox

import (
	"strings"
	"syscall"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func TestPyEqualJSON(t *testing.T) {
	cases := []struct {
		a, b  string
		equal bool
	}{
		{"1", "1.0", true},
		{"true", "1", true},
		{"false", "0.0", true},
		{"true", "true", true},
		{"[1, 2]", "[1.0, 2]", true},
		{"[1, 2]", "[2, 1]", false},
		{`{"a": 1, "b": [true]}`, `{"b": [1], "a": 1.0}`, true},
		{`{"a": 1}`, `{"a": 1, "b": 2}`, false},
		{"0.1", "0.10000000000000000001", true}, // the same double
		{"0.1", "0.1000000000000001", false},
		{"123456789012345678901234567890", "123456789012345678901234567890", true},
		{"123456789012345678901234567891", "1.2345678901234568e+29", false},
		{"9007199254740993", "9007199254740992.0", false}, // an int compared exactly with a float
		{"null", "null", true},
		{"null", "0", false},
		{`"1"`, "1", false},
		{"[]", "{}", false},
		{"1e400", "1e400", true}, // both inf in Python
	}
	for _, tc := range cases {
		t.Run(tc.a+"=="+tc.b, func(t *testing.T) {
			got, err := pyEqualJSON([]byte(tc.a), []byte(tc.b))
			if err != nil {
				t.Fatalf("pyEqualJSON: %v", err)
			}
			if got != tc.equal {
				t.Fatalf("%s == %s: %v, want %v", tc.a, tc.b, got, tc.equal)
			}
		})
	}
}

func TestFunctionalResult(t *testing.T) {
	cases := []struct {
		name, stdout string
		value        string
		ok, err      bool
	}{
		{"value", "RESULT [1, 2]\n", "[1, 2]", true, false},
		{"unjudgeable", "UNJUDGEABLE set\n", "", false, false},
		{"nothing printed", "", "", false, true},
		{"invalid json", "RESULT [1,\n", "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok, err := functionalResult(tc.stdout)
			if (err != nil) != tc.err || ok != tc.ok || string(v) != tc.value {
				t.Fatalf("functionalResult(%q) = %q, %v, %v", tc.stdout, v, ok, err)
			}
		})
	}
}

func TestFunctionalHarness(t *testing.T) {
	h := functionalHarness("twoSum")
	for _, want := range []string{`"twoSum"`, `"class Solution" in _rm_src`, "from typing import *", "sys.setrecursionlimit(50000)", resultPrefix, "_rm_os.dup2(2, 1)"} {
		if !strings.Contains(h, want) {
			t.Errorf("harness lacks %q", want)
		}
	}
	if !strings.Contains(syntaxCheck(true), "from typing import *") || strings.Contains(syntaxCheck(false), "from typing import *") {
		t.Errorf("syntax check must compile with LiveCodeBench's prelude exactly when functional")
	}
}

func TestFunctionalArgsValid(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"[1,2]\n3", true}, {"[1,2]\n3\n\n", true}, {`"a"`, true}, {"[1,\n2]", false}, {"x", false},
	} {
		if err := functionalArgsValid(tc.in); (err == nil) != tc.ok {
			t.Errorf("functionalArgsValid(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestRunVerdict(t *testing.T) {
	cases := []struct {
		name string
		lang Language
		resp runner.Response
		want reward.Verdict
	}{
		{"ok", Python, runner.Response{Status: runner.StatusOK}, reward.Accepted},
		{"tle", Python, runner.Response{Status: runner.StatusTLE}, reward.TimeLimitExceeded},
		{"mle", Cpp, runner.Response{Status: runner.StatusMLE}, reward.MemoryLimitExceeded},
		{"ole", Cpp, runner.Response{Status: runner.StatusOLE}, reward.OutputLimitExceeded},
		{"se", Cpp, runner.Response{Status: runner.StatusFailed}, reward.SystemError},
		{"python traceback", Python, runner.Response{Status: runner.StatusRE, ExitCode: 1, Stderr: []byte("Traceback...\nZeroDivisionError: division by zero\n")}, reward.RuntimeError},
		{"python MemoryError", Python, runner.Response{Status: runner.StatusRE, ExitCode: 1, Stderr: []byte("Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n")}, reward.MemoryLimitExceeded},
		{"python prints MemoryError mid-stream", Python, runner.Response{Status: runner.StatusRE, ExitCode: 1, Stderr: []byte("MemoryError\nValueError: x\n")}, reward.RuntimeError},
		{"cpp bad_alloc", Cpp, runner.Response{Status: runner.StatusRE, Signal: int(syscall.SIGABRT), Stderr: []byte("terminate called after throwing an instance of 'std::bad_alloc'\n")}, reward.MemoryLimitExceeded},
		{"cpp segfault", Cpp, runner.Response{Status: runner.StatusRE, Signal: int(syscall.SIGSEGV)}, reward.RuntimeError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runVerdict(tc.lang, tc.resp); got != tc.want {
				t.Fatalf("runVerdict = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestCheckerVerdict(t *testing.T) {
	points := func(stderr string) runner.Response {
		return runner.Response{Status: runner.StatusRE, ExitCode: 7, Stderr: []byte(stderr)}
	}
	cases := []struct {
		resp  runner.Response
		want  reward.Verdict
		score float64
		err   bool
	}{
		{runner.Response{Status: runner.StatusOK}, reward.Accepted, 1, false},
		{runner.Response{Status: runner.StatusRE, ExitCode: 1}, reward.WrongAnswer, 0, false},
		{runner.Response{Status: runner.StatusRE, ExitCode: 2}, reward.WrongAnswer, 0, false},
		{points("points 0.25 three of twelve"), reward.PartiallyAccepted, 0.25, false},
		{points("points 1.0000000000"), reward.Accepted, 1, false},
		{points("points 0 nothing right"), reward.WrongAnswer, 0, false},
		// A share it does not state, or one out of range, is the checker's failure,
		// never a score: above all never more than the test is worth.
		{points(""), "", 0, true},
		{points("wrong answer 3"), "", 0, true},
		{points("points 1.5"), "", 0, true},
		{points("points -0.1"), "", 0, true},
		{points("points NaN"), "", 0, true},
		{points("points inf"), "", 0, true},
		{runner.Response{Status: runner.StatusRE, ExitCode: 3}, "", 0, true},
		{runner.Response{Status: runner.StatusTLE}, "", 0, true},
		{runner.Response{Status: runner.StatusRE, ExitCode: 137, Signal: 9}, "", 0, true},
	}
	for _, tc := range cases {
		v, score, err := checkerVerdict(tc.resp)
		if v != tc.want || score != tc.score || (err != nil) != tc.err {
			t.Errorf("checkerVerdict(%+v) = %s, %v, %v; want %s, %v, err %v", tc.resp, v, score, err, tc.want, tc.score, tc.err)
		}
	}
}

func FuzzPyEqualJSON(f *testing.F) {
	f.Add("[1, 2.0, true]", `{"a": null}`)
	f.Add("1e400", "-0.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, errA := pyEqualJSON([]byte(a), []byte(b))
		ba, errB := pyEqualJSON([]byte(b), []byte(a))
		if (errA == nil) != (errB == nil) {
			return // one side failing to decode is reported for either order
		}
		if errA == nil && ab != ba {
			t.Fatalf("asymmetric: %q %q", a, b)
		}
	})
}

func FuzzFunctionalResult(f *testing.F) {
	f.Add("RESULT [1]\n")
	f.Add("UNJUDGEABLE x")
	f.Fuzz(func(t *testing.T, s string) {
		v, ok, err := functionalResult(s)
		if ok && (err != nil || v == nil) {
			t.Fatalf("ok with error %v", err)
		}
	})
}
