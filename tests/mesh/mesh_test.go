package mesh_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// natsURLFrom reads the embedded server's URL from `up`'s first line.
func natsURLFrom(t *testing.T, p *proc) string {
	t.Helper()
	re := regexp.MustCompile(`\(nats (nats://[0-9.:]+)\)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("up did not print its NATS URL")
	return ""
}

func TestUpServesTheAPI(t *testing.T) {
	base, p := startUp(t)

	t.Run("healthz reports every service", func(t *testing.T) {
		var out map[string]any
		var status int
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if status, out = getJSON(t, base+"/healthz"); status == 200 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		services, _ := out["services"].(map[string]any)
		for _, name := range []string{"math", "sandbox", "swe", "rm"} {
			if services[name] != "up" {
				t.Errorf("service %s is %v", name, services[name])
			}
		}
		if status != 200 || out["status"] != "ok" {
			t.Errorf("healthz %d %v", status, out)
		}
	})

	t.Run("math verify answers", func(t *testing.T) {
		status, out := postJSON(t, base+"/v1/math/verify", `{"items":[
			{"id":"half","gold":"\\frac{1}{2}","pred":"So the answer is $\\boxed{0.5}$."},
			{"id":"wrong","gold":"3","pred":"The final answer is 4"}]}`)
		if status != 200 {
			t.Fatalf("status %d %v", status, out)
		}
		rs := out["results"].([]any)
		first, second := rs[0].(map[string]any), rs[1].(map[string]any)
		if first["id"] != "half" || first["correct"] != true || first["reward"] != 1.0 {
			t.Errorf("1/2 vs boxed 0.5: %v", first)
		}
		if second["correct"] != false || second["reward"] != 0.0 {
			t.Errorf("3 vs 4: %v", second)
		}
	})

	t.Run("every endpoint echoes ids, also of items that fail", func(t *testing.T) {
		cases := []struct{ path, body string }{
			{"/v1/code/run", `{"items":[{"id":"r1","language":"python","source":"print(input())","stdin":"hi"},{"id":"r2","language":7}]}`},
			{"/v1/code/judge", `{"items":[{"id":"j1","language":"python","source":"print(1)","tests":[{"input":"","output":"1"}]},{"id":"j2","tests":"no"}]}`},
			{"/v1/swe/similarity", `{"items":[{"id":"s1","a":"ab","b":"ac"},{"id":"s2","a":1,"b":"x"}]}`},
			{"/v1/swe/reward", `{"items":[{"id":"w1","response":"x","original_files":{},"oracle_files":{}},{"id":"w2","response":5}]}`},
			{"/v1/if/verify", `{"items":[{"id":"i1","prompt":"p","response":"r","instruction_id_list":[]},{"id":"i2","prompt":3}]}`},
		}
		for _, c := range cases {
			status, out := postJSON(t, base+c.path, c.body)
			if status != 200 {
				t.Errorf("%s: status %d %v", c.path, status, out)
				continue
			}
			rs, _ := out["results"].([]any)
			prefix := c.body[strings.Index(c.body, `"id":"`)+6 : strings.Index(c.body, `"id":"`)+7]
			for i, r := range rs {
				m, _ := r.(map[string]any)
				if want := fmt.Sprintf("%s%d", prefix, i+1); m["id"] != want {
					t.Errorf("%s result %d: id %v, want %s: %v", c.path, i, m["id"], want, m)
				}
			}
			if len(rs) != 2 {
				t.Errorf("%s: %d results, want 2", c.path, len(rs))
			}
		}
	})

	t.Run("malformed JSON is a 400 with the error shape", func(t *testing.T) {
		status, out := postJSON(t, base+"/v1/math/verify", `{"items": [ {"gold": `)
		e, _ := out["error"].(map[string]any)
		if status != 400 || e["code"] != "invalid" || e["message"] == "" {
			t.Errorf("malformed JSON: %d %v", status, out)
		}
	})

	t.Run("metrics are Prometheus text", func(t *testing.T) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("content type %q", resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(body), `rewardmesh_http_requests_total{route="/v1/math/verify",status="200"}`) {
			t.Errorf("metrics lack the verify requests:\n%s", tail(string(body), 2000))
		}
	})

	t.Run("a job reads back and its results arrive on NATS", func(t *testing.T) {
		nc, err := nats.Connect(natsURLFrom(t, p))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		got := make(chan int, 16)
		sub, err := nc.Subscribe("rewardmesh.jobs.v1.results.>", func(m *nats.Msg) {
			var msg struct {
				Index  int `json:"index"`
				Result struct {
					Reward float64 `json:"reward"`
				} `json:"result"`
			}
			if json.Unmarshal(m.Data, &msg) == nil && msg.Result.Reward == 1 {
				got <- msg.Index
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		status, out := postJSON(t, base+"/v1/jobs", `{"items":[
			{"domain":"math","response":"\\boxed{\\sqrt{4}}","reference":{"gold":"2"}},
			{"domain":"math","response":"\\boxed{(1,2,3)}","reference":{"gold":"(1, 2, 3)"}}]}`)
		if status != 202 {
			t.Fatalf("submit: %d %v", status, out)
		}
		seen := map[int]bool{}
		timeout := time.After(30 * time.Second)
		for len(seen) < 2 {
			select {
			case i := <-got:
				seen[i] = true
			case <-timeout:
				t.Fatalf("results on NATS: %v", seen)
			}
		}
		var view map[string]any
		for range 100 {
			_, view = getJSON(t, base+"/v1/jobs/"+out["job_id"].(string))
			if view["state"] == "done" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if view["state"] != "done" || len(view["results"].([]any)) != 2 {
			t.Errorf("job view: %v", view)
		}
	})
}

// serviceStats collects $SRV.STATS answers from every replica of a service.
func serviceStats(t *testing.T, nc *nats.Conn, service string) []micro.Stats {
	t.Helper()
	inbox := nats.NewInbox()
	ch := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.STATS."+service, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var stats []micro.Stats
	timeout := time.After(time.Second)
	for {
		select {
		case m := <-ch:
			var s micro.Stats
			if json.Unmarshal(m.Data, &s) == nil {
				stats = append(stats, s)
			}
		case <-timeout:
			return stats
		}
	}
}

func TestReplicasShareWork(t *testing.T) {
	url := startNATS(t)
	for i := range 2 {
		start(t, fmt.Sprintf("math replica %d", i), binary, "serve", "math", "--nats", url)
	}
	port := freePort(t)
	start(t, "gateway", binary, "serve", "gateway", "--nats", url, "--http", fmt.Sprintf("127.0.0.1:%d", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/metrics")

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for len(serviceStats(t, nc, "math")) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"items":[{"gold":"%d","pred":"\\boxed{%d}"}]}`, i, i)
			status, out := postJSON(t, base+"/v1/math/verify", body)
			if status != 200 || out["results"].([]any)[0].(map[string]any)["correct"] != true {
				t.Errorf("request %d: %d %v", i, status, out)
			}
		})
	}
	wg.Wait()

	stats := serviceStats(t, nc, "math")
	if len(stats) != 2 {
		t.Fatalf("%d math replicas answered stats, want 2", len(stats))
	}
	total := 0
	for _, s := range stats {
		n := 0
		for _, ep := range s.Endpoints {
			if ep.Name == "verify" {
				n = ep.NumRequests
			}
		}
		if n == 0 {
			t.Errorf("replica %s took no verify requests", s.ID)
		}
		total += n
	}
	if total != 40 {
		t.Errorf("replicas took %d requests in all, want 40", total)
	}
}

