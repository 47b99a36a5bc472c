package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// BenchOptions tunes Bench.
type BenchOptions struct {
	// Tests is how many runs each overhead round takes [40].
	Tests int
	// Rounds is how many service/bare round pairs are timed, alternating, of
	// which the medians are reported [10].
	Rounds int
	// LoadFile is codecontests_load.jsonl (problems with stdin tests); empty
	// skips the throughput measurement.
	LoadFile string
	// Single is how many one-run submissions each row of the single-run
	// measurement takes, per way [600].
	Single int
	// Isolations are the Python isolations measured, each in its own rows
	// ("process", "fork"); empty is the default isolation only.
	Isolations []string
	// Languages, when set, makes Bench measure only these languages' per-test
	// overhead, one row each, side by side (benchLanguages).
	Languages []Language
}

// benchCase is one row's program: a language, and for Python an isolation.
type benchCase struct {
	lang      Language
	isolation string
}

func (c benchCase) String() string {
	if c.isolation == "" {
		return string(c.lang)
	}
	return string(c.lang) + "/" + c.isolation
}

// benchCases are the rows' programs: Python once per isolation asked for, C++.
func benchCases(isolations []string) []benchCase {
	var cases []benchCase
	for _, iso := range isolations {
		cases = append(cases, benchCase{Python, iso})
	}
	if len(isolations) == 0 {
		cases = append(cases, benchCase{lang: Python})
	}
	return append(cases, benchCase{lang: Cpp})
}

// trivialPython reads a line and prints it back: what is measured is the cost of
// starting and judging a program, not the program.
const trivialPython = "print(input())\n"

const trivialCpp = "#include <cstdio>\nint main(){char b[64];if(scanf(\"%63s\",b)==1)puts(b);}\n"

// Bench measures the sandbox against the same programs run bare on this host, in
// the same run: the time per test through the service (one submission, tests in
// sequence) against a bare fork/exec per test, and the throughput on a load of
// real stdin tests. It writes a report to w.
func Bench(ctx context.Context, s *Sandbox, opts BenchOptions, w io.Writer) error {
	if opts.Tests <= 0 {
		opts.Tests = 40
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 10
	}
	fmt.Fprintf(w, "sandbox bench: %d rounds of %d tests in sequence, service and bare alternating; concurrency %d, test parallelism %d\n",
		opts.Rounds, opts.Tests, s.cfg.Concurrency, s.cfg.TestParallel)
	if len(opts.Languages) > 0 {
		return benchLanguages(ctx, s, opts.Languages, opts.Tests, opts.Rounds, w)
	}
	for _, c := range benchCases(opts.Isolations) {
		if err := benchOverhead(ctx, s, c, opts.Tests, opts.Rounds, w); err != nil {
			return err
		}
	}
	if opts.Single <= 0 {
		opts.Single = 600
	}
	fmt.Fprintf(w, "one program per submission (as verl sends /run_code; judge: a one-test item): %d runs per row and way, service and bare alternating in 5 rounds\n", opts.Single)
	for _, judge := range []bool{false, true} {
		for _, c := range benchCases(opts.Isolations) {
			for _, clients := range []int{1, 2} {
				if err := benchSingle(ctx, s, c, judge, opts.Single, clients, w); err != nil {
					return err
				}
			}
		}
	}
	if opts.LoadFile != "" {
		if err := benchThroughput(ctx, s, opts.LoadFile, w); err != nil {
			return err
		}
	}
	return nil
}

func benchOverhead(ctx context.Context, s *Sandbox, c benchCase, n, rounds int, w io.Writer) error {
	lang := c.lang
	src := trivialPython
	if lang == Cpp {
		src = trivialCpp
	}
	tests := make([]reward.TestCase, n)
	for i := range tests {
		tests[i] = reward.TestCase{Input: fmt.Sprintf("%d\n", i), Output: fmt.Sprintf("%d\n", i)}
	}
	sp, err := s.validateJudge(JudgeItem{Language: string(lang), Source: src, Tests: tests, TimeLimitMS: 2000, Isolation: c.isolation})
	if err != nil {
		return err
	}
	sp.parallel = 1

	// Warm up: a first submission compiles (C++) and fills the pool.
	if _, err := s.judge(ctx, sp); err != nil {
		return fmt.Errorf("bench %s warm-up: %w", lang, err)
	}
	bare, err := bareRun(ctx, lang, src, tests)
	if err != nil {
		fmt.Fprintf(w, "%-14s bare run unavailable on this host (%v); service only\n", c, err)
	}
	// Service and bare runs alternate, so both see the same machine load.
	var svc, base []time.Duration
	for range rounds {
		start := time.Now()
		res, err := s.judge(ctx, sp)
		if err != nil {
			return fmt.Errorf("bench %s: %w", lang, err)
		}
		if res.Verdict != reward.Accepted {
			return fmt.Errorf("bench %s: verdict %s (%s)", lang, res.Verdict, res.CompileOutput)
		}
		svc = append(svc, time.Since(start)/time.Duration(n))
		if bare != nil {
			d, err := bare()
			if err != nil {
				return fmt.Errorf("bench %s bare: %w", lang, err)
			}
			base = append(base, d/time.Duration(n))
		}
	}
	sv := median(svc)
	if len(base) == 0 {
		fmt.Fprintf(w, "%-14s per test: service %.2f ms\n", c, ms(sv))
		return nil
	}
	b := median(base)
	fmt.Fprintf(w, "%-14s per test: service %.2f ms, bare %.2f ms, ratio %.2f, overhead %.2f ms\n",
		c, ms(sv), ms(b), float64(sv)/float64(b), ms(sv-b))
	return nil
}

