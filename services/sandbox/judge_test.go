package sandbox

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The judge's verdicts, comparisons, checkers, functional harness and compile
// cache, tested through the box seam with agents in this process: no Docker,
// no images, milliseconds a case. What only a container shows (isolation,
// cgroup accounting, the pool) is in docker_test.go and tests/sandbox.

// newLocalSandbox is a Sandbox whose boxes are in-process agents running the
// system's python3 and g++ (Debian's, as in the images): LocalBoxes unless
// cfg.Boxes wraps them.
func newLocalSandbox(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	for _, tool := range []string{"python3", "g++"} {
		if _, err := exec.LookPath("/usr/bin/" + tool); err != nil {
			if os.Getenv("REWARDMESH_REQUIRE_SERVERS") == "1" {
				t.Fatalf("/usr/bin/%s is missing", tool)
			}
			t.Skipf("/usr/bin/%s is missing", tool)
		}
	}
	if cfg.Boxes == nil {
		cfg.Boxes = LocalBoxes("/usr/bin:/bin")
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("new sandbox: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// verdictCase is a program and the verdict it must get on sumTests.
type verdictCase struct {
	name, lang, src string
	want            reward.Verdict
}

var sumTests = []reward.TestCase{{Input: "1 2\n", Output: "3\n"}, {Input: "5 7\n", Output: "12"}}

// judgeVerdicts judges each case on sumTests under a 1 s limit.
func judgeVerdicts(t *testing.T, s *Sandbox, cases []verdictCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Judge(ctx, JudgeItem{Language: tc.lang, Source: tc.src, Tests: sumTests, TimeLimitMS: 1000})
			if err != nil {
				t.Fatalf("judge: %v", err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (result %+v)", res.Verdict, tc.want, res)
			}
		})
	}
}

func TestJudgeVerdicts(t *testing.T) {
	t.Parallel()
	judgeVerdicts(t, newLocalSandbox(t, Config{}), []verdictCase{
		{"python AC", "python", "a,b=map(int,input().split())\nprint(a+b)\n", reward.Accepted},
		{"python WA", "python", "print(0)\n", reward.WrongAnswer},
		{"python CE", "python", "def f(:\n", reward.CompileError},
		{"python RE", "python", "raise SystemExit(3)\n", reward.RuntimeError},
		// The syntax check runs only after an RE; a program that prints what a
		// syntax error prints is still only RE.
		{"python prints a syntax error", "python", "import sys\nsys.stderr.write('  File \"main.py\"\\nSyntaxError: invalid syntax\\n')\nsys.exit(1)\n", reward.RuntimeError},
		{"python syntax error after valid lines", "python", "a,b=map(int,input().split())\nprint(a+b)\nif a >:\n  pass\n", reward.CompileError},
		{"python TLE", "python", "while True: pass\n", reward.TimeLimitExceeded},
		{"cpp AC", "cpp", "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n", reward.Accepted},
		{"cpp CE", "cpp", "int main(){ return x; }\n", reward.CompileError},
		{"c AC", "c", "#include <stdio.h>\nint main(void){long a,b;if(scanf(\"%ld %ld\",&a,&b)!=2)return 1;printf(\"%ld\\n\",a+b);return 0;}\n", reward.Accepted},
		{"c links libm", "c", "#include <stdio.h>\n#include <math.h>\nint main(void){double a,b;scanf(\"%lf %lf\",&a,&b);printf(\"%.0f\\n\",sqrt((a+b)*(a+b)));return 0;}\n", reward.Accepted},
		{"c CE", "c", "int main(void){ return x; }\n", reward.CompileError},
		{"c is not C++", "c", "#include <iostream>\nint main(){return 0;}\n", reward.CompileError},
		{"c RE", "c", "int main(void){ volatile int *p = 0; return *p; }\n", reward.RuntimeError},
		{"cpp20 AC", "cpp20", "#include <iostream>\n#include <span>\nint main(){long v[2];std::cin>>v[0]>>v[1];std::span<long> s(v);long t=0;for(long x:s)t+=x;std::cout<<t<<\"\\n\";}\n", reward.Accepted},
		{"the same under C++17", "cpp", "#include <iostream>\n#include <span>\nint main(){long v[2];std::cin>>v[0]>>v[1];std::span<long> s(v);long t=0;for(long x:s)t+=x;std::cout<<t<<\"\\n\";}\n", reward.CompileError},
		{"bash AC", "bash", "read a b\necho $((a + b))\n", reward.Accepted},
		{"bash WA", "bash", "echo 0\n", reward.WrongAnswer},
		{"bash RE", "bash", "exit 3\n", reward.RuntimeError},
		{"bash TLE", "bash", "while :; do :; done\n", reward.TimeLimitExceeded},
	})
}

func TestRewardsAndCheckers(t *testing.T) {
	t.Parallel()
	s := newLocalSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	functional := `{"mode":"functional","fn_name":"twoSum","tests":[{"input":"[2,7,11,15]\n9","output":"[0, 1]"},{"input":"[3,3]\n6","output":"[0,1]"}]}`
	stdin := `{"tests":[{"input":"3\n","output":"6\n"}],"compare":"tokens"}`
	cases := []struct {
		name, response, reference string
		reward                    float64
		verdict                   reward.Verdict
	}{
		{"functional class Solution returning a tuple", "Sure:\n```python\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                print('debug', i)\n                return (seen[target - x], i)\n            seen[x] = i\n```\n", functional, 1, reward.Accepted},
		{"functional top-level function, wrong", "```python\ndef twoSum(nums, target):\n    return [1, 0]\n```", functional, 0, reward.WrongAnswer},
		{"functional returns a set", "```python\ndef twoSum(nums, target):\n    return {0, 1}\n```", functional, 0, reward.WrongAnswer},
		{"stdin python", "```python\nprint(int(input()) * 2)\n```", stdin, 1, reward.Accepted},
		{"stdin cpp by fence tag", "```cpp\n#include <iostream>\nint main(){int n;std::cin>>n;std::cout<<2*n<<std::endl;}\n```", stdin, 1, reward.Accepted},
		{"syntax error", "```python\nprint(\n```", stdin, 0, reward.CompileError},
		{"functional syntax error", "```python\nclass Solution:\n    def twoSum(self, nums, target:\n        return [0, 1]\n```", functional, 0, reward.CompileError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Reward(ctx, reward.Item{Domain: reward.Code, Response: tc.response, Reference: json.RawMessage(tc.reference)})
			if res.Error != nil {
				t.Fatalf("reward error: %v", res.Error)
			}
			var d RewardDetails
			_ = json.Unmarshal(res.Details, &d)
			if res.Reward != tc.reward || d.Verdict != tc.verdict {
				t.Fatalf("reward %v verdict %s, want %v %s (%s)", res.Reward, d.Verdict, tc.reward, tc.verdict, res.Details)
			}
		})
	}

	t.Run("special checker", func(t *testing.T) {
		// Any pair summing to the answer's first number is accepted.
		checker := &Checker{Language: "python", Source: "import sys\ninp, out, ans = (open(p).read().split() for p in sys.argv[1:4])\ntry:\n    a, b = map(int, out)\nexcept ValueError:\n    sys.exit(2)\nsys.exit(0 if a + b == int(ans[0]) else 1)\n"}
		tests := []reward.TestCase{{Input: "10\n", Output: "10 (e.g. 3 7)\n"}}
		for _, tc := range []struct {
			src  string
			want reward.Verdict
		}{
			{"n = int(input())\nprint(1, n - 1)\n", reward.Accepted},
			{"n = int(input())\nprint(n - 2, 2)\n", reward.Accepted},
			{"print(1, 1)\n", reward.WrongAnswer},
			{"print('x')\n", reward.WrongAnswer},
		} {
			res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: tc.src, Tests: tests, Checker: checker})
			if err != nil {
				t.Fatalf("judge: %v", err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("%q: verdict %s, want %s (%+v)", tc.src, res.Verdict, tc.want, res)
			}
		}
	})

	t.Run("float compare and run all", func(t *testing.T) {
		no := false
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "print(1/3)\n", Compare: "float:1e-6", StopOnFail: &no,
			Tests: []reward.TestCase{{Output: "0.333333"}, {Output: "0.5"}, {Output: "0.3333333333"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != reward.WrongAnswer || res.Passed != 2 || len(res.Tests) != 3 || res.Tests[1].Verdict != reward.WrongAnswer {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("run", func(t *testing.T) {
		res, err := s.Run(ctx, RunItem{Language: "cpp", Source: "#include <cstdio>\nint main(){int a;scanf(\"%d\",&a);printf(\"%d\\n\",a*a);fprintf(stderr,\"note\");return 4;}\n", Stdin: "7\n"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "re" || res.ExitCode != 4 || res.Stdout != "49\n" || res.Stderr != "note" {
			t.Fatalf("run %+v", res)
		}
	})
}

// A slow submission holds one slot and one container; others go past it.
func TestSlowSubmissionDoesNotBlock(t *testing.T) {
	t.Parallel()
	s := newLocalSandbox(t, Config{Concurrency: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		_, _ = s.Judge(ctx, JudgeItem{Language: "python", Source: "import time\ntime.sleep(30)\n", TimeLimitMS: 4000,
			Tests: []reward.TestCase{{Input: "", Output: ""}}})
	}()
	time.Sleep(500 * time.Millisecond) // let the slow one take its slot
	for range 3 {
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "print(input())\n", Tests: []reward.TestCase{{Input: "x\n", Output: "x\n"}}})
		if err != nil || res.Verdict != reward.Accepted {
			t.Fatalf("fast submission: %+v %v", res, err)
		}
		select {
		case <-slowDone:
			t.Fatalf("the slow submission finished before the fast ones: they waited on it")
		default:
		}
	}
	<-slowDone
}

// IOI's scoring: a subtask earns its points times the lowest score among its
// tests, and a reward with subtasks is the score over the most there is. A
// program right only on small inputs earns the small subtasks and nothing of
// the others; a wrong one earns nothing, subtasks or not.
func TestSubtasksAndPoints(t *testing.T) {
	t.Parallel()
	s := newLocalSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tests := []reward.TestCase{{Input: "1\n", Output: "2\n"}, {Input: "5\n", Output: "10\n"}, {Input: "50\n", Output: "100\n"}, {Input: "500\n", Output: "1000\n"}}
	subtasks := []Subtask{{Name: "small", Points: 30, Tests: []int{0, 1}}, {Name: "all", Points: 70, Tests: []int{0, 1, 2, 3}}}
	cases := []struct {
		name, src   string
		score       float64
		verdicts    []reward.Verdict // per subtask
		reward      float64
		allVerdict  reward.Verdict
		testsPassed int
	}{
		{"right", "print(int(input())*2)\n", 100, []reward.Verdict{reward.Accepted, reward.Accepted}, 1, reward.Accepted, 4},
		{"right on small inputs only", "n=int(input())\nprint(n*2 if n < 10 else 0)\n", 30, []reward.Verdict{reward.Accepted, reward.WrongAnswer}, 0.3, reward.WrongAnswer, 2},
		{"wrong on the first test only", "n=int(input())\nprint(n*2 if n > 1 else 0)\n", 0, []reward.Verdict{reward.WrongAnswer, reward.WrongAnswer}, 0, reward.WrongAnswer, 3},
		{"wrong", "print(0)\n", 0, []reward.Verdict{reward.WrongAnswer, reward.WrongAnswer}, 0, reward.WrongAnswer, 0},
		{"crashes on large inputs", "n=int(input())\nassert n < 10\nprint(n*2)\n", 30, []reward.Verdict{reward.Accepted, reward.RuntimeError}, 0.3, reward.RuntimeError, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: tc.src, Tests: tests, Subtasks: subtasks})
			if err != nil {
				t.Fatal(err)
			}
			if res.Score == nil || *res.Score != tc.score || *res.MaxScore != 100 || len(res.Subtasks) != 2 || len(res.Tests) != 4 ||
				res.Verdict != tc.allVerdict || res.Passed != tc.testsPassed {
				t.Fatalf("result %+v", res)
			}
			for i, st := range res.Subtasks {
				if st.Verdict != tc.verdicts[i] || st.Name != subtasks[i].Name {
					t.Errorf("subtask %d: %+v, want verdict %s", i, st, tc.verdicts[i])
				}
			}
			ref, _ := json.Marshal(CodeReference{Tests: tests, Subtasks: subtasks})
			r := s.Reward(ctx, reward.Item{Domain: reward.Code, Response: "```python\n" + tc.src + "```", Reference: ref})
			if r.Error != nil || r.Reward != tc.reward {
				t.Fatalf("reward %v (%s), want %v", r.Reward, r.Details, tc.reward)
			}
		})
	}

	t.Run("points checker", func(t *testing.T) {
		// testlib's quitp: exit 7 and "points X" on stderr. Half the points for
		// the right number with the wrong sign.
		checker := &Checker{Language: "python", Source: "import sys\nout, ans = (int(open(p).read()) for p in sys.argv[2:4])\n" +
			"if out == ans: sys.exit(0)\nif out == -ans:\n    sys.stderr.write('points 0.5 wrong sign\\n')\n    sys.exit(7)\nsys.exit(1)\n"}
		one := []reward.TestCase{{Input: "3\n", Output: "6\n"}, {Input: "4\n", Output: "8\n"}}
		for _, c := range []struct {
			src     string
			score   float64
			verdict reward.Verdict
		}{
			{"print(int(input())*2)\n", 40, reward.Accepted},
			{"print(-int(input())*2)\n", 20, reward.PartiallyAccepted},
			{"n=int(input())\nprint(-n*2 if n == 3 else n*2)\n", 20, reward.PartiallyAccepted},
			{"print(int(input())*3)\n", 0, reward.WrongAnswer},
		} {
			res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: c.src, Tests: one, Checker: checker,
				Subtasks: []Subtask{{Points: 40, Tests: []int{0, 1}}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Score == nil || *res.Score != c.score || res.Subtasks[0].Verdict != c.verdict {
				t.Errorf("%q: result %+v, want score %v verdict %s", c.src, res, c.score, c.verdict)
			}
			if c.verdict == reward.PartiallyAccepted && (res.Passed == len(one) || res.Verdict == reward.Accepted) {
				t.Errorf("%q: partial points counted as a pass: %+v", c.src, res)
			}
		}
	})

	t.Run("bad subtasks", func(t *testing.T) {
		for _, bad := range [][]Subtask{
			{{Points: 10, Tests: []int{4}}},
			{{Points: 10, Tests: []int{-1}}},
			{{Points: -1, Tests: []int{0}}},
			{{Points: 10}},
		} {
			if _, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "print(1)", Tests: tests, Subtasks: bad}); !isCode(err, reward.Invalid) {
				t.Errorf("subtasks %+v: %v, want invalid", bad, err)
			}
		}
	})
}

// An IOI-style task: the contestant writes a function, the task's grader (its
// own main) reads the test and calls it, a header declares it, and three
// subtasks score it. The grader and header come with the item.
func TestGraderTask(t *testing.T) {
	t.Parallel()
	s := newLocalSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	files := map[string]string{
		"mul.h":      "long long mul(long long a, long long b);\n",
		"grader.cpp": "#include <cstdio>\n#include \"mul.h\"\nint main(){long long a,b;if(scanf(\"%lld %lld\",&a,&b)!=2)return 1;printf(\"%lld\\n\",mul(a,b));}\n",
	}
	tests := []reward.TestCase{{Input: "2 3\n", Output: "6\n"}, {Input: "7 8\n", Output: "56\n"}, {Input: "100000 100000\n", Output: "10000000000\n"}, {Input: "-4 5\n", Output: "-20\n"}}
	subtasks := []Subtask{{Name: "small", Points: 20, Tests: []int{0, 1}}, {Name: "large", Points: 50, Tests: []int{0, 1, 2}}, {Name: "negative", Points: 30, Tests: []int{3}}}
	for _, c := range []struct {
		name, src string
		verdict   reward.Verdict
		score     float64
	}{
		{"right", "#include \"mul.h\"\nlong long mul(long long a, long long b){ return a*b; }\n", reward.Accepted, 100},
		{"overflows on large", "#include \"mul.h\"\nlong long mul(long long a, long long b){ return (int)a*(int)b; }\n", reward.WrongAnswer, 50},
		{"wrong on negatives", "#include \"mul.h\"\nlong long mul(long long a, long long b){ return a < 0 ? 0 : a*b; }\n", reward.WrongAnswer, 70},
		{"its own main clashes with the grader's", "#include \"mul.h\"\nlong long mul(long long a, long long b){ return a*b; }\nint main(){ return 0; }\n", reward.CompileError, 0},
		{"no function", "int unrelated(){ return 1; }\n", reward.CompileError, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.Judge(ctx, JudgeItem{Language: "cpp", Source: c.src, Tests: tests, Files: files, Subtasks: subtasks})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s (%+v)", res.Verdict, c.verdict, res)
			}
			if c.verdict != reward.CompileError && (res.Score == nil || *res.Score != c.score) {
				t.Fatalf("score %v, want %v (%+v)", res.Score, c.score, res)
			}
			ref, _ := json.Marshal(CodeReference{Language: "cpp", Tests: tests, Files: files, Subtasks: subtasks})
			r := s.Reward(ctx, reward.Item{Domain: reward.Code, Response: "```cpp\n" + c.src + "```", Reference: ref})
			if r.Error != nil || r.Reward != c.score/100 {
				t.Fatalf("reward %v (%s), want %v", r.Reward, r.Details, c.score/100)
			}
		})
	}
	t.Run("python reads a data file", func(t *testing.T) {
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "k = int(open('data/k.txt').read())\nprint(int(input()) * k)\n",
			Tests: []reward.TestCase{{Input: "3\n", Output: "21\n"}, {Input: "4\n", Output: "28\n"}}, Files: map[string]string{"data/k.txt": "7\n"}})
		if err != nil || res.Verdict != reward.Accepted {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("bad files", func(t *testing.T) {
		for lang, names := range map[string][]string{"cpp": {"main.cpp", "main", "../x.h", "/etc/x"}, "python": {"main.py", "harness.py"}} {
			for _, name := range names {
				if _, err := s.Judge(ctx, JudgeItem{Language: lang, Source: "x", Tests: tests, Files: map[string]string{name: "x"}}); !isCode(err, reward.Invalid) {
					t.Errorf("%s file %q: %v, want invalid", lang, name, err)
				}
			}
		}
	})
}

