package mesh_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type stepMetrics struct {
	Step           int     `json:"step"`
	MeanReward     float64 `json:"mean_reward"`
	ResultsApplied int     `json:"results_applied"`
	Duplicates     int     `json:"duplicates"`
	GroupsFailed   int     `json:"groups_failed"`
}

func readMetrics(t *testing.T, dir string) []stepMetrics {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []stepMetrics
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m stepMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func meanReward(ms []stepMetrics) float64 {
	sum := 0.0
	for _, m := range ms {
		sum += m.MeanReward
	}
	return sum / float64(len(ms))
}

// The demonstration, through the real mesh: the math service scores the
// sorted tuples, the gateway's job worker carries them over JetStream.
func TestTrainSort3LearnsThroughTheMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 training steps: a long test")
	}
	out := t.TempDir()
	p := start(t, "rewardmesh train", binary, "train", "--task", "sort3", "--steps", "1000", "--backend", "cpu", "--out", out, "--quiet")
	select {
	case <-p.done:
	case <-time.After(8 * time.Minute):
		t.Fatalf("training did not finish in 8 minutes")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("train exited %d", code)
	}
	ms := readMetrics(t, out)
	if len(ms) != 1000 {
		t.Fatalf("%d metric lines, want 1000", len(ms))
	}
	first, last := meanReward(ms[:50]), meanReward(ms[len(ms)-50:])
	t.Logf("mean reward: first 50 steps %.3f, last 50 steps %.3f", first, last)
	if first > 0.3 {
		t.Errorf("mean reward over the first 50 steps %.3f, want chance (≤ 0.3)", first)
	}
	if last < 0.6 {
		t.Errorf("mean reward over the last 50 steps %.3f, want ≥ 0.6", last)
	}
	for _, name := range []string{"checkpoint.json", "reward.html"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("train left no %s: %v", name, err)
		}
	}
}

// Killing the trainer (SIGKILL, no chance to clean up) and resuming from its
// checkpoint continues the curve: every step once, in order, and no acknowledged
// reward lost. The mesh is external (Debian's nats-server and `serve` replicas),
// so it outlives the trainer as it would in a cluster.
func TestTrainKilledAndResumedContinuesTheCurve(t *testing.T) {
	url := startNATS(t)
	start(t, "math", binary, "serve", "math", "--nats", url)
	start(t, "gateway (job worker)", binary, "serve", "gateway", "--nats", url, "--http", fmt.Sprintf("127.0.0.1:%d", freePort(t)))

	out := t.TempDir()
	args := []string{"train", "--task", "sort3", "--steps", "120", "--backend", "cpu", "--out", out, "--nats", url, "--run", "killtest"}
	first := start(t, "train (first)", binary, args...)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl")); err == nil && strings.Count(string(b), "\n") >= 40 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.kill()
	before := readMetrics(t, out)
	if len(before) < 40 || len(before) >= 120 {
		t.Fatalf("killed after %d steps; the test wants a kill mid-run", len(before))
	}

	// The resumed run is started as `serve trainer`, API.md's way to run the
	// trainer as one of the mesh's processes: the same trainer, joined to the mesh.
	second := start(t, "serve trainer (resumed)", binary, append(append([]string{"serve", "trainer"}, args[1:]...), "--resume")...)
	select {
	case <-second.done:
	case <-time.After(4 * time.Minute):
		t.Fatalf("resumed training did not finish")
	}
	if code := second.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("resumed train exited %d:\n%s", code, tail(second.out.String(), 3000))
	}
	after := readMetrics(t, out)
	if len(after) != 120 {
		t.Fatalf("%d steps after resuming, want 120", len(after))
	}
	for i, m := range after {
		if m.Step != i {
			t.Fatalf("metrics line %d is step %d: the curve has a gap or a repeat", i, m.Step)
		}
		if m.GroupsFailed != 0 {
			t.Errorf("step %d: %d groups failed", i, m.GroupsFailed)
		}
		// Every step trains on all of its prompts' rewards: 16 prompts × 16 responses.
		if m.ResultsApplied != 256 {
			t.Errorf("step %d applied %d rewards, want 256 (none lost, none twice)", i, m.ResultsApplied)
		}
	}
}
