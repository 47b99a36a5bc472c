// Package compose_test brings the docker-compose mesh up the way CI can: built
// offline (the host-built binary on the debootstrap base), then sends it requests.
package compose_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const offlineBase = "rewardmesh/base:bookworm"

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	for dir := wd; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			return dir
		}
	}
	t.Fatal("docker-compose.yml not found above the test")
	return ""
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("REWARDMESH_REQUIRE_DOCKER") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// compose runs docker-compose for one project with the offline build settings.
type compose struct {
	t       *testing.T
	root    string
	project string
	file    string // the compose file, relative to root; empty: docker-compose.yml
	env     []string
}

func (c *compose) run(args ...string) (string, error) {
	pre := []string{"-p", c.project}
	if c.file != "" {
		pre = append(pre, "-f", c.file)
	}
	cmd := exec.Command("docker-compose", append(pre, args...)...)
	cmd.Dir = c.root
	cmd.Env = append(os.Environ(), c.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *compose) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, tail(out))
	}
	return out
}

func tail(s string) string {
	if len(s) > 6000 {
		return s[len(s)-6000:]
	}
	return s
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// prepareCompose skips a compose test under -short or without docker-compose
// and the offline base, builds the rewardmesh binary the images take, and
// returns the checkout's root.
func prepareCompose(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("compose mesh: long test")
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		skipOrFail(t, "docker-compose is not installed")
	}
	if err := exec.Command("docker", "image", "inspect", offlineBase).Run(); err != nil {
		skipOrFail(t, "%s is missing: run `rewardmesh images build` first", offlineBase)
	}
	root := repoRoot(t)
	build := exec.Command("go", "build", "-o", "bin/rewardmesh", "./cmd/rewardmesh")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return root
}

// up builds the images offline and brings the mesh up; it is taken down at cleanup.
func up(t *testing.T, extra ...string) (*compose, string) {
	t.Helper()
	root := prepareCompose(t)
	port := freePort(t)
	c := &compose{t: t, root: root, project: fmt.Sprintf("rmtest%d", port), env: []string{
		"REWARDMESH_BUILD_TARGET=prebuilt",
		"REWARDMESH_BASE=" + offlineBase,
		fmt.Sprintf("REWARDMESH_PORT=%d", port),
	}}
	c.must("build")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--no-color", "--tail", "60")
			t.Logf("compose logs:\n%s", tail(out))
		}
		_, _ = c.run("down", "-v", "--remove-orphans", "-t", "20")
	})
	c.must(append([]string{"up", "-d"}, extra...)...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(body)
			if resp.StatusCode == 200 {
				return c, base
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("the compose mesh did not become healthy in 3 minutes: %s", last)
	return nil, ""
}

func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, raw)
	}
	return out
}

// One compose mesh, with two sandbox replicas, for both checks: building and
// starting it is most of the time.
func TestComposeMesh(t *testing.T) {
	c, base := up(t, "--scale", "sandbox=2")
	t.Run("answers mixed rewards", func(t *testing.T) { mixedRewards(t, base) })
	t.Run("two sandbox replicas share work", func(t *testing.T) { sandboxReplicasShare(t, c, base) })
}

func mixedRewards(t *testing.T, base string) {
	out := post(t, base+"/v1/rewards", `{"items":[
		{"id":"m","domain":"math","response":"Thus $\\boxed{\\frac{3}{4}}$.","reference":{"gold":"0.75"}},
		{"id":"c","domain":"code","response":"`+"```python\\nprint(int(input())*2)\\n```"+`","reference":{"language":"python","tests":[{"input":"21\n","output":"42\n"}]}},
		{"id":"s","domain":"swe","response":"x","reference":{"original_files":{"a.py":"x = 1\n"},"oracle_files":{"a.py":"x = 2\n"}}},
		{"id":"i","domain":"if","response":"this reply is written entirely in lowercase english, as the instruction asks of it.","reference":{"prompt":"p","instruction_id_list":["change_case:english_lowercase"],"kwargs":[{}]}}]}`)
	rs := out["results"].([]any)
	want := map[string]float64{"m": 1, "c": 1, "s": -1, "i": 1}
	for _, r := range rs {
		res := r.(map[string]any)
		id := res["id"].(string)
		if res["error"] != nil || res["reward"] != want[id] {
			t.Errorf("item %s: %v, want reward %v", id, res, want[id])
		}
	}
}

func sandboxReplicasShare(t *testing.T, c *compose, base string) {
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"items":[{"language":"python","source":"print(%d)","tests":[{"input":"","output":"%d\n"}]}]}`, i, i)
			out := post(t, base+"/v1/code/judge", body)
			if v := out["results"].([]any)[0].(map[string]any)["verdict"]; v != "AC" {
				t.Errorf("judge %d: %v", i, out)
			}
		})
	}
	wg.Wait()
	stats, err := c.run("exec", "-T", "gateway", "rewardmesh", "stats", "sandbox")
	if err != nil {
		t.Fatalf("rewardmesh stats in the gateway container: %v\n%s", err, tail(stats))
	}
	replicas := 0
	for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
		var s struct {
			ID        string `json:"id"`
			Endpoints []struct {
				Name        string `json:"name"`
				NumRequests int    `json:"num_requests"`
			} `json:"endpoints"`
		}
		if json.Unmarshal([]byte(line), &s) != nil {
			continue
		}
		replicas++
		judged := 0
		for _, ep := range s.Endpoints {
			if ep.Name == "judge" {
				judged = ep.NumRequests
			}
		}
		if judged == 0 {
			t.Errorf("sandbox replica %s judged nothing", s.ID)
		}
	}
	if replicas != 2 {
		t.Errorf("%d sandbox replicas answered stats, want 2:\n%s", replicas, stats)
	}
}