// recordingBoxes are local boxes that note every request sent to them.
type recordingBoxes struct {
	Boxes
	mu   sync.Mutex
	sent []runner.Request
}

type recordingBox struct {
	Box
	r *recordingBoxes
}

func (r *recordingBoxes) Acquire(ctx context.Context) (Box, error) {
	b, err := r.Boxes.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingBox{b, r}, nil
}

func (r *recordingBoxes) TryAcquire() Box { return nil }
func (r *recordingBoxes) Release(b Box)   { r.Boxes.Release(b.(*recordingBox).Box) }
func (r *recordingBoxes) Discard(b Box)   { r.Boxes.Discard(b.(*recordingBox).Box) }

func (b *recordingBox) Do(ctx context.Context, req runner.Request) (runner.Response, error) {
	b.r.mu.Lock()
	b.r.sent = append(b.r.sent, req)
	b.r.mu.Unlock()
	return b.Box.Do(ctx, req)
}

func (b *recordingBox) AwaitReset(ctx context.Context) (runner.Response, bool, error) {
	return b.Box.(interface {
		AwaitReset(context.Context) (runner.Response, bool, error)
	}).AwaitReset(ctx)
}

// A judge item's last test run carries ResetAfter, as a /run_code run does:
// the container is reset as the run is answered, with no reset request after
// it. A run after it (the syntax check of a Python program that crashed) goes
// only once that reset is over, with its own files.
func TestJudgeLastRunResets(t *testing.T) {
	t.Parallel()
	rec := &recordingBoxes{}
	local := LocalBoxes("/usr/bin:/bin")
	s := newLocalSandbox(t, Config{Boxes: func(l Language) (Boxes, error) {
		b, err := local(l)
		rec.Boxes = b
		return rec, err
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		name, src string
		tests     int
		want      reward.Verdict
		// runs: the runs sent, and which of them carry ResetAfter
		resets []bool
	}{
		{"one test", "a,b=map(int,input().split())\nprint(a+b)\n", 1, reward.Accepted, []bool{true}},
		{"two tests: the last run", "a,b=map(int,input().split())\nprint(a+b)\n", 2, reward.Accepted, []bool{false, true}},
		{"a wrong first answer ends the item: no run known to be last", "print(0)\n", 2, reward.WrongAnswer, []bool{false}},
		{"a syntax error: the check after the last run", "a,b=map(int,input().split())\nprint(a+b)\nif a >:\n  pass\n", 1, reward.CompileError, []bool{true, false}},
	} {
		rec.mu.Lock()
		rec.sent = nil
		rec.mu.Unlock()
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: c.src, Tests: sumTests[:c.tests]})
		if err != nil || res.Verdict != c.want {
			t.Fatalf("%s: %+v %v, want %s", c.name, res, err, c.want)
		}
		rec.mu.Lock()
		var resets []bool
		for _, req := range rec.sent {
			if req.Op == runner.OpReset {
				t.Errorf("%s: a reset request was sent", c.name)
			}
			if req.Op == runner.OpRun {
				resets = append(resets, req.ResetAfter)
			}
		}
		last := rec.sent[len(rec.sent)-1]
		rec.mu.Unlock()
		if !slices.Equal(resets, c.resets) {
			t.Errorf("%s: runs with ResetAfter %v, want %v", c.name, resets, c.resets)
		}
		if c.want == reward.CompileError && (len(last.Files) == 0 || last.ResetAfter) {
			t.Errorf("%s: the syntax check went without its files, or asked for a reset: %+v", c.name, last)
		}
	}
}
