package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/lcb"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// LCBConfig is one LiveCodeBench evaluation.
type LCBConfig struct {
	Problems    string // LiveCodeBench problem rows, JSON lines
	Generations string // the model's generations (see lcb.ParseGenerations)
	Out         string // output folder: eval files, cache, report

	// StartDate and EndDate (YYYY-MM-DD, inclusive, either may be empty) keep the
	// problems whose contest_date falls between them, as lcb_runner's flags do.
	StartDate, EndDate string
	K                  []int // pass@k to report; default 1, 5, 10

	TimeLimit time.Duration // per test; default 6s, lcb_runner's timeout
	Batch     int           // samples per judge call; default 8
	Parallel  int           // judge calls in flight; default 4
}

// Output file names, after lcb_runner's custom evaluator
// (<generations>_codegeneration_output{,_eval,_eval_all}.json).
func lcbOutputNames(generations string) (output, eval, evalAll string) {
	base := strings.TrimSuffix(filepath.Base(generations), filepath.Ext(generations))
	output = base + "_codegeneration_output.json"
	return output, strings.TrimSuffix(output, ".json") + "_eval.json", strings.TrimSuffix(output, ".json") + "_eval_all.json"
}

// lcbProblem is a selected problem and what became of its samples.
type lcbProblem struct {
	header   *lcb.Problem
	line     int
	codes    []string
	outputs  []string
	verdicts []verdict
	failed   error // the row's tests could not be decoded; left out of the metrics
}

