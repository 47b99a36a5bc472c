package eval

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// judgeRun is what one benchmark brings to runJudged: where its samples come
// from, where their verdicts go and which files it writes. The rest (cache,
// deduplication, engine, progress, summary) is the same for every benchmark.
type judgeRun struct {
	label           string // names the progress line
	out             string // output folder: the cache, the benchmark's files, summary.json
	total           int    // samples in the run, for the progress line
	batch, parallel int

	// set stores the verdict of sample index of problem; runJudged never calls
	// it from two goroutines at once.
	set func(problem, index int, v verdict)
	// produce reads the problems and hands every sample to q.add. It runs
	// beside the engine; an error it returns fails the run as "read problems".
	produce func(q *sampleQueue) error
	// write writes the benchmark's own files once every verdict is in.
	write func(sum *Summary) error
}

// runJudged judges every sample r produces not already in r.out's cache, then
// has r write its files and writes summary.json and report.html. A judge
// failure stops the run with the cache kept, so a rerun resumes.
func runJudged(ctx context.Context, r judgeRun, judge Judge, progress io.Writer, sum *Summary, started time.Time) (*Summary, error) {
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	cache, err := OpenCache(filepath.Join(r.out, CacheFile))
	if err != nil {
		return nil, err
	}
	defer cache.Close()

	prog := NewProgress(progress, r.label, r.total)
	eng := &engine{judge: judge, cache: cache, batch: r.batch, parallel: r.parallel, retries: itemRetries, progress: prog, backoff: itemBackoff}
	var mu sync.Mutex
	dd := newDeduper(func(s sample, v verdict) {
		mu.Lock()
		defer mu.Unlock()
		r.set(s.problem, s.index, v)
	}, prog)

	samples := make(chan sample, max(r.batch*r.parallel, 1))
	var produceErr error
	go func() {
		defer close(samples)
		produceErr = r.produce(&sampleQueue{ctx: ctx, cache: cache, dd: dd, prog: prog, out: samples})
	}()
	runErr := eng.run(ctx, samples, dd.record)
	prog.Finish()
	if runErr != nil {
		return nil, fmt.Errorf("%w (the verdicts so far are in %s; rerun to resume)", runErr, filepath.Join(r.out, CacheFile))
	}
	// The engine returns without error only once samples is closed, so the
	// producer is done and produceErr set.
	if produceErr != nil {
		return nil, fmt.Errorf("read problems: %w", produceErr)
	}
	sum.JudgeCalls = eng.judgeCalls()
	sum.Deduplicated = dd.count()
	if err := r.write(sum); err != nil {
		return nil, err
	}
	sum.Elapsed = Duration(time.Since(started))
	if err := writeSummary(r.out, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// sampleQueue is how a benchmark's producer hands its samples to runJudged.
type sampleQueue struct {
	ctx   context.Context
	cache *Cache
	dd    *deduper
	prog  *Progress
	out   chan<- sample
}

// add has item judged as sample index of problem: from the cache when its
// verdict is there, from an identical sample already in flight, or by the
// engine.
func (q *sampleQueue) add(problem, index int, item JudgeItem) error {
	key, err := ItemKey(item)
	if err != nil {
		return err
	}
	s := sample{problem: problem, index: index, key: key, item: item}
	if r, ok := q.cache.Get(key); ok {
		q.dd.sink(s, verdict{result: r, cached: true})
		q.prog.Cached(1)
		return nil
	}
	if !q.dd.first(s) {
		return nil
	}
	select {
	case q.out <- s:
		return nil
	case <-q.ctx.Done():
		return q.ctx.Err()
	}
}

// unjudged counts n samples as done, and failed, without judging them: their
// problem's tests could not be read.
func (q *sampleQueue) unjudged(n int) { q.prog.Judged(n, n) }
