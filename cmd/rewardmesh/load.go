package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/cmd/rewardmesh/internal/node"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// loadReport is what a load run measured.
type loadReport struct {
	Requests, Items int
	Elapsed         time.Duration
	Latencies       []time.Duration        // per request, sorted
	Status          map[int]int            // HTTP status → requests
	ItemErrors      map[string]int         // error code → items
	Rewards         map[string]map[int]int // domain → reward → items, to see the answers are real
	PeakRSSKB       int64                  // of this process, when the mesh runs in it
}

// benchLoad drives sustained mixed math and code load at a gateway on this
// machine, bounded in count and in time, and reports throughput, latency,
// errors (busy among them) and peak memory.
func benchLoad(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench load", env)
	server := fs.String("server", "", "gateway URL on this machine (loopback only); empty runs the mesh in this process")
	duration := fs.Duration("duration", 60*time.Second, "how long to send")
	maxRequests := fs.Int("max-requests", 100_000, "stop after this many requests")
	clients := fs.Int("clients", 8, "concurrent clients")
	batch := fs.Int("batch", 16, "items per request")
	codeShare := fs.Float64("code", 0.25, "share of items that are code (the rest are math)")
	cluster := fs.Int("cluster", 0, "also run the mesh on an in-process NATS cluster of this many servers (stores at R3), between two runs on one server, and compare")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > time.Hour || *maxRequests <= 0 || *clients <= 0 || *clients > 1024 || *batch <= 0 || *batch > 10_000 {
		return errors.New("bench load: --duration (0, 1h], --max-requests > 0, --clients 1..1024, --batch 1..10000")
	}
	if *cluster != 0 && (*server != "" || *cluster < 2 || *cluster > 7) {
		return errors.New("bench load: --cluster 2..7 runs both meshes in this process; it takes no --server")
	}
	load := func(base string) (*loadReport, error) {
		fmt.Fprintf(env.stdout, "load: %s, %d clients, batches of %d (%.0f%% code), for %s or %d requests\n",
			base, *clients, *batch, 100**codeShare, *duration, *maxRequests)
		return runLoad(ctx, base, *duration, *maxRequests, *clients, *batch, *codeShare)
	}
	if *server != "" {
		if err := requireLoopback(*server); err != nil {
			return err
		}
		r, err := load(*server)
		if err != nil {
			return err
		}
		r.print(env.stdout)
		return nil
	}
	fmt.Fprintln(env.stdout, "mesh in this process, one embedded NATS server:")
	single, err := loadInProcess(ctx, env, "", load)
	if err != nil {
		return err
	}
	if *cluster == 0 {
		single.PeakRSSKB = peakRSS()
		single.print(env.stdout)
		return nil
	}
	single.print(env.stdout)
	dir, err := os.MkdirTemp("", "rewardmesh-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := mesh.StartCluster(*cluster, dir)
	if err != nil {
		return err
	}
	defer c.Close()
	// Every connection of the mesh takes a server of the list at random, so
	// most requests and answers cross a route between two servers.
	fmt.Fprintf(env.stdout, "mesh in this process, a cluster of %d embedded NATS servers (stores at R%d):\n", *cluster, min(3, *cluster))
	clustered, err := loadInProcess(ctx, env, c.URLs(), load)
	if err != nil {
		return err
	}
	clustered.print(env.stdout)
	// The single server runs again after the cluster, so that a machine whose
	// other load changed during the run shows as two single-server figures apart.
	fmt.Fprintln(env.stdout, "mesh in this process, one embedded NATS server, again:")
	again, err := loadInProcess(ctx, env, "", load)
	if err != nil {
		return err
	}
	again.print(env.stdout)
	for _, s := range []*loadReport{single, again} {
		fmt.Fprintf(env.stdout, "cluster vs single server: %.2fx the items/s, p50 %.2fx, p99 %.2fx\n",
			clustered.itemsPerSecond()/s.itemsPerSecond(),
			ratio(pct(clustered.Latencies, 50), pct(s.Latencies, 50)),
			ratio(pct(clustered.Latencies, 99), pct(s.Latencies, 99)))
	}
	return nil
}

// loadInProcess starts the mesh in this process on natsURL (empty: an embedded
// server) and runs load at its gateway.
func loadInProcess(ctx context.Context, env *environment, natsURL string, load func(base string) (*loadReport, error)) (*loadReport, error) {
	n, err := node.Start(ctx, node.Options{NATSURL: natsURL, HTTPAddr: "127.0.0.1:0", Getenv: env.getenv, Log: quietLogger(env)})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	return load("http://" + n.HTTPAddr)
}

func (r *loadReport) itemsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Items) / r.Elapsed.Seconds()
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// requireLoopback refuses any target that is not this machine.
func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--server %q: load is only sent to this machine (127.0.0.0/8, ::1, localhost)", raw)
}

