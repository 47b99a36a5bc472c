package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Three `rewardmesh nats --cluster` servers form a cluster; `up --nats a,b,c`
// joins it and makes the mesh's stores at R3, which `stats` shows.
func TestNATSClusterCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("three NATS servers: long test")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clients, routes := make([]string, 3), make([]string, 3)
	peers := make([]string, 3)
	for i := range 3 {
		clients[i], peers[i] = freeAddr(t), freeAddr(t)
		routes[i] = "nats://" + peers[i]
	}
	var servers []chan error
	for i := range 3 {
		done := make(chan error, 1)
		servers = append(servers, done)
		go func() {
			_, _, err := runWith(ctx, "nats", "--addr", clients[i], "--cluster", peers[i],
				"--routes", strings.Join(routes, ","), "--name", fmt.Sprintf("n%d", i+1), "--data", t.TempDir())
			done <- err
		}()
	}
	defer func() {
		cancel()
		for _, done := range servers {
			<-done
		}
	}()
	urls := "nats://" + strings.Join(clients, ",nats://")
	httpAddr := freeAddr(t)
	upDone := make(chan error, 1)
	upCtx, stopUp := context.WithCancel(ctx)
	var upLog syncBuffer
	go func() {
		upDone <- run(upCtx, []string{"up", "--nats", urls, "--http", httpAddr, "--services", "math,gateway", "--log-level", "warn"},
			func(string) string { return "" }, strings.NewReader(""), &upLog, &upLog)
	}()
	defer func() { stopUp(); <-upDone }()
	if !healthy("http://"+httpAddr, upDone) {
		t.Fatalf("up --nats %s never answered:\n%s", urls, upLog.String())
	}

	out, _, err := runWith(ctx, "stats", "--nats", urls)
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	replicas := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var s struct {
			Store    string `json:"store"`
			Replicas int    `json:"replicas"`
		}
		if json.Unmarshal([]byte(line), &s) == nil && s.Store != "" {
			replicas[s.Store] = s.Replicas
		}
	}
	for _, store := range []string{"REWARDMESH_JOBS", "REWARDMESH_RESULTS", "KV_rewardmesh_jobs"} {
		if replicas[store] != 3 {
			t.Errorf("stats shows %s at %d replicas, want 3:\n%s", store, replicas[store], out)
		}
	}
	if !strings.Contains(out, `"cluster_servers":3`) {
		t.Errorf("stats does not count three servers:\n%s", out)
	}
}

// healthy waits for the gateway at base to verify an item, or for up to end.
func healthy(base string, upDone chan error) bool {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-upDone:
			upDone <- err
			return false
		default:
		}
		resp, err := http.Post(base+"/v1/math/verify", "application/json", strings.NewReader(`{"items":[{"gold":"2","pred":"\\boxed{2}"}]}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
	}
	return false
}
