package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func TestZZDebug(t *testing.T) {
	s := newDockerSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := 100
	tests := make([]reward.TestCase, n)
	for i := range tests {
		tests[i] = reward.TestCase{Input: fmt.Sprintf("%d\n", i), Output: fmt.Sprintf("%d\n", i)}
	}
	for _, src := range []string{"pass\n", trivialPython} {
		sp, _ := s.validateJudge(JudgeItem{Language: "python", Source: src, Tests: tests, TimeLimitMS: 2000, Compare: "tokens"})
		sp.parallel = 1
		sp.stopOnFail = false
		bare, _ := bareRun(ctx, Python, src, tests)
		for round := 0; round < 3; round++ {
			start := time.Now()
			res, err := s.judge(ctx, sp)
			d := time.Since(start)
			var cpu int64
			for _, tr := range res.Tests {
				cpu += tr.TimeMS
			}
			b := time.Duration(0)
			if bare != nil {
				b, _ = bare()
			}
			t.Logf("%q: svc %v/test (cpu %dms/test) %v; bare %v/test %v", src, d/time.Duration(n), cpu/int64(n), err, b/time.Duration(n), err)
		}
	}
}
