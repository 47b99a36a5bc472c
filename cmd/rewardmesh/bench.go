package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/cmd/rewardmesh/internal/node"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// benches are the `rewardmesh bench` targets. Each reports its numbers as ratios
// against a baseline measured in the same run.
func benches() map[string]func(ctx context.Context, env *environment, args []string) error {
	return map[string]func(ctx context.Context, env *environment, args []string) error{
		"gateway": benchGateway,
		"load":    benchLoad,
		"math":    benchMath,
		"runcode": benchRunCode,
		"sandbox": benchSandbox,
		"swe":     benchSWE,
		"trainer": benchTrainer,
	}
}

func runBench(ctx context.Context, env *environment, args []string) error {
	all := benches()
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(args) == 0 {
		return fmt.Errorf("bench: name what to measure: one of %s", strings.Join(names, ", "))
	}
	if isHelp(args[0]) {
		h := helpFor("bench")
		h.synopsis = "rewardmesh bench " + strings.Join(names, "|") + " [flags]"
		return showHelp(env, h, nil)
	}
	b, ok := all[args[0]]
	if !ok {
		return fmt.Errorf("bench: unknown target %q: use one of %s", args[0], strings.Join(names, ", "))
	}
	return b(ctx, env, args[1:])
}

// benchGateway measures the gateway on math items: throughput when every item is
// in the cache against the same items scored by the math service, and the latency
// of one mesh call against a bare NATS request-reply on the same server.
func benchGateway(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench gateway", env)
	batch := fs.Int("batch", 256, "items per request")
	requests := fs.Int("requests", 200, "requests per measurement")
	clients := fs.Int("clients", 4, "concurrent HTTP clients")
	calls := fs.Int("calls", 2000, "NATS round trips to time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n, err := node.Start(ctx, node.Options{HTTPAddr: "127.0.0.1:0", Services: []string{"math", "gateway"}, Getenv: env.getenv})
	if err != nil {
		return err
	}
	defer n.Close()
	base := "http://" + n.HTTPAddr
	out := env.stdout
	fmt.Fprintf(out, "gateway benchmark: %d requests of %d math items, %d clients\n", *requests, *batch, *clients)

	// Uncached: every request carries items never seen before.
	seq := 0
	uncached, err := throughput(ctx, base, *requests, *clients, func() []byte {
		seq++
		return mathBatch(*batch, seq)
	})
	if err != nil {
		return err
	}
	// Cached: one batch, warmed once, then repeated.
	warm := mathBatch(*batch, -1)
	if _, err := post(ctx, base, warm); err != nil {
		return err
	}
	cached, err := throughput(ctx, base, *requests, *clients, func() []byte { return warm })
	if err != nil {
		return err
	}
	total := float64(*requests * *batch)
	fmt.Fprintf(out, "  cached    %10.0f items/s\n", total/cached.Seconds())
	fmt.Fprintf(out, "  uncached  %10.0f items/s (math service scoring every item)\n", total/uncached.Seconds())
	fmt.Fprintf(out, "  cached / uncached = %.1fx\n", uncached.Seconds()/cached.Seconds())

	// Round trips: a mesh call of one item against bare NATS request-reply.
	nc, err := mesh.Connect(n.URL, "bench", nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	echo, err := nc.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return err
	}
	defer echo.Unsubscribe()
	one := []byte(`{"items":[{"gold":"1/2","pred":"0.5"}]}`)
	bare, err := latencies(*calls, func() error {
		_, err := nc.RequestWithContext(ctx, "bench.echo", one)
		return err
	})
	if err != nil {
		return err
	}
	client := mesh.NewClient(nc)
	meshCalls, err := latencies(*calls, func() error {
		_, err := client.Call(ctx, "math", "verify", one)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "NATS round trip, %d calls each:\n", *calls)
	fmt.Fprintf(out, "  bare request-reply    p50 %8s  p99 %8s\n", pct(bare, 50), pct(bare, 99))
	fmt.Fprintf(out, "  mesh call math.verify p50 %8s  p99 %8s  (p50 %.1fx bare, including verification)\n",
		pct(meshCalls, 50), pct(meshCalls, 99), float64(pct(meshCalls, 50))/float64(pct(bare, 50)))
	return nil
}

// mathBatch makes n distinct math items; seq makes them distinct across batches.
func mathBatch(n, seq int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"gold":"\\frac{%d}{%d}","pred":"The answer is $\\boxed{\\frac{%d}{%d}}$."}`, i, seq, i+1, 2*seq, 2*(i+1))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func post(ctx context.Context, base string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/math/verify", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("verify answered %d: %s", resp.StatusCode, msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	return len(out.Results), nil
}

// throughput runs requests bodies through clients concurrent posters.
func throughput(ctx context.Context, base string, requests, clients int, body func() []byte) (time.Duration, error) {
	bodies := make(chan []byte, requests)
	for range requests {
		bodies <- body()
	}
	close(bodies)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for b := range bodies {
				if _, err := post(ctx, base, b); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

func latencies(n int, call func() error) ([]time.Duration, error) {
	for range 50 { // warm up
		if err := call(); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		if err := call(); err != nil {
			return nil, err
		}
		out[i] = time.Since(start)
	}
	slices.Sort(out)
	return out, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, len(sorted)*p/100)
	return sorted[i].Round(time.Microsecond)
}