// benchSingle runs the trivial program n times, each run its own submission,
// from clients goroutines at once, against the same number of bare runs from as
// many goroutines; it reports runs per second and the latency percentiles of
// both. A submission is a run (s.Run, as /run_code and /v1/code/run send), or
// with judge a one-test judge (s.Judge, as a one-test /v1/rewards item is).
func benchSingle(ctx context.Context, s *Sandbox, c benchCase, judge bool, n, clients int, w io.Writer) error {
	lang := c.lang
	src := trivialPython
	if lang == Cpp {
		src = trivialCpp
	}
	test := reward.TestCase{Input: "7\n", Output: "7\n"}
	item := RunItem{Language: string(lang), Source: src, Stdin: test.Input, Isolation: c.isolation}
	judged := JudgeItem{Language: string(lang), Source: src, Tests: []reward.TestCase{test}, Isolation: c.isolation}
	kind := "run"
	if judge {
		kind = "judge"
	}
	svcRun := func() (time.Duration, error) {
		start := time.Now()
		if judge {
			res, err := s.Judge(ctx, judged)
			if err != nil {
				return 0, err
			}
			if res.Verdict != reward.Accepted {
				return 0, fmt.Errorf("judge %+v", res)
			}
			return time.Since(start), nil
		}
		res, err := s.Run(ctx, item)
		if err != nil {
			return 0, err
		}
		if res.Status != "ok" || res.Stdout != test.Output {
			return 0, fmt.Errorf("run %+v", res)
		}
		return time.Since(start), nil
	}
	if _, err := svcRun(); err != nil { // warm-up: the compile is cached
		return fmt.Errorf("bench %s single warm-up: %w", lang, err)
	}
	bare, err := bareRun(ctx, lang, src, []reward.TestCase{test})
	if err != nil {
		fmt.Fprintf(w, "%-14s bare run unavailable on this host (%v)\n", c, err)
		return nil
	}
	// each runs k runs from clients goroutines and adds their latencies.
	each := func(k int, run func() (time.Duration, error), lat *[]time.Duration) (time.Duration, error) {
		var mu sync.Mutex
		var firstErr error
		next := make(chan struct{}, k)
		for range k {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range next {
					d, err := run()
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					*lat = append(*lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return time.Since(start), firstErr
	}
	var svcLat, bareLat []time.Duration
	var svcWall, bareWall time.Duration
	before := s.metrics.snapshot()
	const rounds = 5
	for r := range rounds {
		k := n/rounds + min(1, max(0, n%rounds-r))
		d, err := each(k, svcRun, &svcLat)
		if err != nil {
			return fmt.Errorf("bench %s single: %w", lang, err)
		}
		svcWall += d
		settle(ctx, s, lang)
		if d, err = each(k, bare, &bareLat); err != nil {
			return fmt.Errorf("bench %s single bare: %w", lang, err)
		}
		bareWall += d
	}
	svcRate, bareRate := float64(len(svcLat))/svcWall.Seconds(), float64(len(bareLat))/bareWall.Seconds()
	fmt.Fprintf(w, "%-14s %-5s %d client(s): service %.1f runs/s p50 %.2f ms p99 %.2f ms; bare %.1f runs/s p50 %.2f ms p99 %.2f ms; %.2f× bare's runs/s, p50 +%.2f ms\n",
		c, kind, clients, svcRate, ms(percentile(svcLat, 50)), ms(percentile(svcLat, 99)),
		bareRate, ms(percentile(bareLat, 50)), ms(percentile(bareLat, 99)),
		svcRate/bareRate, ms(percentile(svcLat, 50)-percentile(bareLat, 50)))
	// The sandbox's own stage timings over the row (the reset runs after the
	// answer, beside the next run); the resets of the row's last runs may
	// still be under way.
	fmt.Fprintf(w, "%-14s %-5s %d client(s): mean ms per stage: %s\n", c, kind, clients, stageMeans(before, s.metrics.snapshot(), lang))
	return nil
}

// settle waits, up to a few seconds, until lang's boxes have no work left in
// the background (a reset, a container's replacement or start), so that a
// baseline timed next is not slowed by the service's own Docker work.
func settle(ctx context.Context, s *Sandbox, lang Language) {
	b, err := s.boxes.boxes(ctx, lang)
	if err != nil {
		return
	}
	st, ok := b.(interface{ Settled() bool })
	if !ok {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !st.Settled() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// bareRun prepares the program on the host and returns a function that runs it
// once per test, in sequence, with plain fork/exec, and checks each output.
func bareRun(ctx context.Context, lang Language, src string, tests []reward.TestCase) (func() (time.Duration, error), error) {
	dir, err := os.MkdirTemp("", "rewardmesh-bench-")
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { os.RemoveAll(dir) })
	var argv []string
	switch lang {
	case Python:
		path := filepath.Join(dir, "main.py")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			return nil, err
		}
		py, err := BarePython()
		if err != nil {
			return nil, err
		}
		argv = []string{py, path}
	case Cpp:
		path := filepath.Join(dir, "main.cpp")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			return nil, err
		}
		bin := filepath.Join(dir, "main")
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(cctx, Cpp.compiler()[0], append(append([]string{}, Cpp.compiler()[1:]...), "-o", bin, path)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("g++: %v: %s", err, out)
		}
		argv = []string{bin}
	}
	return func() (time.Duration, error) { return runBare(ctx, argv, tests) }, nil
}

// runBare runs argv once per test, in sequence, with plain fork/exec, checks
// each output, and returns the time they took.
func runBare(ctx context.Context, argv []string, tests []reward.TestCase) (time.Duration, error) {
	cmp := Comparer{Mode: CompareLCB}
	start := time.Now()
	for _, tc := range tests {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cmd := exec.CommandContext(rctx, argv[0], argv[1:]...)
		cmd.Stdin = strings.NewReader(tc.Input)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			return 0, err
		}
		if !cmp.Equal(string(out), tc.Output) {
			return 0, fmt.Errorf("bare run printed %q for %q", out, tc.Input)
		}
	}
	return time.Since(start), nil
}

// benchThroughput judges an echo program against every test of the load file,
// all problems at once, and reports tests per second. The verdicts do not matter
// (the file has no solutions); every test is run (stop_on_fail off).
func benchThroughput(ctx context.Context, s *Sandbox, path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open load file: %w", err)
	}
	defer f.Close()
	var problems [][]reward.TestCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	total := 0
	for sc.Scan() {
		var row struct {
			Tests []reward.TestCase `json:"tests"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return fmt.Errorf("decode load file: %w", err)
		}
		if len(row.Tests) > 0 {
			problems = append(problems, row.Tests)
			total += len(row.Tests)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read load file: %w", err)
	}
	const echo = "import sys\nsys.stdout.write(sys.stdin.read())\n"
	no := false
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(problems))
	counts := make(chan int, len(problems))
	for _, tests := range problems {
		wg.Go(func() {
			for {
				res, err := s.Judge(ctx, JudgeItem{Language: "python", Source: echo, Tests: tests, Compare: "tokens", StopOnFail: &no, TimeLimitMS: 5000})
				if e, ok := err.(*reward.Error); ok && e.Code == reward.Busy {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				counts <- len(res.Tests)
				return
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	close(counts)
	if err := <-errs; err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	ran := 0
	for c := range counts {
		ran += c
	}
	rate := float64(ran) / elapsed.Seconds()
	fmt.Fprintf(w, "throughput: %d problems, %d tests run of %d, %.1fs, %.0f tests/s (python echo, tokens compare)\n",
		len(problems), ran, total, elapsed.Seconds(), rate)
	bare, err := bareThroughput(ctx, echo, problems, cap(s.cpus))
	if err != nil {
		fmt.Fprintf(w, "throughput bare: unavailable on this host (%v)\n", err)
		return nil
	}
	fmt.Fprintf(w, "throughput bare: the same %d tests as bare python3 processes, %d at a time (the sandbox's programs at once): %.0f tests/s; the sandbox %.2f× bare\n",
		total, cap(s.cpus), bare, rate/bare)
	return nil
}

// bareThroughput runs src once per test as a bare python3 process, workers at a
// time, and returns tests per second. Outputs are not checked: the echo
// program is not a solution.
func bareThroughput(ctx context.Context, src string, problems [][]reward.TestCase, workers int) (float64, error) {
	py, err := BarePython()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "rewardmesh-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "main.py")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return 0, err
	}
	inputs := make(chan string)
	go func() {
		defer close(inputs)
		for _, tests := range problems {
			for _, tc := range tests {
				inputs <- tc.Input
			}
		}
	}()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		n     int
		first error
	)
	start := time.Now()
	for range max(1, workers) {
		wg.Go(func() {
			for in := range inputs {
				cmd := exec.CommandContext(ctx, py, path)
				cmd.Stdin = strings.NewReader(in)
				_, err := cmd.Output()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// BarePython is the interpreter a bare baseline runs: the system's (Debian's),
// the one the sandbox image has. A python3 earlier on PATH may be a wrapper
// script (pyenv's shims cost half a second a start) or another version.
func BarePython() (string, error) {
	const system = "/usr/bin/python3"
	if _, err := os.Stat(system); err == nil {
		return system, nil
	}
	return exec.LookPath("python3")
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
