package mesh_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// TestVerlSandboxFusionClient plays verl's SandboxFusion client against `up`'s
// /run_code: its request body for every test case of every program, its retry
// rule (only a 504 is retried, three tries, 1 s then 2 s apart; any other non-2xx
// is a failed test), its score rule, and its concurrency (64 workers). Every
// score must equal what plain python3 processes give for the same program and
// input; a test the mesh failed to run (verl's -1) fails this test.
func TestVerlSandboxFusionClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a few hundred programs through Docker; skipped in -short")
	}
	requireDocker(t)
	python, err := sandbox.BarePython()
	if err != nil {
		t.Skipf("no python3 for the bare baseline: %v", err)
	}
	problems := loadCodeContests(t, 3)
	base, _ := startUp(t)
	waitHealthy(t, base)
	t.Run("outcomes", func(t *testing.T) { runCodeOutcomes(t, base) })

	type job struct {
		program, stdin, expected string
		timeout                  float64
	}
	var jobs []job
	programs := verlPrograms(problems)
	for _, p := range programs {
		for k, pr := range problems {
			for i, tc := range pr.Tests {
				if p.onlyFirst && (k > 4 || i > 0) {
					continue
				}
				jobs = append(jobs, job{p.source(pr), tc.Input, tc.Output, p.timeout})
			}
		}
	}

	// What plain python3 processes give, eight at a time.
	bare := make([]any, len(jobs))
	parallel(len(jobs), 8, func(i int) {
		bare[i] = bareVerlScore(python, jobs[i].program, jobs[i].stdin, jobs[i].expected, jobs[i].timeout)
	})

	client := &http.Client{}
	got := make([]any, len(jobs))
	attempts := make([]int, len(jobs))
	start := time.Now()
	parallel(len(jobs), 64, func(i int) {
		got[i], attempts[i] = verlScore(client, base+"/run_code", jobs[i].program, jobs[i].stdin, jobs[i].expected, jobs[i].timeout)
	})
	elapsed := time.Since(start)

	counts := map[string]int{}
	retried := 0
	for i := range jobs {
		counts[fmt.Sprint(bare[i])]++
		if attempts[i] > 1 {
			retried++
		}
		if got[i] != bare[i] {
			t.Errorf("job %d: /run_code scored %v, python3 %v\nprogram: %.200s\nstdin: %.100q", i, got[i], bare[i], jobs[i].program, jobs[i].stdin)
		}
	}
	t.Logf("%d runs by 64 workers in %v (%.0f runs/s); scores %v; %d retried after a 504", len(jobs), elapsed.Round(time.Millisecond), float64(len(jobs))/elapsed.Seconds(), counts, retried)
	// The programs must reach every outcome, or the comparison proves less than it says.
	for _, outcome := range []string{"true", "false", "-2", "-3"} {
		if counts[outcome] == 0 {
			t.Errorf("no test scored %s: the programs do not cover it", outcome)
		}
	}
}

