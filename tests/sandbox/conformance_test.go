package sandbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/lcb"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// TestLiveCodeBenchConformance judges every conformance generation (real
// LiveCodeBench, Codeforces, AtCoder and CodeChef problems in LiveCodeBench's
// format, read with the evaluator's reader) through the sandbox and compares each
// verdict with lcb_expected.json.
func TestLiveCodeBenchConformance(t *testing.T) {
	problemsPath := conformance.Path(t, "code", "lcb_problems.jsonl")
	gensData, err := os.ReadFile(conformance.Path(t, "code", "lcb_generations.json"))
	if err != nil {
		t.Fatal(err)
	}
	expData, err := os.ReadFile(conformance.Path(t, "code", "lcb_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]json.RawMessage
	if err := json.Unmarshal(expData, &expected); err != nil {
		t.Fatal(err)
	}
	gens, err := lcb.ParseGenerations(gensData)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(problemsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var problems []*lcb.Problem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		p, err := lcb.ParseProblem(sc.Bytes())
		if err != nil {
			t.Fatalf("parse problem: %v", err)
		}
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		t.Fatal("no problems read")
	}

	s := newSandbox(t, sandbox.Config{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	for _, p := range problems {
		t.Run(p.QuestionID, func(t *testing.T) {
			var exp struct {
				Verdicts []reward.Verdict `json:"verdicts"`
			}
			if err := json.Unmarshal(expected[p.QuestionID], &exp); err != nil {
				t.Fatalf("expected verdicts: %v", err)
			}
			g := gens.ByID[p.QuestionID]
			if g == nil || len(g.CodeList) != len(exp.Verdicts) {
				t.Fatalf("generations for %s do not match the expected verdicts", p.QuestionID)
			}
			var tests []reward.TestCase
			for _, tc := range p.Tests() {
				tests = append(tests, reward.TestCase{Input: tc.Input, Output: tc.Output})
			}
			got := make([]reward.Verdict, len(g.CodeList))
			var wg sync.WaitGroup
			for i, code := range g.CodeList {
				wg.Go(func() {
					res, err := s.Judge(ctx, sandbox.JudgeItem{
						Language: "python", Source: code, Tests: tests,
						Mode: string(p.Mode()), FnName: p.FuncName,
					})
					if err != nil {
						t.Errorf("solution %d: %v", i, err)
						return
					}
					got[i] = res.Verdict
				})
			}
			wg.Wait()
			for i, want := range exp.Verdicts {
				// The notes allow a Python syntax error to be reported as CE or RE.
				ok := got[i] == want || (want == reward.CompileError && got[i] == reward.RuntimeError)
				if !ok {
					t.Errorf("solution %d: verdict %s, want %s\n%s", i, got[i], want, g.CodeList[i])
				}
			}
		})
	}
}
