package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
)

// The distributed form (deploy/cluster/docker-compose.yml), sandbox hosts
// included. A 5,000-item job (math, and a program every 25th item) is taken by
// gateway-a while the math service is not up yet (its math items wait for it),
// then gateway-b joins, and four clients send /v1/rewards batches of 8 (six
// instruction-following items for the rm service and two programs) to both
// gateways until the end. Three faults follow, each a phase with its own
// figures:
//
//  1. NATS server 2 is killed;
//  2. sandbox-a is cut off its network for 20 s and connected again (it must
//     answer on NATS again);
//  3. gateway-a, which holds the job, is killed once part (not all) of the job
//     is answered (its programs), then the math service starts; the job
//     completes on gateway-b, which skips the items already answered.
//
// Every batch item and every job item is answered once with the right reward (a
// retryable error, or a gateway that is gone, is sent again, as a trainer
// would), and no request runs past its own deadline.
func TestClusterComposeFaults(t *testing.T) {
	root := prepareCompose(t)
	portA, portB := freePort(t), freePort(t)
	c := &compose{t: t, root: root, project: fmt.Sprintf("rmcluster%d", portA), file: "deploy/cluster/docker-compose.yml", env: []string{
		"REWARDMESH_BUILD_TARGET=prebuilt",
		"REWARDMESH_BASE=" + offlineBase,
		fmt.Sprintf("REWARDMESH_PORT_A=%d", portA),
		fmt.Sprintf("REWARDMESH_PORT_B=%d", portB),
	}}
	if err := exec.Command("docker", "image", "inspect", images.Tag(images.Python)).Run(); err != nil {
		skipOrFail(t, "%s is missing: run `rewardmesh images build` first", images.Tag(images.Python))
	}
	c.must("build", "nats1", "redis")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--no-color", "--tail", "40")
			t.Logf("compose logs:\n%s", tail(out))
		}
		_, _ = c.run("down", "-v", "--remove-orphans", "-t", "10")
	})
	c.must("up", "-d", "nats1", "nats2", "nats3", "redis", "gateway-a", "sandbox-a", "sandbox-b", "rm")
	gwA := fmt.Sprintf("http://127.0.0.1:%d", portA)
	gwB := fmt.Sprintf("http://127.0.0.1:%d", portB)
	waitAnswers(t, gwA)
	waitSandboxes(t, c, "gateway-a", 2)

	// The job, on gateway-a alone, so that its worker takes it.
	const total = 5000
	items := make([]string, total)
	for i := range items {
		items[i] = meshItem(i, i%25 == 0)
	}
	var sub struct {
		JobID string `json:"job_id"`
	}
	if err := postJSON(gwA+"/v1/jobs", `{"items":[`+strings.Join(items, ",")+`]}`, &sub); err != nil || sub.JobID == "" {
		t.Fatalf("submit: %v %+v", err, sub)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var v jobView
		if getJSON(gwA+"/v1/jobs/"+sub.JobID, &v) == nil && v.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gateway-a never started the job")
		}
	}
	c.must("up", "-d", "gateway-b")
	waitAnswers(t, gwB)

	// Batches of distinct items at both gateways until the end.
	stop := make(chan struct{})
	var senders sync.WaitGroup
	var tl tally
	for w := range 4 {
		senders.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := 100_000 + w*100_000 + n*8
				batch := make([]string, 8)
				for i := range batch {
					batch[i] = ifItem(k + i)
					if i == 3 || i == 4 {
						batch[i] = meshItem(k+i, true)
					}
				}
				base := gwB
				if n%2 == 0 {
					base = gwA
				}
				for {
					var out struct {
						Results []struct {
							Reward *float64 `json:"reward"`
							Error  *struct {
								Retryable bool `json:"retryable"`
							} `json:"error"`
						} `json:"results"`
					}
					began := time.Now()
					err := postWithin(base+"/v1/rewards", `{"items":[`+strings.Join(batch, ",")+`]}`, &out)
					tl.took(time.Since(began))
					if errors.Is(err, context.DeadlineExceeded) {
						tl.add(&tl.pastDeadline, 1)
						t.Errorf("a /v1/rewards batch ran past its %v deadline", requestDeadline)
					}
					again := err != nil // the gateway is gone or answered 5xx: another one
					if err == nil && len(out.Results) != len(batch) {
						tl.add(&tl.lost, len(batch)-len(out.Results))
						t.Errorf("a batch of %d items answered with %d results", len(batch), len(out.Results))
					}
					wrong := 0
					for i, r := range out.Results {
						switch {
						case r.Error != nil && r.Error.Retryable:
							again = true
						case r.Error != nil || r.Reward == nil || *r.Reward != wantReward(k+i):
							wrong++
							t.Errorf("item %d answered %+v", k+i, r)
						}
					}
					if !again {
						tl.add(&tl.wrong, wrong)
						tl.add(&tl.batches, 1)
						break
					}
					tl.add(&tl.resent, 1)
					base = gwB
					time.Sleep(200 * time.Millisecond)
				}
			}
		})
	}
	defer func() { close(stop); senders.Wait() }()
	phaseBegan := time.Now()
	phase := func(name string) {
		f := tl.reset()
		t.Logf("%s (%.0f s): /v1/rewards %d batches of 8 (%d items, %d programs) answered, each item once (results missing: %d), wrong %d; %d sent again after a retryable answer or a gone gateway; %d past their deadline; longest request %d ms",
			name, time.Since(phaseBegan).Seconds(), f.batches, f.batches*8, f.batches*2, f.lost, f.wrong, f.resent, f.pastDeadline, f.longest.Milliseconds())
		if f.batches == 0 {
			t.Errorf("%s: no batch was answered", name)
		}
		phaseBegan = time.Now()
	}

	time.Sleep(3 * time.Second)
	tl.reset()
	phaseBegan = time.Now()
	// Phase 1: a NATS server killed.
	c.must("kill", "nats2")
	t.Log("killed nats2")
	time.Sleep(10 * time.Second)
	phase("phase 1, nats2 killed")

	// Phase 2: a sandbox host cut off its network for 20 s, then back.
	id := strings.TrimSpace(c.must("ps", "-q", "sandbox-a"))
	network := c.project + "_host-a"
	if out, err := exec.Command("docker", "network", "disconnect", network, id).CombinedOutput(); err != nil {
		t.Fatalf("disconnect sandbox-a: %v %s", err, out)
	}
	t.Log("sandbox-a cut off its network")
	time.Sleep(20 * time.Second)
	if out, err := exec.Command("docker", "network", "connect", network, id).CombinedOutput(); err != nil {
		t.Fatalf("reconnect sandbox-a: %v %s", err, out)
	}
	back := time.Now()
	waitSandboxes(t, c, "gateway-b", 2)
	t.Logf("sandbox-a connected again; both sandbox hosts answer stats %.0f s later", time.Since(back).Seconds())
	phase("phase 2, sandbox-a cut off for 20 s")

	// Phase 3: gateway-a dies with part of the job answered: its programs,
	// while its math items still wait for the math service, which starts then.
	var atKill jobView
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		err := getWithin(gwB+"/v1/jobs/"+sub.JobID, &atKill)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GET /v1/jobs/%s ran past its %v deadline", sub.JobID, requestDeadline)
		}
		if err == nil && atKill.Done >= total/25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's programs were not answered in 2 min: %d of %d (%s)", atKill.Done, total, atKill.State)
		}
	}
	c.must("kill", "gateway-a")
	killed := time.Now()
	if atKill.Done >= total || atKill.mathAnswered() > 0 {
		t.Fatalf("the job had %d of %d items answered (%d math) before the math service started", atKill.Done, total, atKill.mathAnswered())
	}
	t.Logf("killed gateway-a, which held the job, with %d of %d items answered", atKill.Done, total)
	c.must("up", "-d", "--no-deps", "math")

	var view jobView
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(time.Second) {
		err := getWithin(gwB+"/v1/jobs/"+sub.JobID, &view)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GET /v1/jobs/%s ran past its %v deadline", sub.JobID, requestDeadline)
		}
		if err == nil && view.State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not complete on gateway-b: %d of %d, %s", view.Done, total, view.State)
		}
	}
	t.Logf("the job done on gateway-b %.0f s after gateway-a was killed", time.Since(killed).Seconds())
	phase("phase 3, gateway-a killed mid-job")

	lost, wrong := 0, 0
	for i, r := range view.Results {
		if r == nil {
			lost++
			continue
		}
		if r.Error != nil || r.Reward == nil || *r.Reward != wantReward(i) {
			wrong++
			t.Errorf("job item %d: %+v", i, r)
		}
	}
	stats, err := c.run("exec", "-T", "gateway-b", "rewardmesh", "stats")
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, stats)
	}
	stored := -1
	for _, line := range strings.Split(stats, "\n") {
		var s struct {
			Store    string `json:"store"`
			Replicas int    `json:"replicas"`
			Messages int    `json:"messages"`
		}
		if json.Unmarshal([]byte(line), &s) == nil && s.Store == "REWARDMESH_RESULTS" {
			stored = s.Messages
			if s.Replicas != 3 {
				t.Errorf("the results stream is at R%d, want R3", s.Replicas)
			}
		}
	}
	if lost != 0 || stored != total {
		t.Errorf("job: %d items lost, %d results stored for %d items", lost, stored, total)
	}
	t.Logf("job: %d items (%d programs) answered, answered twice %d, lost %d, wrong %d; %d answered by gateway-a before it was killed, the rest by gateway-b",
		view.Done, total/25, stored-total+lost, lost, wrong, atKill.Done)
}

