package mesh_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Restarting NATS (SIGKILL, then the same port and JetStream folder) while a job
// is in flight: every client reconnects, the job completes with every item
// answered, and synchronous requests work again.
func TestNATSRestartMidJob(t *testing.T) {
	path := requireServer(t, "nats-server")
	port := freePort(t)
	store := t.TempDir()
	natsArgs := []string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", store}
	nats := start(t, "nats-server", path, natsArgs...)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitTCP(t, addr)
	url := "nats://" + addr

	start(t, "math", binary, "serve", "math", "--nats", url)
	httpPort := freePort(t)
	start(t, "gateway", binary, "serve", "gateway", "--nats", url, "--http", fmt.Sprintf("127.0.0.1:%d", httpPort))
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(t, base+"/metrics")

	var items []string
	for i := range 5000 {
		items = append(items, fmt.Sprintf(`{"id":%d,"domain":"math","response":"\\boxed{%d}","reference":{"gold":"%d"}}`, i, i, i))
	}
	status, out := postJSON(t, base+"/v1/jobs", `{"items":[`+strings.Join(items, ",")+`]}`)
	if status != 202 {
		t.Fatalf("submit: %d %v", status, out)
	}
	id := out["job_id"].(string)

	_, before := getJSON(t, base+"/v1/jobs/"+id)
	nats.kill()
	t.Logf("NATS killed with the job %v, %v of 5000 results out", before["state"], before["done"])

	// While NATS is down, requests fail at once with a clear error; nothing hangs.
	began := time.Now()
	status, out = postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"2","pred":"2"}]}`)
	if e, _ := out["error"].(map[string]any); status < 500 || e["code"] == nil || time.Since(began) > 20*time.Second {
		t.Errorf("verify with NATS down: %d %v after %s", status, out, time.Since(began))
	}
	start(t, "nats-server (restarted)", path, natsArgs...)
	waitTCP(t, addr)

	var view map[string]any
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		var code int
		code, view = getJSON(t, base+"/v1/jobs/"+id)
		if code == 200 && view["state"] == "done" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if view["state"] != "done" {
		t.Fatalf("job after a NATS restart: %v", view)
	}
	results := view["results"].([]any)
	if len(results) != 5000 {
		t.Fatalf("%d results, want 5000", len(results))
	}
	for i, r := range results {
		if r.(map[string]any)["reward"] != 1.0 {
			t.Fatalf("result %d: %v", i, r)
		}
	}
	status, out = postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"2","pred":"\\boxed{2}"}]}`)
	if status != 200 || out["results"].([]any)[0].(map[string]any)["correct"] != true {
		t.Fatalf("verify after the restart: %d %v", status, out)
	}
}

// The gateway's hostile corpus against the whole mesh, every service real: no
// input gets a 500 or a non-JSON answer, and the mesh still scores afterwards.
func TestHostileCorpusAgainstTheMesh(t *testing.T) {
	base, _ := startUp(t)
	dir := filepath.Join("..", "..", "services", "gateway", "testdata", "hostile")
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index map[string]struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	for name, c := range index {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		status, out := postJSON(t, base+c.Path, string(body))
		if status >= 500 && status != 503 {
			t.Errorf("%s: %d %v", name, status, out)
		}
		if status == 200 {
			for i, r := range out["results"].([]any) {
				res := r.(map[string]any)
				if e, ok := res["error"].(map[string]any); ok && (e["code"] == "internal" || e["message"] == "") {
					t.Errorf("%s item %d: %v", name, i, res)
				}
			}
		}
	}
	status, out := postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"3","pred":"\\boxed{3}"}]}`)
	if status != 200 || out["results"].([]any)[0].(map[string]any)["correct"] != true {
		t.Fatalf("after the corpus: %d %v", status, out)
	}
}