// runCodeOutcomes sends SandboxFusion requests that reach each outcome on the
// real sandbox and checks SandboxFusion's answer for each.
func runCodeOutcomes(t *testing.T, base string) {
	post := func(body map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		return postJSON(t, base+"/run_code", string(b))
	}
	run := func(out map[string]any) map[string]any { r, _ := out["run_result"].(map[string]any); return r }
	compile := func(out map[string]any) map[string]any { r, _ := out["compile_result"].(map[string]any); return r }

	code, out := post(map[string]any{"code": "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", "language": "python",
		"stdin": "1 2 3\n", "memory_limit_MB": 1 << 20, "expected_stdout": "6", "run_timeout": 1e6})
	if code != 200 || out["status"] != "Success" || run(out)["stdout"] != "6\n" || run(out)["return_code"] != 0.0 || out["compile_result"] != nil {
		t.Errorf("a sum with limits far over the maxima (clamped) and ROLL's extra field: %d %v", code, out)
	}
	if name, _ := out["executor_pod_name"].(string); name == "" {
		t.Errorf("no executor_pod_name: %v", out)
	}

	_, out = post(map[string]any{"code": "x = bytearray(1 << 30)\nprint(len(x))\n", "language": "python", "memory_limit_MB": 256})
	if out["status"] != "Failed" || run(out)["status"] != "Finished" || run(out)["return_code"] == 0.0 {
		t.Errorf("1 GiB under 256 MB: %v", out)
	}

	_, out = post(map[string]any{"code": "int main() { return x; }\n", "language": "cpp"})
	if out["status"] != "Failed" || compile(out)["status"] != "Finished" || compile(out)["return_code"] == 0.0 || out["run_result"] != nil {
		t.Errorf("a C++ compile error: %v", out)
	}

	header := base64.StdEncoding.EncodeToString([]byte("int twice(int x) { return 2 * x; }\n"))
	_, out = post(map[string]any{"code": "#include <cstdio>\n#include \"twice.h\"\nint main(){ FILE* f = fopen(\"out.txt\", \"w\"); fprintf(f, \"%d\", twice(21)); fclose(f); puts(\"done\"); }\n",
		"language": "cpp", "files": map[string]any{"twice.h": header, "unused": nil}, "fetch_files": []string{"out.txt", "absent.txt"}})
	files, _ := out["files"].(map[string]any)
	if out["status"] != "Success" || compile(out)["return_code"] != 0.0 || files["out.txt"] != base64.StdEncoding.EncodeToString([]byte("42")) || len(files) != 1 {
		t.Errorf("C++ with a header from files, fetching what it wrote: %v", out)
	}

	_, out = post(map[string]any{"code": "import time\ntime.sleep(10)\n", "language": "python", "run_timeout": 0.5})
	if out["status"] != "Failed" || run(out)["status"] != "TimeLimitExceeded" || run(out)["return_code"] != nil {
		t.Errorf("a sleeper past run_timeout 0.5: %v", out)
	}

	code, out = post(map[string]any{"code": "print(1)", "language": "python", "files": map[string]any{"../../etc/cron.d/x": header}})
	if code != 400 || out["status"] != "SandboxError" {
		t.Errorf("a file path leaving the work dir: %d %v", code, out)
	}
	code, out = post(map[string]any{"code": "fn main() {}", "language": "cobol"})
	if code != 200 || out["status"] != "SandboxError" {
		t.Errorf("an unknown language: %d %v", code, out)
	}
	var pong string
	resp, err := http.Get(base + "/v1/ping")
	if err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&pong)
		resp.Body.Close()
	}
	if pong != "pong" {
		t.Errorf("GET /v1/ping: %q %v", pong, err)
	}

	// Where the runs' time went, on the gateway's /metrics (one process: `up`).
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, stage := range []string{"queue", "acquire", "write", "compile", "run", "fetch", "total", "reset"} {
		if !strings.Contains(string(text), `rewardmesh_sandbox_stage_seconds_count{language=`) ||
			!strings.Contains(string(text), `stage="`+stage+`"}`) {
			t.Errorf("/metrics has no rewardmesh_sandbox_stage_seconds for stage %s", stage)
		}
	}
}

type ccProblem struct {
	ID    string `json:"id"`
	Tests []struct {
		Input  string `json:"input"`
		Output string `json:"output"`
	} `json:"tests"`
}

