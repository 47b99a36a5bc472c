package mesh_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cascadeState is what the test reads of DIR/cascade.json.
type cascadeState struct {
	Stages []struct {
		Name           string   `json:"name"`
		Tasks          []string `json:"tasks"`
		Steps          int      `json:"steps"`
		FirstReward    float64  `json:"first_reward"`
		LastReward     float64  `json:"last_reward"`
		Epochs         int      `json:"epochs"`
		PromptsLeftOut []int    `json:"prompts_left_out"`
	} `json:"stages"`
	Matrix struct {
		Tasks []string `json:"tasks"`
		Rows  []struct {
			Stage  string              `json:"stage"`
			Scores map[string]*float64 `json:"scores"`
			N      map[string]int      `json:"n"`
		} `json:"rows"`
	} `json:"matrix"`
}

// Issue 20's cascade through the real mesh: math (the math service checks sums),
// then code (the Docker sandbox runs the policy's Python on tests), then
// instruction following (the rm service's IFEval checks), each stage from the one
// before's checkpoint. Each stage's training reward rises from about chance to
// the bar, and after each stage every earlier task is evaluated: the matrix.
func TestTrainCascadeThroughTheMesh(t *testing.T) {
	requireDocker(t)
	out := t.TempDir()
	file := filepath.Join("..", "..", "services", "trainer", "testdata", "cascade3.json")
	p := start(t, "rewardmesh train --cascade", binary, "train", "--cascade", file, "--backend", "cpu", "--out", out, "--quiet")
	select {
	case <-p.done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("the cascade did not finish in 5 minutes")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("train --cascade exited %d:\n%s", code, tail(p.out.String(), 3000))
	}
	data, err := os.ReadFile(filepath.Join(out, "cascade.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st cascadeState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Stages) != 3 || len(st.Matrix.Rows) != 3 {
		t.Fatalf("%d stages and %d matrix rows, want 3 and 3", len(st.Stages), len(st.Matrix.Rows))
	}
	// Chance: add 1 in 10; expr about 1 in 9; words about 1 in 10 at the first
	// stage's policy. The bars leave room for a machine whose float sums differ.
	const chanceBar, learnedBar = 0.25, 0.45
	for _, s := range st.Stages {
		t.Logf("stage %s (%v): %d steps, mean reward first tenth %.3f, last tenth %.3f; %d epochs, prompts left out %v",
			s.Name, s.Tasks, s.Steps, s.FirstReward, s.LastReward, s.Epochs, s.PromptsLeftOut)
		if s.FirstReward > chanceBar {
			t.Errorf("stage %s starts at %.3f, want about chance (≤ %.2f)", s.Name, s.FirstReward, chanceBar)
		}
		if s.LastReward < learnedBar {
			t.Errorf("stage %s ends at %.3f, want ≥ %.2f", s.Name, s.LastReward, learnedBar)
		}
		if s.Epochs < 2 || len(s.PromptsLeftOut) != s.Epochs {
			t.Errorf("stage %s: %d epochs, prompts left out %v: dynamic filtering did not report", s.Name, s.Epochs, s.PromptsLeftOut)
		}
	}
	want := [][]string{{"add"}, {"add", "expr"}, {"add", "expr", "words"}}
	for i, r := range st.Matrix.Rows {
		line := ""
		for _, task := range st.Matrix.Tasks {
			if v := r.Scores[task]; v != nil {
				line += " " + task + " " + jsonFloat(*v)
			}
		}
		t.Logf("after stage %s:%s", r.Stage, line)
		if len(r.Scores) != len(want[i]) {
			t.Errorf("after stage %s: scores for %d tasks, want %v", r.Stage, len(r.Scores), want[i])
		}
		for _, task := range want[i] {
			if r.Scores[task] == nil || r.N[task] == 0 {
				t.Errorf("after stage %s: no eval of %s", r.Stage, task)
			}
		}
	}
	for _, name := range []string{"cascade.html", "stage1-math/reward.html", "stage3-if/checkpoint.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("train --cascade left no %s: %v", name, err)
		}
	}
}

func jsonFloat(v float64) string {
	b, _ := json.Marshal(float64(int(v*1000+0.5)) / 1000)
	return string(b)
}