// RunLCB evaluates LiveCodeBench generations: reads the problem rows and the
// generations, judges every sample not already in DIR's cache, and writes
// lcb_runner's three output files, summary.json and report.html to DIR.
func RunLCB(ctx context.Context, cfg LCBConfig, judge Judge, progress io.Writer) (*Summary, error) {
	started := time.Now()
	cfg = cfg.withDefaults()
	start, end, err := dateWindow(cfg.StartDate, cfg.EndDate)
	if err != nil {
		return nil, err
	}
	genData, err := os.ReadFile(cfg.Generations)
	if err != nil {
		return nil, fmt.Errorf("read generations: %w", err)
	}
	gens, err := lcb.ParseGenerations(genData)
	if err != nil {
		return nil, fmt.Errorf("generations %s: %w", cfg.Generations, err)
	}
	sum := &Summary{Benchmark: "lcb", Verdicts: map[string]int{}}
	for _, e := range gens.Errors {
		e.Err = "generations: " + e.Err
		sum.RowErrors = append(sum.RowErrors, e)
	}

	// First pass: every row's header, to select problems and size the run
	// without holding anyone's tests.
	var headers []*lcb.Problem
	lines := map[string]int{}
	err = readRows(cfg.Problems, func(n int, line []byte) error {
		p, err := lcb.ParseHeader(line)
		if err != nil {
			re := lcb.RowError{Line: n, Err: err.Error()}
			if p != nil {
				re.QuestionID = p.QuestionID
			}
			sum.RowErrors = append(sum.RowErrors, re)
			return nil
		}
		if _, dup := lines[p.QuestionID]; dup {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: n, QuestionID: p.QuestionID, Err: "question_id appears twice; the first row is kept"})
			return nil
		}
		lines[p.QuestionID] = n
		headers = append(headers, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	problems, skipped, err := selectLCB(headers, lines, gens, start, end)
	if err != nil {
		return nil, err
	}
	sum.Skipped = skipped
	total := 0
	for _, p := range problems {
		total += len(p.codes)
	}

	index := map[string]int{}
	for i, p := range problems {
		index[p.header.QuestionID] = i
	}
	return runJudged(ctx, judgeRun{
		label: "lcb", out: cfg.Out, total: total, batch: cfg.Batch, parallel: cfg.Parallel,
		set: func(i, j int, v verdict) { problems[i].verdicts[j] = v },
		produce: func(q *sampleQueue) error {
			return readRows(cfg.Problems, func(n int, line []byte) error {
				id, ok := rowID(line)
				if !ok || lines[id] != n {
					return nil
				}
				i, ok := index[id]
				if !ok {
					return nil
				}
				p := problems[i]
				full, err := lcb.ParseProblem(line)
				if err != nil {
					p.failed = err
					q.unjudged(len(p.codes))
					return nil
				}
				tests, err := encodeTests(full.Tests())
				if err != nil {
					p.failed = err
					q.unjudged(len(p.codes))
					return nil
				}
				for j, code := range p.codes {
					item := JudgeItem{
						Language: "python", Source: code, Tests: tests, Mode: string(full.Mode()),
						FnName: full.FuncName, TimeLimitMS: int(cfg.TimeLimit / time.Millisecond),
						Compare: "lcb", StopOnFail: true,
					}
					if err := q.add(i, j, item); err != nil {
						return err
					}
				}
				return nil
			})
		},
		write: func(sum *Summary) error { return writeLCB(cfg, problems, sum) },
	}, judge, progress, sum, started)
}

func (cfg LCBConfig) withDefaults() LCBConfig {
	if len(cfg.K) == 0 {
		cfg.K = []int{1, 5, 10}
	}
	if cfg.TimeLimit <= 0 {
		cfg.TimeLimit = 6 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 8
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	return cfg
}

// dateWindow parses --start-date/--end-date; both are inclusive days, and an
// end date takes in all of that day.
func dateWindow(startS, endS string) (start, end time.Time, err error) {
	if startS != "" {
		if start, err = time.Parse("2006-01-02", startS); err != nil {
			return start, end, fmt.Errorf("start date %q: want YYYY-MM-DD", startS)
		}
	}
	if endS != "" {
		if end, err = time.Parse("2006-01-02", endS); err != nil {
			return start, end, fmt.Errorf("end date %q: want YYYY-MM-DD", endS)
		}
	}
	return start, end, nil
}

// inWindow follows lcb_runner's compute_scores: start <= contest_date <= end,
// comparing with the dates at midnight.
func inWindow(t, start, end time.Time) bool {
	if !start.IsZero() && t.Before(start) {
		return false
	}
	if !end.IsZero() && t.After(end) {
		return false
	}
	return true
}

// selectLCB pairs problems with their generations and applies the date window.
func selectLCB(headers []*lcb.Problem, lines map[string]int, gens *lcb.Generations, start, end time.Time) ([]*lcbProblem, []string, error) {
	var skipped []string
	byID := gens.ByID
	if gens.Positional != nil {
		// lcb_runner's bare list of lists follows the problems sorted by question_id.
		sorted := slices.Clone(headers)
		slices.SortFunc(sorted, func(a, b *lcb.Problem) int { return strings.Compare(a.QuestionID, b.QuestionID) })
		if len(sorted) != len(gens.Positional) {
			return nil, nil, fmt.Errorf("generations are a list of %d lists but there are %d problems; a list of lists must have one per problem, in question_id order", len(gens.Positional), len(sorted))
		}
		byID = map[string]*lcb.Generation{}
		for i, h := range sorted {
			byID[h.QuestionID] = &lcb.Generation{QuestionID: h.QuestionID, CodeList: gens.Positional[i]}
		}
	}
	var out []*lcbProblem
	seen := map[string]bool{}
	for _, h := range headers {
		seen[h.QuestionID] = true
		g, ok := byID[h.QuestionID]
		if !inWindow(h.ContestDate, start, end) {
			continue
		}
		if !ok {
			skipped = append(skipped, fmt.Sprintf("problem %s has no generations", h.QuestionID))
			continue
		}
		out = append(out, &lcbProblem{header: h, line: lines[h.QuestionID], codes: g.CodeList, outputs: g.OutputList, verdicts: make([]verdict, len(g.CodeList))})
	}
	for id := range byID {
		if !seen[id] {
			skipped = append(skipped, fmt.Sprintf("generations for %s match no problem", id))
		}
	}
	slices.Sort(skipped)
	slices.SortFunc(out, func(a, b *lcbProblem) int { return strings.Compare(a.header.QuestionID, b.header.QuestionID) })
	return out, skipped, nil
}

func readRows(path string, fn func(n int, line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open problems: %w", err)
	}
	defer f.Close()
	return lcb.ReadLines(f, fn)
}

// rowID reads only a row's question_id.
func rowID(line []byte) (string, bool) {
	var r struct {
		QuestionID json.RawMessage `json:"question_id"`
	}
	if json.Unmarshal(line, &r) != nil || len(r.QuestionID) == 0 {
		return "", false
	}
	var s string
	if json.Unmarshal(r.QuestionID, &s) == nil {
		return s, true
	}
	return strings.TrimSpace(string(r.QuestionID)), true
}

func encodeTests(tests []lcb.Test) (json.RawMessage, error) {
	out := make([]reward.TestCase, len(tests))
	for i, t := range tests {
		out[i] = reward.TestCase{Input: t.Input, Output: t.Output}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode tests: %w", err)
	}
	return b, nil
}

// deduper judges identical samples (same key) once and gives every copy the
// verdict; models often write the same program twice.
type deduper struct {
	mu      sync.Mutex
	waiting map[string][]sample
	dups    int
	sink    func(sample, verdict)
	prog    *Progress
}

func newDeduper(sink func(sample, verdict), prog *Progress) *deduper {
	return &deduper{waiting: map[string][]sample{}, sink: sink, prog: prog}
}

// first reports whether s is the first of its key in flight; a later copy waits
// for the first's verdict.
func (d *deduper) first(s sample) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if copies, ok := d.waiting[s.key]; ok {
		d.waiting[s.key] = append(copies, s)
		d.dups++
		return false
	}
	d.waiting[s.key] = nil
	return true
}

// record hands the verdict to s and to every copy that waited on it.
func (d *deduper) record(s sample, v verdict) {
	d.mu.Lock()
	copies := d.waiting[s.key]
	delete(d.waiting, s.key)
	d.mu.Unlock()
	d.sink(s, v)
	for _, c := range copies {
		d.sink(c, v)
	}
	// Copies cost no judging: they count as done without feeding the rate.
	d.prog.Cached(len(copies))
}

func (d *deduper) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dups
}

