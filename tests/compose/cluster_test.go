package compose_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The distributed form (deploy/cluster/docker-compose.yml), its sandbox hosts
// left out: a 5,000-item math job is taken by gateway-a while the math service
// is not up yet (its items wait for it), then gateway-b joins; with /v1/rewards
// batches in flight at both gateways, one NATS server is killed, the math
// service comes, and gateway-a, which holds the job, is killed. The job completes on gateway-b with every
// item right and stored once, and every batch is answered right (a retryable
// error, or a gateway that is gone, is sent again, as a trainer would).
func TestClusterComposeFaults(t *testing.T) {
	root := prepareCompose(t)
	portA, portB := freePort(t), freePort(t)
	c := &compose{t: t, root: root, project: fmt.Sprintf("rmcluster%d", portA), file: "deploy/cluster/docker-compose.yml", env: []string{
		"REWARDMESH_BUILD_TARGET=prebuilt",
		"REWARDMESH_BASE=" + offlineBase,
		fmt.Sprintf("REWARDMESH_PORT_A=%d", portA),
		fmt.Sprintf("REWARDMESH_PORT_B=%d", portB),
	}}
	c.must("build", "nats1", "redis")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--no-color", "--tail", "40")
			t.Logf("compose logs:\n%s", tail(out))
		}
		_, _ = c.run("down", "-v", "--remove-orphans", "-t", "10")
	})
	c.must("up", "-d", "nats1", "nats2", "nats3", "redis", "gateway-a")
	gwA := fmt.Sprintf("http://127.0.0.1:%d", portA)
	gwB := fmt.Sprintf("http://127.0.0.1:%d", portB)
	waitAnswers(t, gwA)

	// The job, on gateway-a alone, so that its worker takes it.
	const total = 5000
	items := make([]string, total)
	for i := range items {
		items[i] = mathItem(i)
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

	// Batches of distinct math items at both gateways until the end.
	stop := make(chan struct{})
	var senders sync.WaitGroup
	var batches, resent, wrong atomic.Int64
	var longest atomic.Int64
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
					batch[i] = mathItem(k + i)
				}
				base := gwB
				if n%2 == 0 {
					base = gwA
				}
				for try := 0; ; try++ {
					began := time.Now()
					var out struct {
						Results []struct {
							Reward *float64 `json:"reward"`
							Error  *struct {
								Retryable bool `json:"retryable"`
							} `json:"error"`
						} `json:"results"`
					}
					err := postJSON(base+"/v1/rewards", `{"items":[`+strings.Join(batch, ",")+`]}`, &out)
					if took := time.Since(began).Milliseconds(); took > longest.Load() {
						longest.Store(took)
					}
					again := err != nil // the gateway is gone or answered 5xx: another one
					for i, r := range out.Results {
						switch {
						case r.Error != nil && r.Error.Retryable:
							again = true
						case r.Error != nil || r.Reward == nil || *r.Reward != wantReward(k+i):
							wrong.Add(1)
							t.Errorf("item %d answered %+v", k+i, r)
						}
					}
					if !again {
						break
					}
					resent.Add(1)
					base = gwB
					time.Sleep(200 * time.Millisecond)
				}
				batches.Add(1)
			}
		})
	}

	time.Sleep(3 * time.Second)
	c.must("kill", "nats2")
	t.Log("killed nats2")
	c.must("up", "-d", "--no-deps", "math")
	// gateway-a dies as soon as it has answered part of the job.
	var atKill jobView
	var readErr error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if readErr = getJSON(gwB+"/v1/jobs/"+sub.JobID, &atKill); readErr == nil && atKill.Done > 0 {
			break
		}
	}
	c.must("kill", "gateway-a")
	t.Logf("killed gateway-a, which held the job, with %d of %d items answered (state %q, last read: %v)", atKill.Done, total, atKill.State, readErr)

	var view jobView
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(time.Second) {
		if getJSON(gwB+"/v1/jobs/"+sub.JobID, &view) == nil && view.State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not complete on gateway-b: %d of %d, %s", view.Done, total, view.State)
		}
	}
	close(stop)
	senders.Wait()

	lost := 0
	for i, r := range view.Results {
		if r == nil {
			lost++
			continue
		}
		if r.Error != nil || r.Reward == nil || *r.Reward != wantReward(i) {
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
	t.Logf("job: %d items answered, answered twice %d, lost %d; /v1/rewards: %d batches of 8 answered right, %d sent again after a retryable answer or a gone gateway, %d wrong; longest request %d ms",
		view.Done, stored-total+lost, lost, batches.Load(), resent.Load(), wrong.Load(), longest.Load())
}

type jobView struct {
	State   string `json:"state"`
	Done    int    `json:"done"`
	Results []*struct {
		Reward *float64 `json:"reward"`
		Error  any      `json:"error"`
	} `json:"results"`
}

// mathItem is item i: right when i is even.
func mathItem(i int) string {
	pred := i
	if i%2 == 1 {
		pred = i + 1
	}
	return fmt.Sprintf(`{"domain":"math","response":"so $\\boxed{%d}$","reference":{"gold":"%d"}}`, pred, i)
}

func wantReward(i int) float64 { return float64(1 - i%2) }

var httpClient = &http.Client{Timeout: 2 * time.Minute}

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
