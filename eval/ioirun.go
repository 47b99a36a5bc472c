package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/ioi"
	"github.com/rewardmesh/rewardmesh/eval/lcb"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// IOIConfig is one IOI evaluation over open-r1's data.
type IOIConfig struct {
	Problems    string // open-r1/ioi rows, JSON lines: one per subtask
	Tests       string // open-r1/ioi-test-cases rows, JSON lines
	Generations string // open-r1/ioi-2024-model-solutions rows, JSON lines
	Out         string // output folder

	Submissions int     // submissions chosen per task, IOI's 50 by default
	MaxMemoryMB int     // when > 0, task memory limits above it are lowered to it (and say so)
	Medals      []Medal // cut-offs to place each year's total against, highest first
	Batch       int     // samples per judge call; default 4 (an IOI sample carries every test)
	Parallel    int     // judge calls in flight; default 4
}

// Medal is a cut-off: a year's total at or above Score earns Name.
type Medal struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// IOIFile holds the per-task results of an IOI run.
const IOIFile = "ioi_eval.json"

// VerdictNoCode marks a generation with no ```cpp block: a submission that
// earns nothing, never sent to the judge, as open-r1 scores it.
const VerdictNoCode = "NO_CODE"

// IOIYear is a year's tally in summary.json.
type IOIYear struct {
	Year      int     `json:"year"`
	Tasks     int     `json:"tasks"`
	Score     float64 `json:"score"`      // Σ task scores, chosen submissions
	BestScore float64 `json:"best_score"` // Σ task scores, every submission
	MaxScore  float64 `json:"max_score"`
	Medal     string  `json:"medal,omitempty"` // of Score, when cut-offs were given
	Skipped   int     `json:"skipped,omitempty"`
}

type ioiTask struct {
	task     *ioi.Task
	line     int
	gens     []*ioi.Generation
	verdicts []verdict
	skipped  string // why the task is not judged
	failed   error  // its tests could not be read
	memory   int    // the memory limit sent, MiB
}

type ioiSubmissionResult struct {
	UUID           string             `json:"uuid,omitempty"`
	SolutionNumber int                `json:"solution_number"`
	Target         string             `json:"target_subtask"`
	Verdict        string             `json:"verdict"`
	Score          float64            `json:"score"`
	Subtasks       []ioiSubtaskEarned `json:"subtasks"`
	CompileOutput  string             `json:"compile_output,omitempty"`
	Error          string             `json:"error,omitempty"`
}

type ioiSubtaskEarned struct {
	Name    string  `json:"name"`
	Score   float64 `json:"score"`
	Verdict string  `json:"verdict"`
}

type ioiSubtaskScore struct {
	Name      string  `json:"name"`
	Points    float64 `json:"points"`
	Score     float64 `json:"score"`      // best among the chosen submissions
	BestScore float64 `json:"best_score"` // best among all
}

type ioiTaskResult struct {
	Year          int                   `json:"year"`
	ID            string                `json:"id"`
	Name          string                `json:"name,omitempty"`
	Day           string                `json:"day,omitempty"`
	TaskType      string                `json:"task_type,omitempty"`
	TimeLimitMS   int                   `json:"time_limit_ms"`
	MemoryLimitMB int                   `json:"memory_limit_mb"`
	MemoryLowered bool                  `json:"memory_limit_lowered,omitempty"`
	MaxScore      float64               `json:"max_score"`
	Score         float64               `json:"score"`
	BestScore     float64               `json:"best_score"`
	Subtasks      []ioiSubtaskScore     `json:"subtasks"`
	Chosen        []int                 `json:"chosen"` // indices into submissions, in the order submitted
	Submissions   []ioiSubmissionResult `json:"submissions"`
	Skipped       string                `json:"skipped,omitempty"`
	Incomplete    bool                  `json:"incomplete,omitempty"` // some submissions could not be graded: no score is claimed
}

