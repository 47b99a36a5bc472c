package eval

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Main runs `rewardmesh eval lcb|codeforces [flags]`; args start at the
// benchmark's name. newJudge returns the judge for --server (empty: the caller
// runs the mesh in-process) and a function that releases it. Progress goes to
// stderr (a bar when it is a terminal), the summary to stdout.
func Main(ctx context.Context, args []string, newJudge func(server string) (Judge, func(), error), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("eval: name a benchmark: lcb, codeforces or ioi")
	}
	bench, args := args[0], args[1:]
	fs := flag.NewFlagSet("eval "+bench, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the help is printed below, the error returned
	problems := fs.String("problems", "", "problem rows, JSON lines (required)")
	generations := fs.String("generations", "", "generations file (required)")
	out := fs.String("out", "", "output folder: eval files, verdict cache, report (required)")
	server := fs.String("server", "", "gateway base URL; empty runs the mesh in-process")
	kList := new(string)
	if bench != "ioi" {
		kList = fs.String("k", "1,5,10", "pass@k values to report, comma-separated")
	}
	batchSize := 8
	if bench == "ioi" {
		batchSize = 4 // an IOI sample carries every test of its task
	}
	batch := fs.Int("batch", batchSize, "samples per judge call")
	parallel := fs.Int("parallel", 4, "judge calls in flight")
	quiet := fs.Bool("quiet", false, "no progress output")
	var startDate, endDate *string
	var timeout *time.Duration
	var language, tests, medals *string
	var submissions, maxMemory *int
	switch bench {
	case "lcb":
		startDate = fs.String("start-date", "", "keep problems with contest_date on or after this day (YYYY-MM-DD)")
		endDate = fs.String("end-date", "", "keep problems with contest_date on or before this day (YYYY-MM-DD)")
		timeout = fs.Duration("timeout", 6*time.Second, "time limit per test (lcb_runner's default is 6s)")
	case "codeforces":
		language = fs.String("language", "python", "language of generations that name none: any the sandbox runs (python, pypy3, cpp, cpp20, c, java, kotlin, go, javascript, typescript, rust, ruby, bash, or an alias)")
	case "ioi":
		tests = fs.String("tests", "", "open-r1/ioi-test-cases rows, JSON lines (required)")
		submissions = fs.Int("submissions", 50, "submissions chosen per task (IOI's limit), by open-r1's round robin")
		maxMemory = fs.Int("max-memory-mb", 0, "lower task memory limits above this to it (0: send them as they are)")
		medals = fs.String("medals", "", "medal cut-offs for each year's total, NAME=SCORE,... from that year's official results (none by default)")
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("eval: unknown benchmark %q: want lcb, codeforces or ioi", bench)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, bench, fs)
			return nil
		}
		printHelp(stderr, bench, fs)
		return fmt.Errorf("eval %s: %w", bench, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval %s: unexpected argument %q", bench, fs.Arg(0))
	}
	var missing []string
	required := map[string]string{"problems": *problems, "generations": *generations, "out": *out}
	if tests != nil {
		required["tests"] = *tests
	}
	for name, v := range required {
		if v == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("eval %s: missing %s", bench, strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	var ks []int
	var cutoffs []Medal
	var err error
	if bench == "ioi" {
		if cutoffs, err = parseMedals(*medals); err != nil {
			return fmt.Errorf("eval %s: --medals: %w", bench, err)
		}
	} else if ks, err = parseKs(*kList); err != nil {
		return fmt.Errorf("eval %s: --k: %w", bench, err)
	}
	judge, release, err := newJudge(*server)
	if err != nil {
		return fmt.Errorf("eval %s: start judge: %w", bench, err)
	}
	if release != nil {
		defer release()
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	var sum *Summary
	switch bench {
	case "lcb":
		sum, err = RunLCB(ctx, LCBConfig{
			Problems: *problems, Generations: *generations, Out: *out,
			StartDate: *startDate, EndDate: *endDate, K: ks, TimeLimit: *timeout,
			Batch: *batch, Parallel: *parallel,
		}, judge, progress)
	case "codeforces":
		sum, err = RunCodeforces(ctx, CodeforcesConfig{
			Problems: *problems, Generations: *generations, Out: *out,
			Language: *language, K: ks, Batch: *batch, Parallel: *parallel,
		}, judge, progress)
	case "ioi":
		sum, err = RunIOI(ctx, IOIConfig{
			Problems: *problems, Tests: *tests, Generations: *generations, Out: *out,
			Submissions: *submissions, MaxMemoryMB: *maxMemory, Medals: cutoffs,
			Batch: *batch, Parallel: *parallel,
		}, judge, progress)
	}
	if err != nil {
		return fmt.Errorf("eval %s: %w", bench, err)
	}
	PrintSummary(stdout, sum, *out)
	for _, re := range sum.RowErrors {
		fmt.Fprintf(stderr, "row %d %s: %s\n", re.Line, re.QuestionID, re.Err)
	}
	if sum.Errors > 0 {
		return fmt.Errorf("eval %s: %d samples could not be graded (see %s); rerun to retry them", bench, sum.Errors, ReportFile)
	}
	return nil
}

const usage = `usage: rewardmesh eval lcb|codeforces|ioi --problems P --generations G --out DIR [--server URL] [flags]
  lcb:        LiveCodeBench problem rows and generations; [--start-date D] [--end-date D] [--timeout 6s] [--k 1,5,10]
  codeforces: Codeforces/CodeContests problems with limits, tests and optional checkers; [--language python] [--k 1,5,10]
  ioi:        open-r1's IOI subtask rows, test cases and model solutions; --tests T [--submissions 50]
              [--max-memory-mb N] [--medals gold=G,silver=S,bronze=B]
  all:        [--batch 8 (ioi: 4)] [--parallel 4] [--quiet]; a rerun with the same --out resumes

` + examples

const examples = `examples:
  rewardmesh eval lcb --problems test6.jsonl --generations gens.json --out runs/lcb    # the mesh in this process
  rewardmesh eval lcb --problems test6.jsonl --generations gens.json --out runs/lcb --start-date 2024-08-01
  rewardmesh eval codeforces --problems cf.jsonl --generations gens.json --out runs/cf --server http://127.0.0.1:8080
  rewardmesh eval ioi --problems ioi.jsonl --tests ioi-test-cases.jsonl --generations solutions.jsonl --out runs/ioi
  rewardmesh eval lcb -h                                                               # one benchmark's flags
`

// printHelp writes `rewardmesh eval BENCH -h`: the command line, the flags and
// the examples.
func printHelp(w io.Writer, bench string, fs *flag.FlagSet) {
	tests := ""
	if bench == "ioi" {
		tests = " --tests T"
	}
	fmt.Fprintf(w, "usage: rewardmesh eval %s --problems P%s --generations G --out DIR [--server URL] [flags]\n\nflags:\n", bench, tests)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+examples)
}

func parseKs(s string) ([]int, error) {
	var ks []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := strconv.Atoi(f)
		if err != nil || k <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return nil, errors.New("no k given")
	}
	return ks, nil
}