func TestRedisGoingAwayLeavesRequestsSucceeding(t *testing.T) {
	path := requireServer(t, "redis-server")
	port := freePort(t)
	redisArgs := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	redis := start(t, "redis-server", path, redisArgs...)
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port))
	base, _ := startUp(t, "--redis", fmt.Sprintf("redis://127.0.0.1:%d/0", port), "--services", "math,gateway")

	verify := func(n int) {
		t.Helper()
		body := fmt.Sprintf(`{"items":[{"gold":"%d","pred":"%d"},{"gold":"%d","pred":"%d"}]}`, n, n, n, n+1)
		status, out := postJSON(t, base+"/v1/math/verify", body)
		if status != 200 {
			t.Fatalf("verify %d: %d %v", n, status, out)
		}
		rs := out["results"].([]any)
		if rs[0].(map[string]any)["correct"] != true || rs[1].(map[string]any)["correct"] != false {
			t.Fatalf("verify %d: wrong results %v", n, rs)
		}
	}
	verify(1)
	verify(1) // from the cache
	if metric(t, base, `rewardmesh_items_total{outcome="cached",service="math"}`) < 2 {
		t.Fatalf("the repeated request was not answered from Redis")
	}

	redis.kill()
	for n := range 5 {
		verify(n) // repeats and new items alike
	}
	if metric(t, base, `rewardmesh_cache_errors_total{op="get"}`) == 0 {
		t.Errorf("Redis failures were not counted")
	}

	start(t, "redis-server again", path, redisArgs...)
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port))
	// The client's pool backs off from the dials that failed while Redis was
	// away; within a few seconds of its return, answers are cached again.
	resumed := false
	for n := 100; n < 140 && !resumed; n++ {
		verify(n)
		before := metric(t, base, `rewardmesh_items_total{outcome="cached",service="math"}`)
		verify(n)
		resumed = metric(t, base, `rewardmesh_items_total{outcome="cached",service="math"}`) >= before+2
		if !resumed {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if !resumed {
		t.Errorf("caching did not resume within 10s of Redis coming back")
	}
}

// metric reads one sample from /metrics; 0 when absent.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			return v
		}
	}
	return 0
}

// SIGTERM stops taking work but lets what is in flight finish: a program that
// runs for two seconds, judged when the signal arrives, still gets its answer.
func TestSIGTERMFinishesInFlightWork(t *testing.T) {
	base, p := startUp(t)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if status, _ := getJSON(t, base+"/healthz"); status == 200 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	type answer struct {
		status int
		out    map[string]any
	}
	done := make(chan answer, 1)
	go func() {
		status, out := postJSON(t, base+"/v1/code/run", `{"items":[{"language":"python","source":"import time\ntime.sleep(2)\nprint('finished')"}]}`)
		done <- answer{status, out}
	}()
	time.Sleep(700 * time.Millisecond) // the program is running
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.status != 200 {
		t.Fatalf("in-flight request after SIGTERM: %d %v", a.status, a.out)
	}
	r := a.out["results"].([]any)[0].(map[string]any)
	if r["status"] != "ok" || !strings.Contains(fmt.Sprint(r["stdout"]), "finished") {
		t.Errorf("in-flight program: %v", r)
	}
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		t.Fatalf("up did not exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("up exited %d after SIGTERM", code)
	}
}