// RunIOI judges open-r1's IOI generations: every generation with code against
// every test of its task, the grader compiled with it, and scores each task
// IOI's way, per subtask the best score among the submissions, both over the
// submissions open-r1's round robin chooses under the limit and over all of
// them. It writes ioi_eval.json, summary.json and report.html to DIR. Tasks
// the sandbox cannot judge (Communication, OutputOnly, a checker whose headers
// the task does not ship) are skipped with the reason, never scored.
func RunIOI(ctx context.Context, cfg IOIConfig, judge Judge, progress io.Writer) (*Summary, error) {
	started := time.Now()
	cfg.Submissions = cmpPositive(cfg.Submissions, ioi.DefaultSubmissions)
	cfg.Batch = cmpPositive(cfg.Batch, 4)
	cfg.Parallel = cmpPositive(cfg.Parallel, 4)
	sum := &Summary{Benchmark: "ioi", Verdicts: map[string]int{}}

	var tasks []*ioiTask
	byKey := map[string]*ioiTask{}
	err := readRows(cfg.Problems, func(n int, line []byte) error {
		r, err := ioi.ParseRow(line)
		if err != nil {
			re := lcb.RowError{Line: n, Err: err.Error()}
			if r != nil {
				re.QuestionID = ioi.Key(r.Year, r.ID)
			}
			sum.RowErrors = append(sum.RowErrors, re)
			return nil
		}
		key := ioi.Key(r.Year, r.ID)
		if t, ok := byKey[key]; ok {
			if err := t.task.Add(r); err != nil {
				sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: n, QuestionID: key, Err: err.Error()})
			}
			return nil
		}
		task, err := ioi.NewTask(r)
		if err != nil {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: n, QuestionID: key, Err: err.Error()})
			return nil
		}
		t := &ioiTask{task: task, line: n}
		byKey[key] = t
		tasks = append(tasks, t)
		return nil
	})
	if err != nil {
		return nil, err
	}

	if err := readIOIGenerations(cfg.Generations, tasks, byKey, sum); err != nil {
		return nil, err
	}

	testsFile, err := os.Open(cfg.Tests)
	if err != nil {
		return nil, fmt.Errorf("open tests: %w", err)
	}
	defer testsFile.Close()
	index, err := ioi.IndexTests(testsFile, testsFile)
	if err != nil {
		return nil, fmt.Errorf("tests %s: %w", cfg.Tests, err)
	}
	for line, e := range index.Errors {
		sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: line, Err: "tests: " + e})
	}

	// Decide what is judged before anything is: a task's tests must all be
	// there, and its type and files something the sandbox runs.
	var judged []*ioiTask
	judging := map[*ioiTask]ioi.Judging{}
	total := 0
	for _, t := range tasks {
		key := t.task.Key()
		if len(t.gens) == 0 {
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("task %s has no generations", key))
			continue
		}
		if why := t.task.Unsupported(); why != "" {
			t.skipped = why
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("task %s: %s (%d generations not judged)", key, why, len(t.gens)))
			continue
		}
		j, err := t.task.Judging()
		if err != nil {
			t.skipped = err.Error()
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("task %s: %s (%d generations not judged)", key, err, len(t.gens)))
			continue
		}
		if missing := index.Missing(key, t.task.TestNames); len(missing) > 0 {
			t.failed = fmt.Errorf("the tests file lacks %d of its tests (%s)", len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))
			continue
		}
		t.memory = t.task.MemoryLimitMB
		if cfg.MaxMemoryMB > 0 && t.memory > cfg.MaxMemoryMB {
			t.memory = cfg.MaxMemoryMB
		}
		judging[t] = j
		judged = append(judged, t)
		t.verdicts = make([]verdict, len(t.gens))
		for _, g := range t.gens {
			if g.Source() != "" {
				total++
			}
		}
	}
	slices.Sort(sum.Skipped)

	return runJudged(ctx, judgeRun{
		label: "ioi", out: cfg.Out, total: total, batch: cfg.Batch, parallel: cfg.Parallel,
		set: func(i, j int, v verdict) { judged[i].verdicts[j] = v },
		produce: func(q *sampleQueue) error {
			for i, t := range judged {
				item, err := ioiItem(t, judging[t], index)
				if err != nil {
					t.failed = err
					q.unjudged(countCode(t.gens))
					continue
				}
				for j, g := range t.gens {
					code := g.Source()
					if code == "" {
						continue
					}
					it := item
					it.Source = ioi.AddIncludes(code, t.task.ID)
					if err := q.add(i, j, it); err != nil {
						return err
					}
				}
			}
			return nil
		},
		write: func(sum *Summary) error { return writeIOI(cfg, tasks, sum) },
	}, judge, progress, sum, started)
}

func countCode(gens []*ioi.Generation) int {
	n := 0
	for _, g := range gens {
		if g.Source() != "" {
			n++
		}
	}
	return n
}