// lcbCode is lcb_runner's per-test result code for a verdict: true passes,
// -1 compilation error, -2 wrong answer, -3 time limit, -4 runtime error
// (memory and output limits are runtime errors there), -5 the test runner failed.
func lcbCode(v reward.Verdict) int {
	switch v {
	case reward.CompileError:
		return -1
	case reward.WrongAnswer, reward.PartiallyAccepted:
		return -2
	case reward.TimeLimitExceeded:
		return -3
	case reward.RuntimeError, reward.MemoryLimitExceeded, reward.OutputLimitExceeded:
		return -4
	}
	return -5
}

var lcbMessage = map[int]string{-1: "Compilation Error", -2: "Wrong Answer", -3: "Time Limit Exceeded", -4: "Runtime Error", -5: "TestRunnerError"}

// lcbResults turns a verdict into lcb_runner's per-test list (true for each
// test passed, then the failing test's code, where grading stops) and its
// metadata object.
func lcbResults(v verdict) ([]any, *orderedObject) {
	meta := &orderedObject{}
	if v.err != nil {
		meta.set("error", v.err.Error())
		meta.set("error_code", -5)
		meta.set("error_message", "TestRunnerError")
		return []any{-5}, meta
	}
	r := v.result
	var list []any
	execTime := 0.0
	for i, t := range r.Tests {
		if t.Verdict == reward.Accepted {
			list = append(list, true)
			execTime += t.TimeMS / 1000
			continue
		}
		code := lcbCode(t.Verdict)
		list = append(list, code)
		meta.set("error_code", code)
		meta.set("error_message", lcbMessage[code])
		meta.set("verdict", string(t.Verdict))
		meta.set("test_index", i)
		if r.CompileOutput != "" {
			meta.set("compile_output", r.CompileOutput)
		}
		return list, meta
	}
	if r.Verdict != reward.Accepted {
		code := lcbCode(r.Verdict)
		list = append(list, code)
		meta.set("error_code", code)
		meta.set("error_message", lcbMessage[code])
		meta.set("verdict", string(r.Verdict))
		if r.CompileOutput != "" {
			meta.set("compile_output", r.CompileOutput)
		}
		return list, meta
	}
	if list == nil {
		list = []any{}
	}
	meta.set("execution time", execTime)
	return list, meta
}

func verdictName(v verdict) string {
	if v.err != nil {
		return "ERROR"
	}
	return string(v.result.Verdict)
}

func slowestTest(r JudgeResult) float64 {
	m := 0.0
	for _, t := range r.Tests {
		m = max(m, t.TimeMS)
	}
	return m
}