// tally is the figures of the /v1/rewards batches since the phase began.
type tally struct {
	mu sync.Mutex
	figures
}

type figures struct {
	batches, lost, wrong, resent, pastDeadline int
	longest                                    time.Duration
}

func (tl *tally) add(n *int, by int) { tl.mu.Lock(); *n += by; tl.mu.Unlock() }

func (tl *tally) took(d time.Duration) {
	tl.mu.Lock()
	tl.longest = max(tl.longest, d)
	tl.mu.Unlock()
}

// reset returns the figures so far and starts the next phase's.
func (tl *tally) reset() figures {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	f := tl.figures
	tl.figures = figures{}
	return f
}

// waitSandboxes waits until n sandbox replicas answer `rewardmesh stats sandbox`
// run in the gateway's container.
func waitSandboxes(t *testing.T, c *compose, gateway string, n int) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		out, _ = c.run("exec", "-T", gateway, "rewardmesh", "stats", "sandbox")
		replicas := 0
		for _, line := range strings.Split(out, "\n") {
			var s struct {
				ID string `json:"id"`
			}
			if json.Unmarshal([]byte(line), &s) == nil && s.ID != "" {
				replicas++
			}
		}
		if replicas == n {
			return
		}
	}
	t.Fatalf("%d sandbox replicas never answered stats:\n%s", n, out)
}

