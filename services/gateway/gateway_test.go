package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// counting is a mesh service whose answers the test can predict: for a math item
// it answers correct when gold == pred (the real checker is tested in its own
// package); it counts every item it is sent.
type counting struct {
	items atomic.Int64
	calls atomic.Int64
}

func (c *counting) config(name string) mesh.Config {
	item := func(_ context.Context, raw json.RawMessage) any {
		c.items.Add(1)
		var in struct {
			ID   json.RawMessage `json:"id,omitempty"`
			Gold string          `json:"gold"`
			Pred string          `json:"pred"`
		}
		if err := mesh.DecodeItem(raw, &in); err != nil {
			return map[string]any{"error": err}
		}
		return struct {
			ID      json.RawMessage `json:"id,omitempty"`
			Correct bool            `json:"correct"`
		}{in.ID, in.Gold == in.Pred}
	}
	rewards := func(_ context.Context, raw json.RawMessage) any {
		c.items.Add(1)
		var in reward.Item
		if err := mesh.DecodeItem(raw, &in); err != nil {
			return reward.Result{Error: err}
		}
		var ref struct{ Gold string }
		_ = json.Unmarshal(in.Reference, &ref)
		r := 0.0
		if strings.TrimSpace(in.Response) == ref.Gold {
			r = 1
		}
		return reward.Result{ID: in.ID, Domain: in.Domain, Reward: r}
	}
	batch := mesh.Batch(item, 4)
	return mesh.Config{Name: name, Endpoints: []mesh.Endpoint{
		{Name: "verify", Handler: func(ctx context.Context, p []byte) ([]byte, error) { c.calls.Add(1); return batch(ctx, p) }},
		{Name: "rewards", Handler: mesh.Batch(rewards, 4)},
	}}
}

type fixture struct {
	url  string
	nats *mesh.Embedded
	nc   *nats.Conn
	math *counting
	srv  *httptest.Server
}

func newFixture(t *testing.T, cfg gateway.Config, c cache.Cache) *fixture {
	t.Helper()
	return newFixtureScoring(t, cfg, scoring.Config{}, c)
}