// loadCodeContests reads the CodeContests load problems, perProblem tests each.
func loadCodeContests(t *testing.T, perProblem int) []ccProblem {
	t.Helper()
	f, err := os.Open(conformance.Path(t, "code", "codecontests_load.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ccProblem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<20), 64<<20)
	for sc.Scan() {
		var p ccProblem
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		p.Tests = p.Tests[:min(perProblem, len(p.Tests))]
		out = append(out, p)
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		t.Fatalf("read codecontests_load.jsonl: %d problems, %v", len(out), err)
	}
	return out
}

type verlProgram struct {
	source    func(ccProblem) string
	timeout   float64
	onlyFirst bool // a slow program: the first test of five problems is enough
}

// verlPrograms are correct, wrong, crashing and too slow programs. A "correct"
// program answers each of the problem's tests from a table of them, since the
// load carries no solutions; some print the answer laid out otherwise, which
// verl's rule (trailing newlines stripped) does or does not accept.
func verlPrograms(problems []ccProblem) []verlProgram {
	table := func(p ccProblem, mangle func(i int, out string) string) string {
		m := map[string]string{}
		for i, tc := range p.Tests {
			m[tc.Input] = mangle(i, tc.Output)
		}
		b, _ := json.Marshal(m)
		literal, _ := json.Marshal(string(b)) // a JSON string is a Python string literal
		return "import sys, json\nT = json.loads(" + string(literal) + ")\nsys.stdout.write(T.get(sys.stdin.read(), 'unknown input'))\n"
	}
	return []verlProgram{
		{source: func(p ccProblem) string { return table(p, func(_ int, out string) string { return out }) }, timeout: 10},
		{source: func(p ccProblem) string {
			return table(p, func(_ int, out string) string { return strings.TrimRight(out, "\n") + "\n\n\n" })
		}, timeout: 10},
		{source: func(p ccProblem) string {
			return table(p, func(i int, out string) string {
				if i%2 == 1 {
					return out + " 0\n" // a wrong answer on every other test
				}
				return out
			})
		}, timeout: 10},
		{source: func(p ccProblem) string { return table(p, func(_ int, out string) string { return " " + out }) }, timeout: 10},
		{source: func(ccProblem) string { return "print(0)\n" }, timeout: 10},
		{source: func(ccProblem) string { return "import sys\ndata = sys.stdin.read()\nprint(len(data.split()) // 0)\n" }, timeout: 10},
		{source: func(ccProblem) string { return "import sys\nsys.stdout.write(sys.stdin.read())\nsys.exit(3)\n" }, timeout: 10},
		{source: func(ccProblem) string { return "def f(:\n  pass\n" }, timeout: 10},
		{source: func(ccProblem) string { return "import time\nprint('partial', flush=True)\ntime.sleep(30)\n" }, timeout: 1, onlyFirst: true},
		{source: func(ccProblem) string { return "while True:\n    pass\n" }, timeout: 1, onlyFirst: true},
	}
}

// bareVerlScore runs the program under plain python3 and scores it as verl's
// check_correctness does: true/false by output, -2 a runtime error, -3 a timeout.
func bareVerlScore(python, program, stdin, expected string, timeout float64) any {
	dir, err := os.MkdirTemp("", "verl-bare-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	path := dir + "/main.py"
	if err := os.WriteFile(path, []byte(program), 0o644); err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeout*float64(time.Second)))
	defer cancel()
	cmd := exec.CommandContext(ctx, python, path)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return -3
	case err != nil:
		return -2
	}
	return strings.TrimRight(out.String(), "\n") == strings.TrimRight(expected, "\n")
}

// verlScore is verl's client for one test case: the request body it sends, its
// retries and its score rule. It returns the score and how many tries it took.
func verlScore(client *http.Client, url, program, stdin, expected string, timeout float64) (any, int) {
	body, _ := json.Marshal(map[string]any{
		"compile_timeout": timeout,
		"run_timeout":     timeout,
		"code":            program,
		"stdin":           stdin,
		"memory_limit_MB": 1024,
		"language":        "python",
		"files":           map[string]string{},
		"fetch_files":     []string{},
	})
	requestTimeout := time.Duration((2*timeout + 10) * float64(time.Second))
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			return -1, attempt // verl gives up on any request error
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusGatewayTimeout {
			time.Sleep(time.Duration(attempt) * time.Second)
			continue
		}
		if resp.StatusCode/100 != 2 {
			return -1, attempt
		}
		var out struct {
			Status        string         `json:"status"`
			CompileResult map[string]any `json:"compile_result"`
			RunResult     map[string]any `json:"run_result"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			return -1, attempt
		}
		return verlStatus(out.Status, out.CompileResult, out.RunResult, expected), attempt
	}
	return -1, 3
}

// verlStatus is check_correctness's reading of a SandboxFusion answer.
func verlStatus(status string, compile, run map[string]any, expected string) any {
	switch status {
	case "SandboxError":
		return -1
	case "Failed":
		if compile != nil && (compile["status"] == "Error" || compile["status"] == "TimeLimitExceeded" ||
			(compile["status"] == "Finished" && compile["return_code"] != 0.0)) {
			return -4
		}
		if run == nil {
			return -1
		}
		switch {
		case run["status"] == "TimeLimitExceeded":
			return -3
		case run["status"] == "Error" || (run["status"] == "Finished" && run["return_code"] != 0.0):
			return -2
		}
		return -1
	case "Success":
		if run == nil || run["status"] != "Finished" {
			return -1
		}
		stdout, _ := run["stdout"].(string)
		return strings.TrimRight(stdout, "\n") == strings.TrimRight(expected, "\n")
	}
	return -1
}

// parallel runs fn(0..n-1) on workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// requireDocker skips without Docker, unless CI said it must be there.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("REWARDMESH_REQUIRE_DOCKER") != "" {
			t.Fatalf("docker is not available: %v", err)
		}
		t.Skipf("docker is not available: %v", errors.Unwrap(err))
	}
}
