package lcbconformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/eval"
	"github.com/rewardmesh/rewardmesh/eval/cf"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// oracleProgram is a Python program that answers each of a problem's tests with
// the test's own expected output, looked up by the input. CodeContests' load
// file ships no solutions; this program passes every test, so a batch of them
// makes the judge run every test of every problem, and what is measured is the
// evaluator plus sandbox doing full judging work (process start, feeding input,
// collecting output, comparing), not the speed of any solution.
func oracleProgram(tests []struct{ Input, Output string }) string {
	table := map[string]string{}
	for _, t := range tests {
		table[strings.TrimSpace(t.Input)] = t.Output
	}
	js, _ := json.Marshal(table)
	return "import base64, json, sys\n" +
		"D = json.loads(base64.b64decode(\"" + base64.StdEncoding.EncodeToString(js) + "\").decode())\n" +
		"sys.stdout.write(D.get(sys.stdin.read().strip(), \"\"))\n"
}

type loadProblem struct {
	ID    string
	Tests []struct{ Input, Output string }
}

func readLoad(t *testing.T, path string) []loadProblem {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out []loadProblem
	for sc.Scan() {
		p, err := cf.ParseProblem(sc.Bytes(), true)
		if err != nil {
			t.Fatal(err)
		}
		lp := loadProblem{ID: p.ID}
		for _, tc := range p.Tests {
			lp.Tests = append(lp.Tests, struct{ Input, Output string }{tc.Input, tc.Output})
		}
		out = append(out, lp)
	}
	return out
}

// TestCodeContestsThroughput runs codecontests_load.jsonl as a Codeforces eval
// batch through `eval codeforces` (Main) and the real sandbox on the mesh, and,
// in the same run, the same programs on the same tests as bare local python3
// processes (no container, no limits) as the baseline the README quotes the
// ratio against.
func TestCodeContestsThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("judges ~2,000 tests in Docker; not in -short")
	}
	path := conformance.Path(t, "code", "codecontests_load.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	judge := startSandbox(t, ctx)
	problems := readLoad(t, path)
	dir := t.TempDir()
	// The rows carry no limits (the default is 2 s). On a shared, loaded machine
	// a program's start alone can pass that, and what is measured here is
	// throughput, not limits: the batch runs with 10 s per test.
	path = withTimeLimit(t, path, filepath.Join(dir, "load.jsonl"), 10000)
	var gens []map[string]any
	tests := 0
	for _, p := range problems {
		gens = append(gens, map[string]any{"id": p.ID, "code_list": []string{oracleProgram(p.Tests)}})
		tests += len(p.Tests)
	}
	b, _ := json.Marshal(gens)
	genPath := filepath.Join(dir, "oracle_generations.json")
	os.WriteFile(genPath, b, 0o644)

	// Warm the sandbox (container start, first use) outside the measurement.
	if _, err := judge.Judge(ctx, []eval.JudgeItem{{Language: "python", Source: "print(input())", Tests: json.RawMessage(`[{"input":"1","output":"1"}]`), Compare: "tokens"}}); err != nil {
		t.Fatalf("warm-up: %v", err)
	}

	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := eval.Main(ctx, []string{"codeforces", "--problems", path, "--generations", genPath, "--out", filepath.Join(dir, "out"), "--quiet"},
		func(string) (eval.Judge, func(), error) { return judge, nil, nil }, &stdout, &stderr)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("eval codeforces: %v\n%s", err, stderr.String())
	}
	var results []struct {
		ID          string   `json:"id"`
		Verdicts    []string `json:"verdicts"`
		TestsPassed []int    `json:"tests_passed"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "out", eval.CodeforcesFile))
	json.Unmarshal(data, &results)
	passed := 0
	for _, r := range results {
		if r.Verdicts[0] != "AC" {
			t.Errorf("%s: the oracle program got %s", r.ID, r.Verdicts[0])
		}
		passed += r.TestsPassed[0]
	}
	if passed != tests {
		t.Errorf("%d of %d tests passed", passed, tests)
	}

	python, err := realPython()
	if err != nil {
		t.Logf("sandbox: %d problems, %d tests in %v: %.1f tests/s (no python3 for the baseline)", len(problems), tests, elapsed, float64(tests)/elapsed.Seconds())
		return
	}
	// The baseline gets its own deadline: it must not inherit what the sandbox
	// run left of the test's.
	bctx, bcancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer bcancel()
	baseElapsed := runBare(t, bctx, python, problems, dir)
	sandboxRate := float64(tests) / elapsed.Seconds()
	bareRate := float64(tests) / baseElapsed.Seconds()
	t.Logf("eval codeforces via sandbox: %d problems, %d tests in %.1fs = %.1f tests/s; bare python3 baseline: %.1fs = %.1f tests/s; ratio %.2fx",
		len(problems), tests, elapsed.Seconds(), sandboxRate, baseElapsed.Seconds(), bareRate, sandboxRate/bareRate)
}

// runBare runs each test as a bare python3 process, comparing by tokens, as
// many at once as the sandbox runs by default: GOMAXPROCS submissions, each
// with min(2, GOMAXPROCS) tests at a time.
func runBare(t *testing.T, ctx context.Context, python string, problems []loadProblem, dir string) time.Duration {
	var wrong atomic.Int32
	var firstErr atomic.Value
	procs := runtime.GOMAXPROCS(0)
	sem := make(chan struct{}, procs*min(2, procs))
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range problems {
		src := filepath.Join(dir, "bare_"+strings.ReplaceAll(p.ID, "/", "_")+".py")
		os.WriteFile(src, []byte(oracleProgram(p.Tests)), 0o644)
		for _, tc := range p.Tests {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				cmd := exec.CommandContext(ctx, python, src)
				cmd.Stdin = strings.NewReader(tc.Input)
				out, err := cmd.Output()
				if err != nil || strings.Join(strings.Fields(string(out)), " ") != strings.Join(strings.Fields(tc.Output), " ") {
					wrong.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: err %v, output %.80q", p.ID, err, out))
				}
			})
		}
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Errorf("baseline: %d tests failed locally; first: %v", n, firstErr.Load())
	}
	return time.Since(start)
}

// realPython finds the python3 interpreter itself, past any version-manager
// shim, so the baseline does not pay a shell script's start-up per test.
func realPython() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// withTimeLimit copies the problems file at src to dst with time_limit_ms set.
func withTimeLimit(t *testing.T, src, dst string, ms int) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		row["time_limit_ms"] = ms
		b, _ := json.Marshal(row)
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
