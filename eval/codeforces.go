package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/cf"
	"github.com/rewardmesh/rewardmesh/eval/lcb"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// CodeforcesConfig is one Codeforces-style evaluation.
type CodeforcesConfig struct {
	Problems    string // problems, JSON lines (see README: ours or CodeContests' shape)
	Generations string // [{"id","language"?,"code_list"|"output_list"}]
	Out         string // output folder
	Language    string // for generations that name none; default python
	K           []int  // pass@k to report; default 1, 5, 10
	Batch       int    // samples per judge call; default 8
	Parallel    int    // judge calls in flight; default 4
}

// CodeforcesFile holds the per-problem verdicts of a Codeforces run.
const CodeforcesFile = "codeforces_eval.json"

// cfProblem is a selected problem and what became of its samples.
type cfProblem struct {
	p        *cf.Problem
	line     int
	gen      *cf.Generation
	verdicts []verdict
	failed   error
}

// cfProblemResult is one problem in codeforces_eval.json.
type cfProblemResult struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Contest     string   `json:"contest"`
	Index       string   `json:"index,omitempty"`
	Points      float64  `json:"points"`
	Rating      int      `json:"rating,omitempty"`
	Verdicts    []string `json:"verdicts"`
	TestsPassed []int    `json:"tests_passed"`
	Tests       int      `json:"tests"`
	GradedList  []bool   `json:"graded_list"`
	PassAt1     float64  `json:"pass@1"`
	Solved      bool     `json:"solved"`
	Errors      []string `json:"errors,omitempty"`
}

// RunCodeforces judges Codeforces-style generations: each sample against all of
// its problem's tests under the problem's limits, outputs compared by
// whitespace-separated tokens (Codeforces' default checker) unless the problem
// brings a checker or names another comparison. It writes codeforces_eval.json,
// summary.json and report.html to DIR.
func RunCodeforces(ctx context.Context, cfg CodeforcesConfig, judge Judge, progress io.Writer) (*Summary, error) {
	started := time.Now()
	if cfg.Language == "" {
		cfg.Language = "python"
	}
	if len(cfg.K) == 0 {
		cfg.K = []int{1, 5, 10}
	}
	cfg.Batch = cmpPositive(cfg.Batch, 8)
	cfg.Parallel = cmpPositive(cfg.Parallel, 4)
	genData, err := os.ReadFile(cfg.Generations)
	if err != nil {
		return nil, fmt.Errorf("read generations: %w", err)
	}
	gens, genErrs, err := cf.ParseGenerations(genData, cfg.Language)
	if err != nil {
		return nil, fmt.Errorf("generations %s: %w", cfg.Generations, err)
	}
	sum := &Summary{Benchmark: "codeforces", Verdicts: map[string]int{}}
	for _, e := range genErrs {
		e.Err = "generations: " + e.Err
		sum.RowErrors = append(sum.RowErrors, e)
	}
	var problems []*cfProblem
	index := map[string]int{}
	err = readRows(cfg.Problems, func(n int, line []byte) error {
		p, err := cf.ParseProblem(line, false)
		if err != nil {
			re := lcb.RowError{Line: n, Err: err.Error()}
			if p != nil {
				re.QuestionID = p.ID
			}
			sum.RowErrors = append(sum.RowErrors, re)
			return nil
		}
		if _, dup := index[p.ID]; dup {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: n, QuestionID: p.ID, Err: "id appears twice; the first row is kept"})
			return nil
		}
		g, ok := gens[p.ID]
		index[p.ID] = -1
		if !ok {
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("problem %s has no generations", p.ID))
			return nil
		}
		index[p.ID] = len(problems)
		problems = append(problems, &cfProblem{p: p, line: n, gen: g, verdicts: make([]verdict, len(g.Codes))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id := range gens {
		if _, ok := index[id]; !ok {
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("generations for %s match no problem", id))
		}
	}
	slices.Sort(sum.Skipped)
	total := 0
	for _, p := range problems {
		total += len(p.gen.Codes)
	}
	return runJudged(ctx, judgeRun{
		label: "codeforces", out: cfg.Out, total: total, batch: cfg.Batch, parallel: cfg.Parallel,
		set: func(i, j int, v verdict) { problems[i].verdicts[j] = v },
		produce: func(q *sampleQueue) error {
			return readRows(cfg.Problems, func(n int, line []byte) error {
				head, err := cf.ParseProblem(line, false)
				if err != nil {
					return nil
				}
				i, ok := index[head.ID]
				if !ok || i < 0 || problems[i].line != n {
					return nil
				}
				cp := problems[i]
				full, err := cf.ParseProblem(line, true)
				if err != nil {
					cp.failed = err
					q.unjudged(len(cp.gen.Codes))
					return nil
				}
				tests, err := json.Marshal(full.Tests)
				if err != nil {
					return fmt.Errorf("encode tests of %s: %w", full.ID, err)
				}
				for j, code := range cp.gen.Codes {
					item := JudgeItem{
						Language: cp.gen.Language, Source: code, Tests: tests, Mode: "stdin",
						TimeLimitMS: full.TimeLimitMS, MemoryLimitMB: full.MemoryLimitMB, StopOnFail: true,
					}
					if full.Checker != nil {
						item.Checker = &Checker{Language: full.Checker.Language, Source: full.Checker.Source}
					} else {
						item.Compare = cmpOrString(full.Compare, "tokens")
					}
					if err := q.add(i, j, item); err != nil {
						return err
					}
				}
				return nil
			})
		},
		write: func(sum *Summary) error { return writeCodeforces(cfg, problems, sum) },
	}, judge, progress, sum, started)
}

