package rm

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// startNATS runs an embedded NATS server on a random port for the test.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func serve(t *testing.T, nc *nats.Conn, s *Service) *mesh.Client {
	t.Helper()
	svc, err := mesh.Serve(nc, s.MeshConfig())
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() { _ = svc.Stop(5 * time.Second) })
	return mesh.NewClient(nc)
}

func TestMeshEndToEnd(t *testing.T) {
	nc := startNATS(t)
	f := newFakeRM(t)
	f.failures = 1 // the first request meets a 503 and is retried
	s := testService(t, f, VLLMPooling)
	client := serve(t, nc, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("score", func(t *testing.T) {
		body, err := client.Call(ctx, Name, "score", []byte(`{"items":[
			{"id":"a","messages":[{"role":"user","content":"2+2?"}],"response":"4 #1","group":"q"},
			{"id":"b","messages":[{"role":"user","content":"2+2?"}],"response":"5 #3","group":"q"},
			{"id":"c","prompt":"x","response":"#2.5"}
		]}`))
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		var resp struct {
			Results []struct {
				ID         string        `json:"id"`
				Score      *float64      `json:"score"`
				Normalized *float64      `json:"normalized"`
				Error      *reward.Error `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		r := resp.Results
		if len(r) != 3 || r[0].Error != nil || r[1].Error != nil || r[2].Error != nil {
			t.Fatalf("results %s", body)
		}
		// By hand: mean 2, sample std √2 → ∓1/(√2+ε).
		if *r[0].Score != 1 || *r[1].Score != 3 || math.Abs(*r[0].Normalized+0.7071062811869011) > 1e-12 || math.Abs(*r[1].Normalized-0.7071062811869011) > 1e-12 {
			t.Errorf("group q: %s", body)
		}
		if r[2].ID != "c" || *r[2].Score != 2.5 || r[2].Normalized != nil {
			t.Errorf("ungrouped: %s", body)
		}
	})

	t.Run("rewards", func(t *testing.T) {
		body, err := client.Call(ctx, Name, "rewards", []byte(`{"items":[
			{"id":1,"domain":"rm","response":"#4","reference":{"prompt":"q"}},
			{"id":2,"domain":"if","response":"yes","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}}
		]}`))
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		var resp struct {
			Results []reward.Result `json:"results"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if r := resp.Results; len(r) != 2 || r[0].Reward != 4 || r[0].Domain != reward.RM || r[1].Reward != 1 || r[1].Domain != reward.IF {
			t.Errorf("results %s", body)
		}
	})

	t.Run("bad batch", func(t *testing.T) {
		_, err := client.Call(ctx, Name, "rewards", []byte(`not json`))
		if e := reward.AsError(err); e == nil || e.Code != reward.Invalid {
			t.Errorf("error %v, want invalid", err)
		}
	})
}

func TestMeshScoreWithModelDown(t *testing.T) {
	nc := startNATS(t)
	f := newFakeRM(t)
	s := testService(t, f, VLLMPooling)
	s.client.cfg.Retries = 1
	f.srv.Close() // the reward model server goes away
	client := serve(t, nc, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body, err := client.Call(ctx, Name, "score", []byte(`{"items":[{"prompt":"q","response":"a"}]}`))
	if err != nil {
		t.Fatalf("call: %v (a model being down is an item error, not a failed batch)", err)
	}
	if !strings.Contains(string(body), `"code":"unavailable"`) || strings.Contains(string(body), `"score"`) {
		t.Errorf("body %s, want an unavailable item and no score", body)
	}
}