func runLoad(ctx context.Context, base string, duration time.Duration, maxRequests, clients, batch int, codeShare float64) (*loadReport, error) {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	r := &loadReport{Status: map[int]int{}, ItemErrors: map[string]int{}, Rewards: map[string]map[int]int{}}
	var (
		mu   sync.Mutex
		sent int
		wg   sync.WaitGroup
	)
	httpClient := &http.Client{Timeout: 2 * time.Minute}
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for ctx.Err() == nil {
				mu.Lock()
				if sent >= maxRequests {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				body := loadBatch(rng, batch, codeShare)
				began := time.Now()
				status, results, err := postRewards(ctx, httpClient, base, body)
				took := time.Since(began)
				if ctx.Err() != nil && err != nil {
					return // the run ended while this request was out; it is not counted
				}
				mu.Lock()
				r.Requests++
				r.Latencies = append(r.Latencies, took)
				r.Status[status]++
				for _, res := range results {
					r.Items++
					if res.Error != nil {
						r.ItemErrors[res.Error.Code]++
						continue
					}
					if r.Rewards[res.Domain] == nil {
						r.Rewards[res.Domain] = map[int]int{}
					}
					r.Rewards[res.Domain][int(res.Reward)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	slices.Sort(r.Latencies)
	return r, nil
}

// loadBatch mixes math items (half right, half wrong) and small Python programs
// judged on stdin (likewise), all distinct so that the cache does not answer.
func loadBatch(rng *rand.Rand, n int, codeShare float64) []byte {
	items := make([]map[string]any, n)
	for i := range items {
		a, b := rng.IntN(1000)+1, rng.IntN(1000)+1
		right := rng.IntN(2) == 0
		if rng.Float64() < codeShare {
			want := a * 2
			if !right {
				want++
			}
			items[i] = map[string]any{"domain": "code",
				"response":  "```python\nprint(int(input()) * 2)\n```",
				"reference": map[string]any{"language": "python", "tests": []map[string]string{{"input": strconv.Itoa(a) + "\n", "output": strconv.Itoa(want) + "\n"}}}}
			continue
		}
		answer := fmt.Sprintf(`\frac{%d}{%d}`, 2*a, 2*b)
		if !right {
			answer = fmt.Sprintf(`\frac{%d}{%d}`, 2*a+1, 2*b)
		}
		items[i] = map[string]any{"domain": "math",
			"response":  "Working... so the answer is $\\boxed{" + answer + "}$.",
			"reference": map[string]any{"gold": fmt.Sprintf(`%d/%d`, a, b)}}
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	return body
}

type loadResult struct {
	Domain string  `json:"domain"`
	Reward float64 `json:"reward"`
	Error  *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func postRewards(ctx context.Context, c *http.Client, base string, body []byte) (int, []loadResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/rewards", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []loadResult `json:"results"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Results, nil
}

// peakRSS is this process's high-water resident memory, in KiB (Linux).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func (r *loadReport) print(w interface{ Write([]byte) (int, error) }) {
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "  %d requests, %d items in %.1fs: %.1f requests/s, %.0f items/s\n", r.Requests, r.Items, secs, float64(r.Requests)/secs, float64(r.Items)/secs)
	if len(r.Latencies) > 0 {
		fmt.Fprintf(w, "  latency per request: p50 %s  p99 %s  max %s\n", pct(r.Latencies, 50), pct(r.Latencies, 99), r.Latencies[len(r.Latencies)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  HTTP status: %v\n", r.Status)
	fmt.Fprintf(w, "  item errors by code: %v (busy is the answer to overload)\n", r.ItemErrors)
	for _, d := range []string{"math", "code"} {
		fmt.Fprintf(w, "  %s rewards: %v\n", d, r.Rewards[d])
	}
	if r.PeakRSSKB > 0 {
		fmt.Fprintf(w, "  peak RSS of the mesh process: %.0f MiB\n", float64(r.PeakRSSKB)/1024)
	}
}

func quietLogger(env *environment) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