func cmpPositive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func writeCodeforces(cfg CodeforcesConfig, problems []*cfProblem, sum *Summary) error {
	slices.SortFunc(problems, func(a, b *cfProblem) int { return cf.SortKey(a.p, b.p) })
	var out []cfProblemResult
	var ns, cs []int
	var pass1 []float64
	var sources, ratings []string
	tally := map[string]*ContestScore{}
	var order []string
	for _, cp := range problems {
		p := cp.p
		if cp.failed != nil {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: cp.line, QuestionID: p.ID, Err: cp.failed.Error()})
			continue
		}
		res := cfProblemResult{ID: p.ID, Name: p.Name, Contest: p.Contest, Index: p.Index, Points: p.Points, Rating: p.Rating}
		rep := problemReport{ID: p.ID, Difficulty: ratingName(p.Rating), Platform: p.Source + " " + p.Contest, Samples: len(cp.verdicts)}
		passed := 0
		for _, v := range cp.verdicts {
			name := verdictName(v)
			ok := v.err == nil && v.result.Verdict == reward.Accepted
			res.Verdicts = append(res.Verdicts, name)
			res.GradedList = append(res.GradedList, ok)
			res.TestsPassed = append(res.TestsPassed, v.result.Passed)
			res.Tests = max(res.Tests, v.result.Total)
			if v.err != nil || v.result.Verdict == reward.SystemError {
				if v.err != nil {
					res.Errors = append(res.Errors, v.err.Error())
				}
				sum.Errors++
			} else {
				sum.runtimes = append(sum.runtimes, slowestTest(v.result))
			}
			if ok {
				passed++
			}
			if v.cached {
				sum.Cached++
			} else {
				sum.Judged++
			}
			sum.Verdicts[name]++
			rep.Verdicts = append(rep.Verdicts, name)
		}
		rep.Passed = passed
		res.PassAt1 = float64(passed) / float64(max(len(cp.verdicts), 1))
		res.Solved = passed > 0
		out = append(out, res)
		sum.problemRows = append(sum.problemRows, rep)
		ns = append(ns, len(cp.verdicts))
		cs = append(cs, passed)
		pass1 = append(pass1, res.PassAt1)
		sources = append(sources, p.Source)
		ratings = append(ratings, ratingName(p.Rating))

		t, ok := tally[p.Contest]
		if !ok {
			t = &ContestScore{Contest: p.Contest}
			tally[p.Contest] = t
			order = append(order, p.Contest)
		}
		t.Problems++
		t.Expected += res.PassAt1
		if res.Solved {
			t.Solved++
			if p.Points > 0 {
				t.Points += p.Points
			} else {
				t.Points++
			}
		}
	}
	for _, c := range order {
		sum.Contests = append(sum.Contests, *tally[c])
	}
	sum.Problems = len(ns)
	for _, n := range ns {
		sum.Samples += n
	}
	sum.PassAtK = passAtK(ns, cs, cfg.K)
	sum.ByDifficulty = groupPassAt1(ratings, pass1)
	sum.ByPlatform = groupPassAt1(sources, pass1)
	if out == nil {
		out = []cfProblemResult{}
	}
	if err := writeJSON(cfg.Out, CodeforcesFile, out); err != nil {
		return err
	}
	sum.Files = append(sum.Files, CodeforcesFile)
	return nil
}

// ratingName buckets a Codeforces rating the way the report groups difficulty.
func ratingName(r int) string {
	switch {
	case r <= 0:
		return "unrated"
	case r < 1200:
		return "<1200"
	case r < 1600:
		return "1200-1599"
	case r < 2000:
		return "1600-1999"
	case r < 2400:
		return "2000-2399"
	}
	return "2400+"
}
