package swe

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// noteValue reads the Cascade reward a case's cascade_reward_note states (with no
// judge configured). The notes are prose; each known phrasing names the value.
var notePatterns = []*regexp.Regexp{
	regexp.MustCompile(`^Same under Cascade: (-?[0-9.e-]+) `),
	regexp.MustCompile(`^Cascade: (-?[0-9.e-]+) `),
	regexp.MustCompile(`gives (-?[0-9.]+) \(lexically identical\) under Cascade`),
	regexp.MustCompile(`Cascade gives (-?[0-9.]+) too`),
	regexp.MustCompile(`it gives (-?[0-9.]+) when that test uses the line diff`),
}

func noteValue(note string) (float64, bool) {
	for _, re := range notePatterns {
		if m := re.FindStringSubmatch(note); m != nil {
			v, err := strconv.ParseFloat(strings.TrimSuffix(m[1], "."), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestCascadeConformance scores every case under the Cascade rule (no judge,
// tags required) and holds it to the value its note states.
func TestCascadeConformance(t *testing.T) {
	cases := loadCases(t)
	var s Scorer
	failed := 0
	for _, c := range cases {
		want, ok := noteValue(c.CascadeNote)
		if !ok {
			t.Errorf("%s: cannot read the Cascade value from note %q", c.ID, c.CascadeNote)
			continue
		}
		for _, viaPatch := range []bool{false, true} {
			task := Task{Response: c.Output, OriginalFiles: c.OriginalFiles}
			if viaPatch {
				task.OraclePatch = c.OraclePatch
			} else {
				task.OracleFiles = c.OracleFiles
			}
			got, err := s.Score(context.Background(), task)
			if err != nil {
				t.Errorf("%s: %v", c.ID, err)
				failed++
				continue
			}
			if math.Abs(got.Reward-want) > 1e-12 {
				t.Errorf("%s (%s, patch=%v): cascade %v (%s), note says %v: %s", c.ID, c.Kind, viaPatch, got.Reward, got.Reason, want, c.CascadeNote)
				failed++
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d cascade scores differ from the notes", failed)
	}
}

type fakeJudge struct {
	score float64
	err   error
	calls int
	pred  string
}

func (f *fakeJudge) Score(_ context.Context, predicted, oracle string) (float64, error) {
	f.calls++
	f.pred = predicted
	return f.score, f.err
}

const origA = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
const origB = "X = 1\nY = 2\n"

func block(path, search, replace string) string {
	return "```python\n### " + path + "\n<<<<<<< SEARCH\n" + search + "\n=======\n" + replace + "\n>>>>>>> REPLACE\n```\n"
}

func tagged(blocks ...string) string {
	return "<think>\nreasoning\n</think>\n<solution>\n" + strings.Join(blocks, "\n") + "</solution>"
}

func ptr[T any](v T) *T { return &v }

func TestCascadeBranches(t *testing.T) {
	original := map[string]string{"a.py": origA, "b.py": origB}
	oracle := map[string]string{
		"a.py": strings.Replace(origA, "a + b", "b + a", 1),
		"b.py": strings.Replace(origB, "Y = 2", "Y = 3", 1),
	}
	exactA := block("a.py", "    return a + b", "    return b + a")
	exactB := block("b.py", "Y = 2", "Y = 3")
	nearA := block("a.py", "    return a + b", "    return (b + a)")
	tests := []struct {
		name      string
		response  string
		judge     *fakeJudge
		semantic  *bool
		untagged  bool
		want      float64
		reason    string
		wantCalls int
		wantErr   reward.ErrorCode
	}{
		{name: "no blocks", response: tagged("I would change add."), want: -1, reason: "No valid search blocks found"},
		{name: "search not found", response: tagged(block("a.py", "return a * b", "return b * a")), want: -1, reason: "Search block not found in the code: \nreturn a * b"},
		{name: "missing tags", response: exactA + exactB, want: -1, reason: "count of <think> is not 1"},
		{name: "missing tags allowed", response: exactA + exactB, untagged: true, want: 1, reason: ReasonIdentical},
		{name: "empty thought", response: "<think> </think><solution>" + exactA + "</solution>", want: -1, reason: "Thought is empty"},
		{name: "pure no-op", response: tagged(block("a.py", "    return a + b", "    return a + b")), want: 0, reason: ReasonNoChange},
		{name: "no-op not in file", response: tagged(block("a.py", "    return a * b", "    return a * b")), want: -1, reason: "Search block not found in the code: \n    return a * b"},
		{name: "edits that cancel", response: tagged(block("b.py", "X = 1", "X = 9"), block("b.py", "X = 9", "X = 1")), want: 0, reason: ReasonNoChange},
		{name: "no-op beside real edits", response: tagged(block("a.py", "def sub(a, b):", "def sub(a, b):"), exactA, exactB), want: 1, reason: ReasonIdentical},
		{name: "multi-file identical", response: tagged(exactB, exactA), want: 1, reason: ReasonIdentical},
		{name: "multi-file partial lexical", response: tagged(exactA), want: 0.5, reason: ReasonLexical},
		{name: "judge replaces lexical", response: tagged(nearA, exactB), judge: &fakeJudge{score: 0.8}, want: 0.8, reason: ReasonSemantic, wantCalls: 1},
		{name: "judge not asked when identical", response: tagged(exactA, exactB), judge: &fakeJudge{score: 0.2}, want: 1, reason: ReasonIdentical},
		{name: "judge not asked for no change", response: tagged(block("a.py", "def sub(a, b):", "def sub(a, b):")), judge: &fakeJudge{score: 0.2}, want: 0, reason: ReasonNoChange},
		{name: "semantic false skips judge", response: tagged(nearA, exactB), judge: &fakeJudge{score: 0.8}, semantic: ptr(false), reason: ReasonLexical, want: -2},
		{name: "semantic true without judge", response: tagged(nearA, exactB), semantic: ptr(true), wantErr: reward.Unavailable},
		{name: "judge failure is an item error", response: tagged(nearA, exactB), judge: &fakeJudge{err: reward.Errorf(reward.Unavailable, "down")}, wantErr: reward.Unavailable, wantCalls: 1},
		{name: "unified diff", response: tagged("```diff\n--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n X = 1\n-Y = 2\n+Y = 3\n```\n"), want: 0.5, reason: ReasonLexical},
		{name: "unified diff not matching", response: tagged("```diff\n--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n X = 5\n-Y = 2\n+Y = 3\n```\n"), want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Scorer{AllowUntagged: tt.untagged}
			if tt.judge != nil {
				s.Judge = tt.judge
			}
			got, err := s.Score(context.Background(), Task{Response: tt.response, OriginalFiles: original, OracleFiles: oracle, Semantic: tt.semantic})
			if tt.wantErr != "" {
				var e *reward.Error
				if !errors.As(err, &e) || e.Code != tt.wantErr {
					t.Fatalf("err %v, want code %s", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.judge != nil && tt.judge.calls != tt.wantCalls {
				t.Errorf("judge called %d times, want %d", tt.judge.calls, tt.wantCalls)
			}
			if tt.wantErr != "" {
				return
			}
			want := tt.want
			if want == -2 { // the lexical score, whatever it is, strictly inside (0,1)
				want = got.Lexical
				if want <= 0 || want >= 1 {
					t.Errorf("lexical %v, want inside (0,1)", want)
				}
			}
			if got.Reward != want {
				t.Errorf("reward %v, want %v (reason %q)", got.Reward, want, got.Reason)
			}
			if tt.reason != "" && got.Reason != tt.reason {
				t.Errorf("reason %q, want %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestSemanticJudgeSeesPatches(t *testing.T) {
	j := &fakeJudge{score: 0.25}
	s := Scorer{Judge: j}
	original := map[string]string{"b.py": origB}
	got, err := s.Score(context.Background(), Task{
		Response:      tagged(block("b.py", "Y = 2", "Y = 4")),
		OriginalFiles: original,
		OraclePatch:   "diff --git a/b.py b/b.py\n--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n X = 1\n-Y = 2\n+Y = 3\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Semantic == nil || *got.Semantic != 0.25 || got.Reward != 0.25 {
		t.Fatalf("got reward %v semantic %v, want 0.25 from the judge", got.Reward, got.Semantic)
	}
	if want := "--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n X = 1\n-Y = 2\n+Y = 4\n"; j.pred != want {
		t.Errorf("judge saw predicted patch %q, want %q", j.pred, want)
	}
}

func TestInvalidTasks(t *testing.T) {
	var s Scorer
	_, err := s.Score(context.Background(), Task{Rule: "nope", OracleFiles: map[string]string{}})
	if e := reward.AsError(err); e == nil || e.Code != reward.Invalid {
		t.Errorf("bad rule: %v", err)
	}
	_, err = s.Score(context.Background(), Task{Response: tagged(block("b.py", "X = 1", "X = 2")), OriginalFiles: map[string]string{"b.py": origB}, OraclePatch: "--- a/c.py\n+++ b/c.py\n@@ -1 +1 @@\n-q\n+r\n"})
	if e := reward.AsError(err); e == nil || e.Code != reward.Invalid {
		t.Errorf("oracle patch for a missing file: %v", err)
	}
}

// FuzzScore feeds arbitrary responses through both rules: never a panic, and a
// reward in [-1, 1].
func FuzzScore(f *testing.F) {
	f.Add(tagged(block("b.py", "Y = 2", "Y = 3")))
	f.Add(tagged("```diff\n--- a/b.py\n+++ b/b.py\n@@ -1,2 +1,2 @@\n X = 1\n-Y = 2\n+Y = 3\n```\n"))
	f.Add("<think>x</think><solution>```\n### b.py\n<<<<<<< SEARCH\n\n=======\nZ\n>>>>>>> REPLACE\n```</solution>")
	original := map[string]string{"b.py": origB, "a.py": origA}
	oracle := map[string]string{"b.py": "X = 1\nY = 3\n"}
	f.Fuzz(func(t *testing.T, response string) {
		s := Scorer{AllowUntagged: true, MaxFileBytes: 1 << 16}
		for _, rule := range []string{RuleCascade, RuleSWERL} {
			got, err := s.Score(context.Background(), Task{Response: response, OriginalFiles: original, OracleFiles: oracle, Rule: rule})
			if err != nil {
				if e := reward.AsError(err); e.Code != reward.TooLarge {
					t.Fatalf("%s: %v", rule, err)
				}
				continue
			}
			if got.Reward < -1 || got.Reward > 1 || math.IsNaN(got.Reward) {
				t.Fatalf("%s: reward %v", rule, got.Reward)
			}
		}
	})
}
