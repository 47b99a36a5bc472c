package sandbox

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// checkerSession runs a special checker in a container of its own, so a
// submission can neither read the answers the checker is given nor tamper with
// the checker itself.
type checkerSession struct {
	ss   *session
	lang Language
	argv []string
	mu   sync.Mutex // one check at a time: they share the file names
	// interactive: the program is an interactor (interact.go), not a checker.
	interactive bool
}

// checkerLimits bound one check.
var checkerLimits = runner.Limits{CPUMillis: 10000, WallMillis: 20000, MemoryBytes: 1024 << 20, OutputBytes: 1 << 20, FileBytes: 1 << 20, Processes: 16}

func (s *Sandbox) openChecker(ctx context.Context, ch *Checker, lang Language) (*checkerSession, error) {
	ss, err := s.open(ctx, lang)
	if err != nil {
		return nil, err
	}
	var prep prepared
	if lang.compiled() {
		prep, err = ss.compile(ctx, lang, ch.Source, "checker", compileLimits, "", false, nil)
	} else {
		prep, err = ss.prepare(ctx, lang, ch.Source, false, "", true, nil)
	}
	if err != nil {
		ss.close()
		return nil, fmt.Errorf("prepare the checker: %w", err)
	}
	if prep.compileFailed {
		ss.close()
		return nil, reward.Errorf(reward.Invalid, "checker does not compile: %s", prep.compileOutput)
	}
	return &checkerSession{ss: ss, lang: lang, argv: prep.argv}, nil
}

func (c *checkerSession) close() { c.ss.close() }

// check calls the checker as testlib's are called and maps its exit code: 0 OK,
// 1 wrong answer, 2 presentation error, 3 checker failure, 7 points. It returns
// the verdict and the test's score: 1 for AC, the share of the points for PA,
// else 0.
func (c *checkerSession) check(ctx context.Context, tc reward.TestCase, output []byte) (reward.Verdict, float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files := map[string]runner.File{
		"input.txt":  {Data: []byte(tc.Input)},
		"output.txt": {Data: output},
		"answer.txt": {Data: []byte(tc.Output)},
	}
	argv := append(append([]string{}, c.argv...), "input.txt", "output.txt", "answer.txt")
	lim := c.lang.limits(checkerLimits)
	resp, err := c.ss.do(ctx, runner.Request{Op: runner.OpRun, Files: files, Argv: withLimits(argv, lim), Limits: lim})
	if err != nil {
		return "", 0, fmt.Errorf("run the checker: %w", err)
	}
	return checkerVerdict(resp)
}

func checkerVerdict(resp runner.Response) (reward.Verdict, float64, error) {
	if resp.Status == runner.StatusOK {
		return reward.Accepted, 1, nil
	}
	if resp.Status == runner.StatusRE && resp.Signal == 0 {
		switch resp.ExitCode {
		case 1, 2:
			return reward.WrongAnswer, 0, nil
		case 7:
			return checkerPoints(resp.Stderr)
		}
	}
	return "", 0, fmt.Errorf("checker failed (status %s, exit %d): %s", resp.Status, resp.ExitCode, truncate(string(resp.Stderr)+string(resp.Stdout), 500))
}

// checkerPoints reads testlib's quitp report, "points X [message]" on stderr,
// where X is the share of the test's points the output earned, 0 to 1. A
// share outside that range, or none, is the checker's failure, never a score:
// a checker that says 7 without a number has not said how much.
func checkerPoints(stderr []byte) (reward.Verdict, float64, error) {
	fields := strings.Fields(string(stderr))
	if len(fields) < 2 || fields[0] != "points" {
		return "", 0, fmt.Errorf("checker exited 7 (points) without \"points X\" on stderr: %s", truncate(string(stderr), 200))
	}
	x, err := strconv.ParseFloat(fields[1], 64)
	if err != nil || math.IsNaN(x) || x < 0 || x > 1 {
		return "", 0, fmt.Errorf("checker gave points %q: want a share between 0 and 1", fields[1])
	}
	switch x {
	case 0:
		return reward.WrongAnswer, 0, nil
	case 1:
		return reward.Accepted, 1, nil
	}
	return reward.PartiallyAccepted, x, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