// parseMedals reads "gold=G,silver=S,bronze=B" (numbers) into cut-offs, highest first.
func parseMedals(s string) ([]Medal, error) {
	var out []Medal
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, v, ok := strings.Cut(f, "=")
		score, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || score < 0 {
			return nil, fmt.Errorf("%q: want NAME=SCORE", f)
		}
		out = append(out, Medal{Name: strings.TrimSpace(name), Score: score})
	}
	slices.SortStableFunc(out, func(a, b Medal) int {
		if a.Score > b.Score {
			return -1
		}
		if a.Score < b.Score {
			return 1
		}
		return 0
	})
	return out, nil
}

// PrintSummary writes the headline numbers of a run.
func PrintSummary(w io.Writer, sum *Summary, dir string) {
	fmt.Fprintf(w, "%s: %d problems, %d samples (%d judged, %d cached, %d judge calls) in %.1fs\n",
		sum.Benchmark, sum.Problems, sum.Samples, sum.Judged, sum.Cached, sum.JudgeCalls, time.Duration(sum.Elapsed).Seconds())
	for _, m := range sum.PassAtK {
		fmt.Fprintf(w, "  pass@%d = %.4f\n", m.K, m.Value)
	}
	for _, g := range sum.ByDifficulty {
		fmt.Fprintf(w, "  %-12s pass@1 = %.4f (%d problems)\n", g.Name, g.PassAt1, g.Problems)
	}
	if sum.Benchmark == "lcb" {
		for _, g := range sum.ByPlatform {
			fmt.Fprintf(w, "  %-12s pass@1 = %.4f (%d problems)\n", g.Name, g.PassAt1, g.Problems)
		}
	}
	for _, c := range sum.Contests {
		fmt.Fprintf(w, "  contest %-10s solved %d/%d, points %g\n", c.Contest, c.Solved, c.Problems, c.Points)
	}
	for _, y := range sum.IOI {
		medal := ""
		if y.Medal != "" {
			medal = ", " + y.Medal
		}
		fmt.Fprintf(w, "  IOI %d: %g of %g with the chosen submissions%s (%g with all of them), %d tasks",
			y.Year, y.Score, y.MaxScore, medal, y.BestScore, y.Tasks)
		if y.Skipped > 0 {
			fmt.Fprintf(w, ", %d skipped", y.Skipped)
		}
		fmt.Fprintln(w)
	}
	if len(sum.Skipped) > 0 && sum.Benchmark == "ioi" {
		fmt.Fprintf(w, "  %d tasks or generations skipped (listed in summary.json)\n", len(sum.Skipped))
	}
	if len(sum.RowErrors) > 0 {
		fmt.Fprintf(w, "  %d rows could not be evaluated (listed in the report)\n", len(sum.RowErrors))
	}
	fmt.Fprintf(w, "  files in %s: %s\n", dir, strings.Join(sum.Files, ", "))
}
