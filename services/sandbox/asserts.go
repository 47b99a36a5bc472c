package sandbox

import (
	"context"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// judgeAsserts judges a mode assert item: each test is its own program, the
// source with the test's code appended (MultiPL-E's and HumanEval's
// convention), compiled and run once; it passes when it exits 0. A failed
// assertion shows as the program's failure (RE), since the exit status is all
// the convention gives; a test whose program does not compile is CE. The item's
// verdict is its first failing test's, as for stdin tests.
func (s *Sandbox) judgeAsserts(ctx context.Context, sp judgeSpec) (JudgeResult, error) {
	res := JudgeResult{Total: len(sp.tests), Tests: []TestResult{}}
	for _, tc := range sp.tests {
		one := sp
		one.asserts, one.exitOnly = false, true
		one.source = sp.source + "\n" + tc.Input + "\n"
		one.tests = []reward.TestCase{{}}
		r, err := s.judge(ctx, one)
		if err != nil {
			return res, err
		}
		tr := TestResult{Verdict: r.Verdict}
		if len(r.Tests) > 0 {
			tr = r.Tests[0]
		}
		if r.Verdict == reward.CompileError || r.Verdict == reward.SystemError {
			// A compile error (or the judge's failure) has no test of its own.
			tr.Verdict = r.Verdict
			if res.CompileOutput == "" {
				res.CompileOutput = r.CompileOutput
			}
		}
		res.Tests = append(res.Tests, tr)
		if tr.Verdict == reward.Accepted {
			res.Passed++
		} else if res.Verdict == "" {
			res.Verdict = tr.Verdict
			if sp.stopOnFail {
				break
			}
		}
	}
	if res.Verdict == "" {
		res.Verdict = reward.Accepted
	}
	return res, nil
}
