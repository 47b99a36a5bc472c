package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// sample is one program to judge against one problem's tests.
type sample struct {
	problem, index int // where the verdict goes
	key            string
	item           JudgeItem
}

// verdict is what became of a sample: a result, or the error that kept it from
// one (a per-item failure the judge reported, after retries).
type verdict struct {
	result JudgeResult
	err    *reward.Error
	cached bool
}

// engine judges samples in batches, several batches at once, through the cache.
type engine struct {
	judge    Judge
	cache    *Cache
	batch    int
	parallel int
	retries  int // per-item retries for busy/unavailable/timeout answers
	progress *Progress
	backoff  Backoff

	mu    sync.Mutex
	calls int // judge calls made, for the report
}

// run judges every sample fed to in (reading it until closed) and hands each
// outcome to record, which must be safe for concurrent use. A judge call that
// fails as a whole stops the run: what was judged is in the cache, and a rerun
// picks up from there.
func (e *engine) run(ctx context.Context, in <-chan sample, record func(sample, verdict)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range max(e.parallel, 1) {
		wg.Go(func() {
			for {
				batch := e.gather(ctx, in)
				if len(batch) == 0 {
					return
				}
				if err := e.judgeBatch(ctx, batch, record); err != nil {
					cancel(err)
					// Drain so the producer is never left blocked on a full channel.
					for range in {
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// gather takes one sample (waiting) and then whatever else is ready, up to a batch.
func (e *engine) gather(ctx context.Context, in <-chan sample) []sample {
	var batch []sample
	select {
	case <-ctx.Done():
		return nil
	case s, ok := <-in:
		if !ok {
			return nil
		}
		batch = append(batch, s)
	}
	for len(batch) < max(e.batch, 1) {
		select {
		case s, ok := <-in:
			if !ok {
				return batch
			}
			batch = append(batch, s)
		default:
			return batch
		}
	}
	return batch
}

func (e *engine) judgeBatch(ctx context.Context, batch []sample, record func(sample, verdict)) error {
	pending := batch
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, e.backoff.delay(attempt-1)); err != nil {
				return err
			}
		}
		items := make([]JudgeItem, len(pending))
		for i, s := range pending {
			items[i] = s.item
		}
		e.mu.Lock()
		e.calls++
		e.mu.Unlock()
		results, err := e.judge.Judge(ctx, items)
		if err != nil {
			return fmt.Errorf("judge a batch of %d samples: %w", len(items), err)
		}
		if len(results) != len(items) {
			return fmt.Errorf("judge answered %d results for %d samples", len(results), len(items))
		}
		var keys []string
		var good []JudgeResult
		var retry []sample
		var failed int
		for i, r := range results {
			s := pending[i]
			switch {
			case r.Error == nil && r.Verdict == reward.SystemError:
				// The sandbox failed, not the program: graded now, never cached,
				// so a rerun judges it again.
				failed++
			case r.Error == nil:
				keys = append(keys, s.key)
				good = append(good, r)
			case r.Retryable() && attempt < e.retries:
				retry = append(retry, s)
			default:
				failed++
			}
		}
		// The cache write comes before the verdicts count as done, so a kill
		// between the two re-judges nothing and loses nothing.
		if len(keys) > 0 {
			if err := e.cache.Put(keys, good); err != nil {
				return err
			}
		}
		for i, r := range results {
			s := pending[i]
			if r.Error == nil {
				record(s, verdict{result: r})
			} else if !(r.Retryable() && attempt < e.retries) {
				record(s, verdict{result: r, err: r.Error})
			}
		}
		e.progress.Judged(len(pending)-len(retry), failed)
		pending = retry
	}
	return nil
}

// judgeCalls is how many judge calls the run made.
func (e *engine) judgeCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// Items the judge answers busy, unavailable or timeout are sent again, up to
// itemRetries times, waiting longer each time: a sandbox with a full queue
// frees a slot only when a program ends, which for a TLE is the time limit.
var (
	itemRetries = 12
	itemBackoff = Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
)
