package sandbox

import (
	"context"
	"encoding/json"

	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// A guessing game in testlib's convention: the interactor reads the hidden
// number from its input, answers each guess with <, > or =, allows 20 guesses
// and writes how many were used to its output file.
const guessInteractor = `import sys
n = int(open(sys.argv[1]).read())
out = open(sys.argv[2], "w")
for used in range(1, 21):
    line = sys.stdin.readline()
    if not line:
        print("no guess: the solution stopped", file=sys.stderr)
        sys.exit(1)
    try:
        g = int(line)
    except ValueError:
        sys.exit(2)
    if g == n:
        print("=", flush=True)
        out.write(str(used))
        sys.exit(0)
    print("<" if n < g else ">", flush=True)
print("too many guesses", file=sys.stderr)
sys.exit(1)
`

// interactiveCases are solutions of the guessing game and their verdicts on
// guessTests.
var interactiveCases = []struct {
	name, lang, src string
	want            reward.Verdict
}{
	{"binary search", "python", `lo, hi = 1, 1000000
while True:
    mid = (lo + hi) // 2
    print(mid, flush=True)
    r = input()
    if r == "=":
        break
    if r == "<":
        hi = mid - 1
    else:
        lo = mid + 1
`, reward.Accepted},
	{"binary search in C++", "cpp", `#include <cstdio>
int main(){long lo=1,hi=1000000;char r[4];for(;;){long m=(lo+hi)/2;printf("%ld\n",m);fflush(stdout);if(scanf("%3s",r)!=1)return 0;if(r[0]=='=')return 0;if(r[0]=='<')hi=m-1;else lo=m+1;}}
`, reward.Accepted},
	{"counting up: too many guesses", "python", `g = 1
while True:
    print(g, flush=True)
    if input() == "=":
        break
    g += 1
`, reward.WrongAnswer},
	{"never answers", "python", "import time\ntime.sleep(30)\n", reward.TimeLimitExceeded},
	{"gives up without a word", "python", "pass\n", reward.WrongAnswer},
	{"crashes before guessing", "python", "raise SystemExit(3)\n", reward.WrongAnswer},
}

var guessTests = []reward.TestCase{{Input: "1\n", Output: ""}, {Input: "777777\n", Output: ""}, {Input: "1000000\n", Output: ""}}

func judgeInteractive(t *testing.T, s *Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inter := &Checker{Language: "python", Source: guessInteractor}
	for _, tc := range interactiveCases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Judge(ctx, JudgeItem{Language: tc.lang, Source: tc.src, Tests: guessTests, Interactor: inter, TimeLimitMS: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s: %+v", res.Verdict, tc.want, res)
			}
			if tc.want == reward.Accepted && res.Passed != len(guessTests) {
				t.Fatalf("passed %d of %d", res.Passed, len(guessTests))
			}
		})
	}
	t.Run("points from the interactor", func(t *testing.T) {
		points := &Checker{Language: "python", Source: "import sys\nprint(5, flush=True)\nif input() != '10':\n    sys.exit(1)\nprint('points 0.25', file=sys.stderr)\nsys.exit(7)\n"}
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "print(int(input()) * 2, flush=True)\n", Tests: []reward.TestCase{{Input: "1\n"}}, Interactor: points})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != reward.PartiallyAccepted || res.Tests[0].Score == nil || *res.Tests[0].Score != 0.25 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("an interactor that fails is a system error, never the solution's verdict", func(t *testing.T) {
		broken := &Checker{Language: "python", Source: "import sys\nsys.exit(3)\n"}
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "print(1, flush=True)\n", Tests: []reward.TestCase{{Input: "1\n"}}, Interactor: broken})
		if err == nil && res.Verdict != reward.SystemError {
			t.Fatalf("a failed interactor gave %s", res.Verdict)
		}
	})
	t.Run("a long exchange", func(t *testing.T) {
		// 2,000 round trips: every line relayed both ways.
		echo := &Checker{Language: "python", Source: "import sys\nfor i in range(2000):\n    print(i, flush=True)\n    if sys.stdin.readline().strip() != str(i * 2):\n        sys.exit(1)\nsys.exit(0)\n"}
		res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: "import sys\nfor line in sys.stdin:\n    print(int(line) * 2, flush=True)\n", Tests: []reward.TestCase{{Input: "x\n"}}, Interactor: echo, TimeLimitMS: 5000})
		if err != nil || res.Verdict != reward.Accepted {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("a rewards item with an interactor", func(t *testing.T) {
		ref, err := json.Marshal(CodeReference{Tests: guessTests, Interactor: inter, TimeLimitMS: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range interactiveCases[:3] { // AC, AC, WA
			want := 0.0
			if tc.want == reward.Accepted {
				want = 1
			}
			r := s.Reward(ctx, reward.Item{Domain: reward.Code, Response: "```" + tc.lang + "\n" + tc.src + "```", Reference: ref})
			if r.Error != nil || r.Reward != want {
				t.Fatalf("%s: reward %v (%s, %v), want %v", tc.name, r.Reward, r.Details, r.Error, want)
			}
		}
	})
	t.Run("invalid items", func(t *testing.T) {
		for _, it := range []JudgeItem{
			{Language: "python", Source: "pass", Tests: guessTests, Interactor: &Checker{Language: "cobol", Source: "x"}},
			{Language: "python", Source: "pass", Tests: guessTests, Interactor: inter, Checker: inter},
		} {
			if _, err := s.Judge(ctx, it); !isCode(err, reward.Invalid) {
				t.Fatalf("%+v: %v, want invalid", it, err)
			}
		}
	})
}

func TestInteractive(t *testing.T) {
	judgeInteractive(t, newLocalSandbox(t, Config{}))
}
