package sandbox

import (
	"context"
	"fmt"
	"sync"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Interactive problems. The solution runs in its submission's container and the
// interactor in a container of its own, so neither can read the other's files
// (the interactor's input holds the answer). Both runs are streamed
// (runner.Request.Stream): what one writes, the service passes to the other's
// stdin, piece by piece, as it comes. Each side is metered by its own agent, so
// each is charged its own time; a solution that stops talking waits on its
// stdin until its wall limit and is TLE, never a hang.

// streamer is a Box that runs streamed programs (runner.Conn's Stream).
type streamer interface {
	Stream(ctx context.Context, req runner.Request, in <-chan []byte, out func([]byte)) (runner.Response, error)
}

// interactorLimits bound the interactor: its own CPU, and the wall time of the
// solution it waits on and then some.
func interactorLimits(solution runner.Limits) runner.Limits {
	lim := checkerLimits
	lim.WallMillis = solution.WallMillis + 5000
	lim.CPUMillis = max(lim.CPUMillis, solution.CPUMillis)
	lim.OutputBytes = 64 << 20
	return lim
}

// interact runs one test of an interactive problem.
func (ss *session) interact(ctx context.Context, sp judgeSpec, argv []string, tc reward.TestCase, inter *checkerSession) (TestResult, error) {
	inter.mu.Lock()
	defer inter.mu.Unlock()
	solBox, ok := ss.c.(streamer)
	intBox, ok2 := inter.ss.c.(streamer)
	if !ok || !ok2 {
		return TestResult{}, fmt.Errorf("interactive problems need boxes that stream")
	}
	files := map[string]runner.File{"input.txt": {Data: []byte(tc.Input)}, "answer.txt": {Data: []byte(tc.Output)}}
	if _, err := inter.ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: files}); err != nil {
		return TestResult{}, fmt.Errorf("write the interactor's input: %w", err)
	}
	release, err := ss.s.twoCPUs(ctx)
	if err != nil {
		return TestResult{}, err
	}
	defer release()

	toSolution, toInteractor := newRelay(), newRelay()
	var (
		wg               sync.WaitGroup
		solResp, intResp runner.Response
		solErr, intErr   error
	)
	wg.Go(func() {
		defer toInteractor.close() // the interactor reads EOF once the solution is gone
		solResp, solErr = solBox.Stream(ctx, ss.carry(runner.Request{Op: runner.OpRun, Argv: withLimits(argv, sp.limits), Limits: sp.limits}), toSolution.ch, toInteractor.send)
	})
	wg.Go(func() {
		defer toSolution.close()
		lim := interactorLimits(sp.limits)
		intArgv := append(append([]string{}, withLimits(inter.argv, lim)...), "input.txt", "output.txt")
		intResp, intErr = intBox.Stream(ctx, inter.ss.carry(runner.Request{Op: runner.OpRun, Argv: intArgv, Limits: lim}), toInteractor.ch, toSolution.send)
	})
	wg.Wait()
	if solErr != nil {
		ss.bad = true
		return TestResult{}, fmt.Errorf("run a test: %w", solErr)
	}
	if intErr != nil {
		inter.ss.bad = true
		return TestResult{}, fmt.Errorf("run the interactor: %w", intErr)
	}
	if solResp.Status == runner.StatusFailed {
		return TestResult{}, fmt.Errorf("run a test: %s", solResp.Error)
	}
	tr := TestResult{TimeMS: timeMS(solResp, sp.limits), MemoryKB: solResp.MemoryKB}
	tr.Verdict, tr.Score, err = interactiveVerdict(sp.lang, solResp, intResp)
	return tr, err
}

// interactiveVerdict combines how the two sides ended. A solution over its time
// (idle on its stdin included) is TLE whatever the interactor said. An
// interactor's WA stands over a solution's crash (the crash may be the pipe the
// interactor closed on a wrong answer). Otherwise a solution that failed has its
// own verdict, and one that ended well the interactor's: AC, or points. An
// interactor that failed is a system error, unless the solution failed first.
func interactiveVerdict(lang Language, sol, inter runner.Response) (reward.Verdict, *float64, error) {
	solV := runVerdict(lang, sol)
	if solV == reward.TimeLimitExceeded {
		return solV, nil, nil
	}
	intV, score, err := checkerVerdict(inter)
	switch {
	case err != nil && solV != reward.Accepted:
		return solV, nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("interactor: %w", err)
	case intV == reward.WrongAnswer:
		return intV, nil, nil
	case solV != reward.Accepted:
		return solV, nil, nil
	case intV == reward.PartiallyAccepted:
		return intV, &score, nil
	}
	return intV, nil, nil
}

// relay carries one side's output to the other's stdin. send never blocks for
// long (the receiving Stream drains its channel until it is closed) and is a
// no-op once the relay is closed.
type relay struct {
	mu     sync.Mutex
	ch     chan []byte
	closed bool
}

func newRelay() *relay { return &relay{ch: make(chan []byte, 64)} }

func (r *relay) send(piece []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.ch <- piece
	}
}

func (r *relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
}

// twoCPUs takes two of the program slots at once, for a test whose two
// programs run together; pairs take turns to ask, so two pairs never hold one
// slot each waiting for a second. On a one-slot sandbox the pair takes the one.
func (s *Sandbox) twoCPUs(ctx context.Context) (func(), error) {
	want := min(2, cap(s.cpus))
	s.pairMu.Lock()
	defer s.pairMu.Unlock()
	taken := 0
	release := func() {
		for range taken {
			<-s.cpus
		}
	}
	for taken < want {
		select {
		case s.cpus <- struct{}{}:
			taken++
		case <-ctx.Done():
			release()
			return nil, fmt.Errorf("wait for a CPU: %w", ctx.Err())
		}
	}
	return release, nil
}
