package sandbox

import (
	"context"
	"fmt"
	"sync"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// checkerSession runs a special checker in a container of its own, so a
// submission can neither read the answers the checker is given nor tamper with
// the checker itself.
type checkerSession struct {
	ss   *session
	argv []string
	mu   sync.Mutex // one check at a time: they share the file names
}

// checkerLimits bound one check.
var checkerLimits = runner.Limits{CPUMillis: 10000, WallMillis: 20000, MemoryBytes: 1024 << 20, OutputBytes: 1 << 20, FileBytes: 1 << 20, Processes: 16}

func (s *Sandbox) openChecker(ctx context.Context, ch *Checker, lang Language) (*checkerSession, error) {
	ss, err := s.open(ctx, lang)
	if err != nil {
		return nil, err
	}
	var prep prepared
	switch lang {
	case Cpp:
		prep, err = ss.compileCpp(ctx, ch.Source, "checker", compileLimits, "", false)
	default:
		prep, err = ss.prepare(ctx, Python, ch.Source, false, "")
	}
	if err != nil {
		ss.close()
		return nil, fmt.Errorf("prepare the checker: %w", err)
	}
	if prep.compileFailed {
		ss.close()
		return nil, reward.Errorf(reward.Invalid, "checker does not compile: %s", prep.compileOutput)
	}
	return &checkerSession{ss: ss, argv: prep.argv}, nil
}

func (c *checkerSession) close() { c.ss.close() }

// check calls the checker as testlib's are called and maps its exit code:
// 0 OK, 1 wrong answer, 2 presentation error, 3 checker failure, 7 partial points.
func (c *checkerSession) check(ctx context.Context, tc reward.TestCase, output []byte) (reward.Verdict, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files := map[string]runner.File{
		"input.txt":  {Data: []byte(tc.Input)},
		"output.txt": {Data: output},
		"answer.txt": {Data: []byte(tc.Output)},
	}
	if _, err := c.ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: files}); err != nil {
		return "", fmt.Errorf("give the checker its files: %w", err)
	}
	argv := append(append([]string{}, c.argv...), "input.txt", "output.txt", "answer.txt")
	resp, err := c.ss.do(ctx, runner.Request{Op: runner.OpRun, Argv: argv, Limits: checkerLimits})
	if err != nil {
		return "", fmt.Errorf("run the checker: %w", err)
	}
	return checkerVerdict(resp)
}

func checkerVerdict(resp runner.Response) (reward.Verdict, error) {
	if resp.Status == runner.StatusOK {
		return reward.Accepted, nil
	}
	if resp.Status == runner.StatusRE && resp.Signal == 0 {
		switch resp.ExitCode {
		case 1, 2:
			return reward.WrongAnswer, nil
		case 7:
			// Partial points are not a pass: a reward is 1 only for a full answer.
			return reward.WrongAnswer, nil
		}
	}
	return "", fmt.Errorf("checker failed (status %s, exit %d): %s", resp.Status, resp.ExitCode, truncate(string(resp.Stderr)+string(resp.Stdout), 500))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
