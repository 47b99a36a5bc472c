package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func postRaw(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// With several reward URLs, OpenRLHF sends the servers past the end of a short
// batch empty lists; they answer empty lists.
func TestOpenRLHFEmptyShard(t *testing.T) {
	f := newFixture(t, gateway.Config{}, nil)
	status, out := f.post(t, "/get_reward", `{"query":[],"prompts":[],"labels":[]}`)
	logs, _ := out["extra_logs"].(map[string]any)
	if status != 200 || fmt.Sprint(out["rewards"], out["scores"], logs["reward_error"]) != "[] [] []" {
		t.Errorf("empty shard: %d %v", status, out)
	}
}

// OpenRLHF gives up after about five tries a second apart, so /get_reward waits
// out a service that is restarting instead of failing at once.
func TestOpenRLHFWaitsOutARestartingService(t *testing.T) {
	f := newFixture(t, gateway.Config{OutageWaitFor: 20 * time.Second}, nil)
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post(f.srv.URL+"/get_reward", "application/json", strings.NewReader(`{"query":["Q 4","Q patch"],
			"prompts":["Q ","Q "],"labels":["4","{\"domain\":\"swe\",\"reference\":{}}"]}`))
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	time.Sleep(700 * time.Millisecond) // the gateway has tried and found no swe service
	f.serveRewards(t, "swe", func(in reward.Item) reward.Result { return reward.Result{ID: in.ID, Domain: in.Domain, Reward: 0.5} })
	var out struct{ Rewards []float64 }
	if body := <-answered; json.Unmarshal([]byte(body), &out) != nil || fmt.Sprint(out.Rewards) != "[1 0.5]" {
		t.Errorf("after a restart: %s, want rewards [1 0.5]", body)
	}
}

// serveRewards runs a service on the fixture's NATS whose "rewards" op answers
// each item with score(item), until the test ends.
func (f *fixture) serveRewards(t *testing.T, name string, score func(reward.Item) reward.Result) {
	t.Helper()
	item := func(_ context.Context, raw json.RawMessage) any {
		var in reward.Item
		_ = json.Unmarshal(raw, &in)
		return score(in)
	}
	svc, err := mesh.Serve(f.nc, mesh.Config{Name: name, Endpoints: []mesh.Endpoint{{Name: "rewards", Handler: mesh.Batch(item, 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(time.Second) })
}