// newFixtureScoring is newFixture with the scoring engine configured too.
func newFixtureScoring(t *testing.T, cfg gateway.Config, scfg scoring.Config, c cache.Cache) *fixture {
	t.Helper()
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	nc, err := mesh.Connect(emb.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f := &fixture{url: emb.ClientURL(), nats: emb, nc: nc, math: &counting{}}
	svc, err := mesh.Serve(nc, f.math.config("math"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	jobs, err := mesh.NewJobs(ctx, nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Reading a job back takes milliseconds here; a test that stops NATS
	// waits this long for the answer it checks.
	jobs.ReadTimeout = 5 * time.Second
	if len(cfg.Services) == 0 {
		cfg.Services = []string{"math"}
	}
	reg := prometheus.NewRegistry()
	client := mesh.NewClient(nc)
	engine := scoring.New(scfg, client, c, reg)
	handler := gateway.NewServer(cfg, engine, client, jobs, nil, reg)
	go func() { _ = jobs.Work(ctx, engine.ScoreJob, 4) }()
	f.srv = httptest.NewServer(handler)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s answered non-JSON: %v", path, err)
	}
	return resp.StatusCode, out
}

func (f *fixture) post(t *testing.T, path string, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(f.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered non-JSON %q: %v", path, raw, err)
	}
	return resp.StatusCode, out
}

func TestBatchRoutesToServiceAndEchoesIDs(t *testing.T) {
	f := newFixtureScoring(t, gateway.Config{}, scoring.Config{ChunkSize: 2}, nil)
	code, out := f.post(t, "/v1/math/verify", `{"items":[
		{"id":"a","gold":"1","pred":"1"},{"id":7,"gold":"1","pred":"2"},{"gold":"3","pred":"3"},
		{"id":"d","gold":"4","pred":"4"},{"id":"e","gold":"5","pred":"6"}]}`)
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	results := out["results"].([]any)
	want := []struct {
		id      any
		correct bool
	}{{"a", true}, {7.0, false}, {nil, true}, {"d", true}, {"e", false}}
	if len(results) != len(want) {
		t.Fatalf("%d results for %d items", len(results), len(want))
	}
	for i, w := range want {
		r := results[i].(map[string]any)
		if r["id"] != w.id || r["correct"] != w.correct {
			t.Errorf("result %d = %v, want id %v correct %v", i, r, w.id, w.correct)
		}
	}
	if calls := f.math.calls.Load(); calls != 3 {
		t.Errorf("5 items in chunks of 2 made %d calls, want 3", calls)
	}
}

func TestCacheAnswersRepeatsAndDuplicatesOnce(t *testing.T) {
	f := newFixture(t, gateway.Config{}, cache.NewMemory(100))
	body := `{"items":[{"id":1,"gold":"x","pred":"x"},{"id":2,"gold":"x","pred":"x"},{"id":3,"gold":"x","pred":"y"}]}`
	_, first := f.post(t, "/v1/math/verify", body)
	if got := f.math.items.Load(); got != 2 {
		t.Fatalf("two distinct items reached the service %d times, want 2", got)
	}
	_, second := f.post(t, "/v1/math/verify", body)
	if got := f.math.items.Load(); got != 2 {
		t.Fatalf("a repeated batch reached the service again (%d items)", got)
	}
	for i, out := range []map[string]any{first, second} {
		rs := out["results"].([]any)
		for k, want := range []any{1.0, 2.0, 3.0} {
			if id := rs[k].(map[string]any)["id"]; id != want {
				t.Errorf("response %d result %d id = %v, want %v", i, k, id, want)
			}
		}
		if rs[2].(map[string]any)["correct"] != false || rs[1].(map[string]any)["correct"] != true {
			t.Errorf("response %d results wrong: %v", i, rs)
		}
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, gateway.Config{MaxBodyBytes: 64 << 10, MaxItems: 3}, nil)
	cases := []struct {
		name, path, body string
		status           int
		code             reward.ErrorCode
	}{
		{"malformed JSON", "/v1/math/verify", `{"items":[`, 400, reward.Invalid},
		{"not an object", "/v1/math/verify", `[1,2]`, 400, reward.Invalid},
		{"items missing", "/v1/math/verify", `{}`, 400, reward.Invalid},
		{"items not array", "/v1/math/verify", `{"items":5}`, 400, reward.Invalid},
		{"two values", "/v1/math/verify", `{"items":[]} {}`, 400, reward.Invalid},
		{"too many items", "/v1/math/verify", `{"items":[{},{},{},{}]}`, 413, reward.TooLarge},
		{"body too large", "/v1/math/verify", `{"items":[{"gold":"` + strings.Repeat("9", 100<<10) + `"}]}`, 413, reward.TooLarge},
		{"nested item", "/v1/rewards", `{"items":[` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `]}`, 200, ""},
		{"nesting past the decoder's limit", "/v1/rewards", `{"items":[` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]}`, 400, reward.Invalid},
		{"unknown route", "/v1/nope", `{}`, 404, reward.NotFound},
		{"service not running", "/v1/swe/similarity", `{"items":[{"a":"x","b":"y"}]}`, 503, reward.Unavailable},
		{"openrlhf label count", "/get_reward", `{"query":["a"],"labels":[]}`, 400, reward.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := f.post(t, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if tc.code == "" {
				return
			}
			e, ok := out["error"].(map[string]any)
			if !ok || e["code"] != string(tc.code) || e["message"] == "" {
				t.Fatalf("error = %v, want code %s with a message", out["error"], tc.code)
			}
		})
	}
}

func TestRewardsMixedDomainsAndUnknownDomain(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/v1/rewards", `{"items":[
		{"id":"m1","domain":"math","response":"4","reference":{"gold":"4"}},
		{"id":"x","domain":"chess","response":"e4"},
		{"id":"c1","domain":"code","response":"print(1)","reference":{"tests":[]}},
		{"id":"m2","domain":"math","response":"5","reference":{"gold":"4"}}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	rs := out["results"].([]any)
	get := func(i int) map[string]any { return rs[i].(map[string]any) }
	if get(0)["reward"] != 1.0 || get(0)["id"] != "m1" || get(0)["domain"] != "math" {
		t.Errorf("math item: %v", get(0))
	}
	if get(3)["reward"] != 0.0 {
		t.Errorf("wrong math item: %v", get(3))
	}
	if e := get(1)["error"].(map[string]any); e["code"] != "invalid" {
		t.Errorf("unknown domain: %v", get(1))
	}
	// No sandbox is running: the code item fails alone, with its domain and id.
	if e, ok := get(2)["error"].(map[string]any); !ok || e["code"] != "unavailable" || get(2)["id"] != "c1" || get(2)["domain"] != "code" {
		t.Errorf("code item without a sandbox: %v", get(2))
	}
}

func TestOpenRLHF(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/get_reward", `{
		"query":["Q: 2+2? A: 4","Q: 3+3? A: 7","Q: x A: 9"],
		"prompts":["Q: 2+2? A: ","Q: 3+3? A: ","Q: x A: "],
		"labels":["4","6","{\"domain\":\"math\",\"reference\":{\"gold\":\"9\"}}"]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	want := []any{1.0, 0.0, 1.0}
	for _, key := range []string{"rewards", "scores"} {
		got := out[key].([]any)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", key, got, want)
				break
			}
		}
	}
	if _, ok := out["extra_logs"].(map[string]any); !ok {
		t.Errorf("extra_logs missing: %v", out)
	}
}

// TestOpenRLHFFailedItems: the protocol carries only numbers, so a failed item must
// not pass for a reward of 0. One the mesh could not score now fails the request
// with a retryable status (OpenRLHF's client retries non-2xx); one that is wrong
// itself scores 0 and is flagged in extra_logs.reward_error.
func TestOpenRLHFFailedItems(t *testing.T) {
	f := newFixture(t, gateway.Config{OutageWaitFor: 100 * time.Millisecond}, nil)
	status, out := f.post(t, "/get_reward", `{"query":["4","e4"],
		"labels":["4","{\"domain\":\"chess\"}"]}`)
	if status != 200 {
		t.Fatalf("bad label: status %d: %v", status, out)
	}
	if got := fmt.Sprint(out["rewards"]); got != "[1 0]" {
		t.Errorf("rewards = %s, want [1 0]", got)
	}
	logs, _ := out["extra_logs"].(map[string]any)
	if got := fmt.Sprint(logs["reward_error"]); got != "[0 1]" {
		t.Errorf("extra_logs.reward_error = %s, want [0 1]: %v", got, out)
	}

	// No sandbox runs here: the code item cannot be scored now.
	status, out = f.post(t, "/get_reward", `{"query":["4","print(1)"],
		"labels":["4","{\"domain\":\"code\",\"reference\":{\"tests\":[]}}"]}`)
	if status != 503 {
		t.Fatalf("unscorable item: status %d, want 503: %v", status, out)
	}
	e, _ := out["error"].(map[string]any)
	if e["code"] != "unavailable" || e["retryable"] != true || !strings.Contains(fmt.Sprint(e["message"]), "1 of 2") {
		t.Errorf("error = %v, want a retryable unavailable naming 1 of 2 queries", e)
	}
	if _, ok := out["rewards"]; ok {
		t.Errorf("rewards answered beside the error: %v", out)
	}
}

func TestJobsReadBackAndPublishResults(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	// Subscribe before posting, as a consumer that does not poll would.
	var mu sync.Mutex
	seen := map[int]float64{}
	sub, err := f.nc.Subscribe("rewardmesh.jobs.v1.results.>", func(m *nats.Msg) {
		var rm mesh.ResultMsg
		if json.Unmarshal(m.Data, &rm) == nil {
			mu.Lock()
			seen[rm.Index] = rm.Result.Reward
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	var items []string
	for i := range 10 {
		items = append(items, fmt.Sprintf(`{"id":%d,"domain":"math","response":"%d","reference":{"gold":"%d"}}`, i, i, i%2))
	}
	status, out := f.post(t, "/v1/jobs", `{"items":[`+strings.Join(items, ",")+`]}`)
	if status != 202 {
		t.Fatalf("status %d: %v", status, out)
	}
	id := out["job_id"].(string)
	var view map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(f.srv.URL + "/v1/jobs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if view["state"] == "done" && view["done"] == 10.0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if view["state"] != "done" {
		t.Fatalf("job did not finish: %v", view)
	}
	results := view["results"].([]any)
	for i, r := range results {
		want := 0.0
		if i < 2 { // response i equals gold i%2 only for items 0 and 1
			want = 1
		}
		if got := r.(map[string]any)["reward"]; got != want {
			t.Errorf("job result %d reward %v, want %v", i, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 10 || seen[0] != 1 || seen[1] != 1 || seen[2] != 0 {
		t.Errorf("results on NATS: %v", seen)
	}

	resp, err := http.Get(f.srv.URL + "/v1/jobs/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown job answered %d, want 404", resp.StatusCode)
	}
}

// With NATS gone, reading a job answers 503 with a retryable error and a
// Retry-After within the read's own deadline, not when the 10-minute request
// runs out (before the fix it hung: GET /v1/jobs/{id} had no deadline of its
// own), and never a job that looks like it lost its results.
func TestJobReadWithNATSGoneIsRetryable(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/v1/jobs", `{"items":[{"domain":"math","response":"4","reference":{"gold":"4"}}]}`)
	if status != 202 {
		t.Fatalf("status %d: %v", status, out)
	}
	id := out["job_id"].(string)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, view := f.get(t, "/v1/jobs/"+id); view["state"] == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not finish")
		}
	}
	f.nats.Close()
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(f.srv.URL + "/v1/jobs/" + id)
	if err != nil {
		t.Fatalf("GET /v1/jobs/%s with NATS gone: %v", id, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error *reward.Error `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error == nil || !body.Error.Retryable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("answered %d %+v, Retry-After %q; want 503, a retryable error and a Retry-After", resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
	}
}

// TestJobWithAnUndecodableItem: as in /v1/rewards, an item that is wrong on its own
// gets its error in its place and the rest of the job is scored.
func TestJobWithAnUndecodableItem(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/v1/jobs", `{"items":[
		{"id":"ok","domain":"math","response":"4","reference":{"gold":"4"}},
		{"id":"bad","domain":"math","response":4,"reference":{"gold":"4"}},
		{"id":"ok2","domain":"math","response":"5","reference":{"gold":"4"}}]}`)
	if status != 202 {
		t.Fatalf("status %d, want 202: %v", status, out)
	}
	var view map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, view = f.get(t, "/v1/jobs/"+out["job_id"].(string)); view["state"] == "done" {
			break
		}
	}
	rs, _ := view["results"].([]any)
	if view["state"] != "done" || len(rs) != 3 {
		t.Fatalf("job view: %v", view)
	}
	get := func(i int) map[string]any { return rs[i].(map[string]any) }
	if get(0)["id"] != "ok" || get(0)["reward"] != 1.0 || get(2)["id"] != "ok2" || get(2)["reward"] != 0.0 {
		t.Errorf("scored items: %v, %v", get(0), get(2))
	}
	if e, ok := get(1)["error"].(map[string]any); !ok || e["code"] != "invalid" || get(1)["id"] != "bad" {
		t.Errorf("undecodable item: %v", get(1))
	}
}

func TestHealthAndMetrics(t *testing.T) {
	f := newFixture(t, gateway.Config{Services: []string{"math"}}, nil)
	resp, err := http.Get(f.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h["services"].(map[string]any)["math"] != "up" {
		t.Fatalf("healthz %d %v", resp.StatusCode, h)
	}

	f2 := newFixture(t, gateway.Config{Services: []string{"math", "sandbox"}}, nil)
	resp, err = http.Get(f2.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 503 || h["services"].(map[string]any)["sandbox"] != "down" {
		t.Fatalf("healthz without a sandbox: %d %v", resp.StatusCode, h)
	}

	f.post(t, "/v1/math/verify", `{"items":[{"gold":"1","pred":"1"}]}`)
	resp, err = http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"rewardmesh_http_requests_total", `route="/v1/math/verify"`, "rewardmesh_items_total", "go_goroutines"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A service whose queue is full answers some items busy; the gateway sends those
// items again until they are scored, so the client sees only real answers.
func TestBusyItemsAreRetried(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	var mu sync.Mutex
	seen := map[string]int{}
	busyFirst := func(_ context.Context, raw json.RawMessage) any {
		var in struct{ A, B string }
		_ = json.Unmarshal(raw, &in)
		mu.Lock()
		seen[in.A]++
		n := seen[in.A]
		mu.Unlock()
		if n < 3 { // busy twice, then scored
			return map[string]any{"error": reward.Errorf(reward.Busy, "queue full")}
		}
		return map[string]any{"ratio": 1.0}
	}
	svc, err := mesh.Serve(f.nc, mesh.Config{Name: "swe", Endpoints: []mesh.Endpoint{{Name: "similarity", Handler: mesh.Batch(busyFirst, 2)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(time.Second)
	status, out := f.post(t, "/v1/swe/similarity", `{"items":[{"a":"x","b":"y"},{"a":"z","b":"w"}]}`)
	if status != 200 {
		t.Fatalf("status %d %v", status, out)
	}
	for i, r := range out["results"].([]any) {
		if r.(map[string]any)["ratio"] != 1.0 {
			t.Errorf("item %d still busy: %v", i, r)
		}
	}
}

// A job whose service is not running yet (restarting, reconnecting) waits for it
// instead of publishing "not running": nobody is waiting on a job but its results.
func TestJobWaitsForAServiceThatIsNotUpYet(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/v1/jobs", `{"items":[{"id":"s","domain":"swe","response":"x","reference":{}}]}`)
	if status != 202 {
		t.Fatalf("submit: %d %v", status, out)
	}
	time.Sleep(time.Second) // the worker has tried, and found no swe service
	f.serveRewards(t, "swe", func(in reward.Item) reward.Result { return reward.Result{ID: in.ID, Domain: in.Domain, Reward: 0.5} })
	var view map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(f.srv.URL + "/v1/jobs/" + out["job_id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if view["state"] == "done" {
			break
		}
	}
	rs, _ := view["results"].([]any)
	if view["state"] != "done" || len(rs) != 1 || rs[0].(map[string]any)["reward"] != 0.5 {
		t.Fatalf("job: %v", view)
	}
}

// TestJobRetriesARewardModelGroupWhole: rm rewards are normalized over the group's
// members in one request, so when one member must be retried, the job re-sends the
// whole group and publishes none of it from the partial request.
func TestJobRetriesARewardModelGroupWhole(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	var calls atomic.Int64
	// A reward model whose reward is the size of the item's group in the request,
	// and whose first answer fails one item as retryable.
	rm := mesh.Config{Name: "rm", Endpoints: []mesh.Endpoint{{Name: "rewards", Handler: func(_ context.Context, p []byte) ([]byte, error) {
		first := calls.Add(1) == 1
		var req struct{ Items []reward.Item }
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, err
		}
		size := map[string]int{}
		for _, it := range req.Items {
			size[it.Group]++
		}
		results := make([]reward.Result, len(req.Items))
		for i, it := range req.Items {
			results[i] = reward.Result{ID: it.ID, Domain: it.Domain, Reward: float64(size[it.Group])}
			if first && i == 2 {
				results[i] = reward.Result{ID: it.ID, Domain: it.Domain, Error: &reward.Error{Code: reward.Unavailable, Message: "model restarting", Retryable: true}}
			}
		}
		return json.Marshal(map[string]any{"results": results})
	}}}}
	svc, err := mesh.Serve(f.nc, rm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(time.Second) })

	status, out := f.post(t, "/v1/jobs", `{"items":[
		{"domain":"rm","response":"a","group":"g"},
		{"domain":"rm","response":"b","group":"g"},
		{"domain":"rm","response":"c","group":"g"},
		{"domain":"rm","response":"d","group":"g"},
		{"domain":"rm","response":"e","group":"h"}]}`)
	if status != 202 {
		t.Fatalf("status %d: %v", status, out)
	}
	var view map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, view = f.get(t, "/v1/jobs/"+out["job_id"].(string)); view["state"] == "done" {
			break
		}
	}
	rs, _ := view["results"].([]any)
	if view["state"] != "done" || len(rs) != 5 {
		t.Fatalf("job view: %v", view)
	}
	for i, want := range []float64{4, 4, 4, 4, 1} {
		if got := rs[i].(map[string]any)["reward"]; got != want {
			t.Errorf("item %d reward %v, want %v (normalized over its whole group): %v", i, got, want, rs)
		}
	}
	if calls.Load() < 2 {
		t.Errorf("the model was called %d times, want a retry", calls.Load())
	}
}