// ioiItem is the judge item every submission of a task shares, but for its
// source: the task's tests in one list, its subtasks as indices into it, the
// grader beside the program, and the checker or a token comparison (CMS's
// white-diff).
func ioiItem(t *ioiTask, j ioi.Judging, index *ioi.TestIndex) (JudgeItem, error) {
	rows, err := index.Load(t.task.Key(), t.task.TestNames)
	if err != nil {
		return JudgeItem{}, err
	}
	cases := make([]reward.TestCase, len(rows))
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		cases[i] = reward.TestCase{Input: r.Input, Output: r.Output}
		at[t.task.TestNames[i]] = i
	}
	tests, err := json.Marshal(cases)
	if err != nil {
		return JudgeItem{}, fmt.Errorf("encode tests of %s: %w", t.task.Key(), err)
	}
	item := JudgeItem{
		Language: "cpp", Tests: tests, Mode: "stdin",
		TimeLimitMS: t.task.TimeLimitMS, MemoryLimitMB: t.memory, Files: j.Files,
	}
	for _, st := range t.task.Subtasks {
		s := Subtask{Name: st.Name, Points: st.Points}
		for _, name := range st.Tests {
			s.Tests = append(s.Tests, at[name])
		}
		item.Subtasks = append(item.Subtasks, s)
	}
	if j.Checker != "" {
		item.Checker = &Checker{Language: "cpp", Source: j.Checker}
	} else {
		item.Compare = "tokens"
	}
	return item, nil
}

// readIOIGenerations reads the generations (JSON lines, or one JSON list) and
// hands each to its task. A row that names no year matches the one task of
// its id.
func readIOIGenerations(path string, tasks []*ioiTask, byKey map[string]*ioiTask, sum *Summary) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read generations: %w", err)
	}
	byID := map[string][]*ioiTask{}
	for _, t := range tasks {
		byID[t.task.ID] = append(byID[t.task.ID], t)
	}
	unmatched := map[string]int{}
	take := func(n int, line []byte) {
		g, err := ioi.ParseGeneration(line)
		if err != nil {
			re := lcb.RowError{Line: n, Err: "generations: " + err.Error()}
			if g != nil {
				re.QuestionID = ioi.Key(g.Year, g.ProblemID)
			}
			sum.RowErrors = append(sum.RowErrors, re)
			return
		}
		t, ok := byKey[ioi.Key(g.Year, g.ProblemID)]
		if !ok && g.Year == 0 && len(byID[g.ProblemID]) == 1 {
			t, ok = byID[g.ProblemID][0], true
		}
		if !ok {
			unmatched[ioi.Key(g.Year, g.ProblemID)]++
			return
		}
		t.gens = append(t.gens, g)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		var rows []json.RawMessage
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return fmt.Errorf("generations %s: %w", path, err)
		}
		for i, r := range rows {
			take(i+1, r)
		}
	} else if err := lcb.ReadLines(bytes.NewReader(data), func(n int, line []byte) error { take(n, line); return nil }); err != nil {
		return fmt.Errorf("generations %s: %w", path, err)
	}
	for key, n := range unmatched {
		sum.Skipped = append(sum.Skipped, fmt.Sprintf("%d generations for %s match no task", n, key))
	}
	return nil
}

// ioiSubmission reads a verdict as IOI scores it: per subtask the lowest test
// score (0 for all when the program did not compile). ok is false when the
// judge answered no grade (an error, SE, or fewer test results than tests).
func ioiSubmission(task *ioi.Task, item []Subtask, v verdict) (raw []float64, verdicts []string, ok bool, why string) {
	if v.err != nil {
		return nil, nil, false, v.err.Error()
	}
	r := v.result
	raw = make([]float64, len(task.Subtasks))
	verdicts = make([]string, len(task.Subtasks))
	if r.Verdict == reward.SystemError {
		return nil, nil, false, "the sandbox failed (SE)"
	}
	if r.Verdict == reward.CompileError {
		for k := range verdicts {
			verdicts[k] = string(reward.CompileError)
		}
		return raw, verdicts, true, ""
	}
	for k, st := range item {
		low := 1.0
		verdicts[k] = string(reward.Accepted)
		for _, i := range st.Tests {
			if i >= len(r.Tests) {
				return nil, nil, false, fmt.Sprintf("the judge answered %d test results for %d tests", len(r.Tests), r.Total)
			}
			tr := r.Tests[i]
			s := 0.0
			switch {
			case tr.Score != nil:
				s = *tr.Score
			case tr.Verdict == reward.Accepted:
				s = 1
			}
			low = min(low, s)
			if verdicts[k] == string(reward.Accepted) && tr.Verdict != reward.Accepted {
				verdicts[k] = string(tr.Verdict)
			}
		}
		raw[k] = low
	}
	return raw, verdicts, true, ""
}