type jobView struct {
	State   string `json:"state"`
	Done    int    `json:"done"`
	Results []*struct {
		Reward *float64 `json:"reward"`
		Error  any      `json:"error"`
	} `json:"results"`
}

// mathAnswered counts the job's math items answered (every item but each 25th).
func (v jobView) mathAnswered() int {
	n := 0
	for i, r := range v.Results {
		if r != nil && i%25 != 0 {
			n++
		}
	}
	return n
}

// ifItem is an instruction-following item: right (written in lowercase, as
// asked) when i is even.
func ifItem(i int) string {
	response := fmt.Sprintf("this reply, number %d, is written entirely in lowercase english, as the instruction asks of it.", i)
	if i%2 == 1 {
		response = strings.ToUpper(response)
	}
	return fmt.Sprintf(`{"domain":"if","response":%q,"reference":{"prompt":"p","instruction_id_list":["change_case:english_lowercase"],"kwargs":[{}]}}`, response)
}

// meshItem is item i, a math item or a Python program: right when i is even.
func meshItem(i int, code bool) string {
	pred := i
	if i%2 == 1 {
		pred = i + 1
	}
	if code {
		return fmt.Sprintf(`{"domain":"code","response":"`+"```python\\nprint(%d)\\n```"+`","reference":{"language":"python","tests":[{"input":"","output":"%d\n"}]}}`, pred, i)
	}
	return fmt.Sprintf(`{"domain":"math","response":"so $\\boxed{%d}$","reference":{"gold":"%d"}}`, pred, i)
}

func wantReward(i int) float64 { return float64(1 - i%2) }

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// requestDeadline is each request's own deadline in the fault test: a request
// that runs past it hung.
const requestDeadline = 90 * time.Second

func postWithin(url, body string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON(req, out)
}

func getWithin(url string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return doJSON(req, out)
}

func doJSON(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return decode(resp, out)
}

func postJSON(url, body string, out any) error {
	resp, err := httpClient.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	return decode(resp, out)
}

func getJSON(url string, out any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	return decode(resp, out)
}

func decode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}

// waitAnswers waits for the gateway at base to answer HTTP (its /healthz says
// which services are up; here some are not meant to be).
func waitAnswers(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if resp, err := httpClient.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("%s never answered", base)
}