// writeLCB writes lcb_runner's three files and fills the summary's metrics.
func writeLCB(cfg LCBConfig, problems []*lcbProblem, sum *Summary) error {
	outName, evalName, evalAllName := lcbOutputNames(cfg.Generations)
	var saveResults, evalAll []any
	results := &orderedObject{}
	var metadata [][]string
	var ns, cs []int
	var diffs, plats []string
	var pass1 []float64
	idx := 0
	for _, p := range problems {
		h := p.header
		if p.failed != nil {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: p.line, QuestionID: h.QuestionID, Err: p.failed.Error()})
			continue
		}
		outputs := p.outputs
		if outputs == nil {
			outputs = p.codes
		}
		base := func() *orderedObject {
			o := &orderedObject{}
			o.set("question_title", h.QuestionTitle)
			o.set("question_content", h.QuestionContent)
			o.set("platform", h.Platform)
			o.set("question_id", h.QuestionID)
			o.set("contest_id", h.ContestID)
			o.set("contest_date", h.ContestDateRaw)
			o.set("starter_code", h.StarterCode)
			o.set("difficulty", h.Difficulty)
			o.set("output_list", outputs)
			o.set("code_list", p.codes)
			return o
		}
		saveResults = append(saveResults, base())
		graded := make([]bool, len(p.codes))
		var perSample [][]any
		var metas []string
		passed := 0
		rep := problemReport{ID: h.QuestionID, Difficulty: h.Difficulty, Platform: h.Platform, Samples: len(p.codes)}
		for i, v := range p.verdicts {
			graded[i] = v.err == nil && v.result.Verdict == reward.Accepted
			if graded[i] {
				passed++
			}
			list, meta := lcbResults(v)
			perSample = append(perSample, list)
			mb, err := json.Marshal(meta)
			if err != nil {
				return fmt.Errorf("encode metadata: %w", err)
			}
			metas = append(metas, string(mb))
			name := verdictName(v)
			sum.Verdicts[name]++
			rep.Verdicts = append(rep.Verdicts, name)
			if v.err != nil || v.result.Verdict == reward.SystemError {
				sum.Errors++
			} else {
				sum.runtimes = append(sum.runtimes, slowestTest(v.result))
			}
			if v.cached {
				sum.Cached++
			} else {
				sum.Judged++
			}
		}
		rep.Passed = passed
		sum.problemRows = append(sum.problemRows, rep)
		p1 := 0.0
		if len(graded) > 0 {
			p1 = float64(passed) / float64(len(graded))
		}
		all := base()
		all.set("graded_list", graded)
		all.set("pass@1", p1)
		all.set("metadata", metas)
		evalAll = append(evalAll, all)
		results.set(strconv.Itoa(idx), perSample)
		metadata = append(metadata, metas)
		ns = append(ns, len(graded))
		cs = append(cs, passed)
		diffs = append(diffs, h.Difficulty)
		plats = append(plats, h.Platform)
		pass1 = append(pass1, p1)
		idx++
	}
	sum.Problems = len(ns)
	for _, n := range ns {
		sum.Samples += n
	}
	sum.PassAtK = passAtK(ns, cs, cfg.K)
	sum.ByDifficulty = groupPassAt1(diffs, pass1)
	sum.ByPlatform = groupPassAt1(plats, pass1)

	metrics := &orderedObject{}
	detail := &orderedObject{}
	for _, m := range sum.PassAtK {
		name := "pass@" + strconv.Itoa(m.K)
		metrics.set(name, m.Value)
		per := &orderedObject{}
		for i := range ns {
			per.set(strconv.Itoa(i), PassAtK(ns[i], cs[i], m.K))
		}
		detail.set(name, per)
	}
	metrics.set("detail", detail)
	if saveResults == nil {
		saveResults = []any{}
		evalAll = []any{}
	}
	if metadata == nil {
		metadata = [][]string{}
	}
	if err := writeJSON(cfg.Out, outName, saveResults); err != nil {
		return err
	}
	if err := writeJSON(cfg.Out, evalName, []any{metrics, results, metadata}); err != nil {
		return err
	}
	if err := writeJSON(cfg.Out, evalAllName, evalAll); err != nil {
		return err
	}
	sum.Files = append(sum.Files, outName, evalName, evalAllName)
	return nil
}

func writeSummary(dir string, sum *Summary) error {
	slices.SortStableFunc(sum.RowErrors, func(a, b lcb.RowError) int { return a.Line - b.Line })
	sum.Files = append(sum.Files, "summary.json", ReportFile, CacheFile)
	if err := writeFile(filepath.Join(dir, ReportFile), RenderReport(sum)); err != nil {
		return err
	}
	return writeJSON(dir, "summary.json", sum)
}