func writeIOI(cfg IOIConfig, tasks []*ioiTask, sum *Summary) error {
	years := map[int]*IOIYear{}
	var order []int
	year := func(y int) *IOIYear {
		if _, ok := years[y]; !ok {
			years[y] = &IOIYear{Year: y}
			order = append(order, y)
		}
		return years[y]
	}
	out := []ioiTaskResult{}
	for _, t := range tasks {
		task := t.task
		if len(t.gens) == 0 {
			continue
		}
		if t.failed != nil {
			sum.RowErrors = append(sum.RowErrors, lcb.RowError{Line: t.line, QuestionID: task.Key(), Err: t.failed.Error()})
			continue
		}
		res := ioiTaskResult{Year: task.Year, ID: task.ID, Name: task.Name, Day: task.Day, TaskType: task.TaskType,
			TimeLimitMS: task.TimeLimitMS, MemoryLimitMB: task.MemoryLimitMB, MaxScore: task.MaxScore(), Chosen: []int{}}
		y := year(task.Year)
		if t.skipped != "" {
			res.Skipped = t.skipped
			y.Skipped++
			out = append(out, res)
			continue
		}
		if t.memory != task.MemoryLimitMB {
			res.MemoryLimitMB, res.MemoryLowered = t.memory, true
		}
		// Every submission shares the item's subtasks; rebuild their indices.
		at := make(map[string]int, len(task.TestNames))
		for i, n := range task.TestNames {
			at[n] = i
		}
		var item []Subtask
		for _, st := range task.Subtasks {
			s := Subtask{Name: st.Name, Points: st.Points}
			for _, n := range st.Tests {
				s.Tests = append(s.Tests, at[n])
			}
			item = append(item, s)
		}
		rep := problemReport{ID: task.Key(), Platform: task.Day, Samples: len(t.gens)}
		var subs []ioi.Submission
		var where []int // index in res.Submissions of each scored submission
		for j, g := range t.gens {
			sr := ioiSubmissionResult{UUID: g.UUID, SolutionNumber: g.SolutionNumber, Target: g.Target()}
			v := t.verdicts[j]
			var raw []float64
			var verdicts []string
			ok := true
			if g.Source() == "" {
				sr.Verdict = VerdictNoCode
				raw = make([]float64, len(task.Subtasks))
				verdicts = slices.Repeat([]string{VerdictNoCode}, len(task.Subtasks))
			} else {
				var why string
				raw, verdicts, ok, why = ioiSubmission(task, item, v)
				sr.Verdict = verdictName(v)
				sr.CompileOutput = v.result.CompileOutput
				if v.cached {
					sum.Cached++
				} else {
					sum.Judged++
				}
				if !ok {
					sr.Error = why
					res.Incomplete = true
					sum.Errors++
				} else {
					sum.runtimes = append(sum.runtimes, slowestTest(v.result))
				}
			}
			sum.Verdicts[sr.Verdict]++
			rep.Verdicts = append(rep.Verdicts, sr.Verdict)
			if ok {
				for k, st := range task.Subtasks {
					w := task.Weighted(k, raw[k])
					sr.Score += w
					sr.Subtasks = append(sr.Subtasks, ioiSubtaskEarned{Name: st.Name, Score: w, Verdict: verdicts[k]})
				}
				if sr.Score >= res.MaxScore && res.MaxScore > 0 {
					rep.Passed++
				}
				subs = append(subs, ioi.Submission{Target: g.Target(), Length: g.Length(), CompileError: sr.Verdict == string(reward.CompileError), Raw: raw})
				where = append(where, len(res.Submissions))
			}
			res.Submissions = append(res.Submissions, sr)
		}
		chosen := task.RoundRobin(subs, cfg.Submissions)
		contest, score := task.Best(subs, chosen)
		best, bestScore := task.Best(subs, ioi.All(subs))
		for _, i := range chosen {
			res.Chosen = append(res.Chosen, where[i])
		}
		for k, st := range task.Subtasks {
			res.Subtasks = append(res.Subtasks, ioiSubtaskScore{Name: st.Name, Points: st.Points, Score: contest[k], BestScore: best[k]})
		}
		res.Score, res.BestScore = score, bestScore
		rep.Difficulty = fmt.Sprintf("%g / %g", score, res.MaxScore)
		if res.Incomplete {
			rep.Difficulty = "incomplete"
		}
		sum.problemRows = append(sum.problemRows, rep)
		sum.Problems++
		sum.Samples += len(t.gens)
		y.Tasks++
		y.MaxScore += res.MaxScore
		if !res.Incomplete {
			y.Score += score
			y.BestScore += bestScore
		}
		out = append(out, res)
	}
	slices.Sort(order)
	for _, yr := range order {
		y := years[yr]
		for _, m := range cfg.Medals {
			if y.Score >= m.Score {
				y.Medal = m.Name
				break
			}
		}
		sum.IOI = append(sum.IOI, *y)
	}
	if err := writeJSON(cfg.Out, IOIFile, out); err != nil {
		return err
	}
	sum.Files = append(sum.Files, IOIFile)
	return nil
}
