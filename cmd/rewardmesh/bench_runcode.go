package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewardmesh/rewardmesh/cmd/rewardmesh/internal/node"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
)

// benchRunCode measures /run_code as verl drives it: one request per test
// case, many clients at once, over the CodeContests load; and beside it, in the
// same run, the same program run as a bare python3 process per test, as many at
// once as there are cores. verl's retry rule is applied (a 504 is retried), and
// any answer that is not a verdict counts as a failure.
func benchRunCode(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench runcode", env)
	load := fs.String("load", conformanceFile(env, "code", "codecontests_load.jsonl"), "CodeContests problems: every test is one request")
	clientList := fs.String("clients", "1,2,64", "rows to measure: concurrent clients each (verl's sandbox_fusion max_concurrent is 64)")
	perProblem := fs.Int("tests-per-problem", 0, "tests taken from each problem; 0 takes all")
	server := fs.String("server", "", "a running gateway to measure; empty runs the mesh in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rows []int
	for _, f := range strings.Split(*clientList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("bench runcode: --clients %q: want positive numbers, comma-separated", *clientList)
		}
		rows = append(rows, c)
	}
	tests, err := loadRunCodeTests(*load, *perProblem)
	if err != nil {
		return err
	}
	python, err := sandbox.BarePython()
	if err != nil {
		return fmt.Errorf("bench runcode: the bare baseline needs python3: %w", err)
	}
	base := *server
	if base == "" {
		n, err := node.Start(ctx, node.Options{HTTPAddr: "127.0.0.1:0", Services: []string{"sandbox", "gateway"}, Getenv: env.getenv})
		if err != nil {
			return err
		}
		defer n.Close()
		base = "http://" + n.HTTPAddr
	}
	const echo = "import sys\nsys.stdout.write(sys.stdin.read())\n"
	out := env.stdout
	fmt.Fprintf(out, "run_code benchmark: %d tests of %s, one request each (python echo); bare: %s per test, at most %d at once\n",
		len(tests), filepath.Base(*load), python, runtime.GOMAXPROCS(0))

	// Warm the sandbox (its first containers, the image's pages) outside the timing.
	if _, err := timeEach(ctx, 2*runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0), func(int) error {
		_, _, err := postRunCode(ctx, base, echo, "warm\n")
		return err
	}); err != nil {
		return err
	}
	for _, clients := range rows {
		bareOut := make([]string, len(tests))
		bare, err := timeEach(ctx, len(tests), min(clients, runtime.GOMAXPROCS(0)), func(i int) error {
			cmd := exec.CommandContext(ctx, python, "-c", echo)
			cmd.Stdin = bytes.NewReader([]byte(tests[i]))
			stdout, err := cmd.Output()
			bareOut[i] = string(stdout)
			return err
		})
		if err != nil {
			return fmt.Errorf("bare python3: %w", err)
		}
		meshOut := make([]string, len(tests))
		var retried atomic.Int64
		mesh, err := timeEach(ctx, len(tests), clients, func(i int) error {
			stdout, tries, err := postRunCode(ctx, base, echo, tests[i])
			meshOut[i] = stdout
			retried.Add(int64(tries - 1))
			return err
		})
		if err != nil {
			return fmt.Errorf("/run_code, %d clients: %w", clients, err)
		}
		same := 0
		for i := range tests {
			if bareOut[i] == meshOut[i] {
				same++
			}
		}
		fmt.Fprintf(out, "%d clients:\n", clients)
		for _, row := range []struct {
			name string
			m    timing
		}{{"  bare python3", bare}, {"  /run_code", mesh}} {
			fmt.Fprintf(out, "%-15s %6.1f tests/s   p50 %9s   p99 %9s\n", row.name,
				float64(len(tests))/row.m.wall.Seconds(), pct(row.m.latencies, 50), pct(row.m.latencies, 99))
		}
		fmt.Fprintf(out, "  /run_code: %.2f× bare's tests/s, p50 %+.1f ms over bare; %d/%d outputs identical; %d retried after a 504; 0 failed\n",
			bare.wall.Seconds()/mesh.wall.Seconds(), ms(pct(mesh.latencies, 50)-pct(bare.latencies, 50)), same, len(tests), retried.Load())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadRunCodeTests reads every test input of a CodeContests file.
func loadRunCodeTests(path string, perProblem int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open load file: %w", err)
	}
	defer f.Close()
	var inputs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var row struct {
			Tests []struct {
				Input string `json:"input"`
			} `json:"tests"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("decode load file: %w", err)
		}
		for k, tc := range row.Tests {
			if perProblem > 0 && k >= perProblem {
				break
			}
			inputs = append(inputs, tc.Input)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read load file: %w", err)
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s has no tests", path)
	}
	return inputs, nil
}

type timing struct {
	wall      time.Duration
	latencies []time.Duration // sorted
}

// timeEach runs fn(0..n-1) on workers goroutines and times each call and the whole.
func timeEach(ctx context.Context, n, workers int, fn func(i int) error) (timing, error) {
	lat := make([]time.Duration, n)
	next := make(chan int)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err })
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	t := timing{wall: time.Since(start), latencies: lat}
	slices.Sort(t.latencies)
	if first == nil {
		first = ctx.Err()
	}
	return t, first
}

// postRunCode sends verl's request for one test and applies its retry rule: a
// 504 is tried again, up to three times; anything else that is not a
// SandboxFusion verdict is an error.
func postRunCode(ctx context.Context, base, code, stdin string) (stdout string, tries int, err error) {
	body, _ := json.Marshal(map[string]any{
		"compile_timeout": 10, "run_timeout": 10, "memory_limit_MB": 1024,
		"code": code, "stdin": stdin, "language": "python", "files": map[string]string{}, "fetch_files": []string{},
	})
	for tries = 1; ; tries++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/run_code", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", tries, err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusGatewayTimeout && tries < 3 {
			time.Sleep(time.Duration(tries) * time.Second)
			continue
		}
		var answer struct {
			Status    string `json:"status"`
			Message   string `json:"message"`
			RunResult *struct {
				Stdout string `json:"stdout"`
			} `json:"run_result"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &answer) != nil || answer.Status == "SandboxError" || answer.RunResult == nil {
			return "", tries, fmt.Errorf("no verdict: HTTP %d %.300s", resp.StatusCode, raw)
		}
		return answer.RunResult.Stdout, tries, nil
	}
}
