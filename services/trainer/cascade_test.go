package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

func TestParseCascade(t *testing.T) {
	good := `{"stages": [{"name": "m", "tasks": ["add", "sort3"], "steps": 3, "max_len": 3},
		{"name": "c", "tasks": ["expr"], "steps": 2, "max_len": 4, "temperature": 1.5, "filter": true}]}`
	c, err := parseCascade([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stages[0]; s.Prompts != 16 || s.Group != 16 || s.LR != 3e-3 || s.Temperature != 1 {
		t.Errorf("defaults not filled: %+v", s)
	}
	if l := c.layout(); l != (layout{TaskToken: true, PromptSlots: 3, ResponseSlots: 3}) {
		t.Errorf("layout %+v: the longest max_len sets the response slots", l)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"no stages", `{"stages": []}`, "0 stages"},
		{"unknown task", `{"stages": [{"name": "a", "tasks": ["chess"], "steps": 1, "max_len": 2}]}`, `task "chess"`},
		{"too short", `{"stages": [{"name": "a", "tasks": ["sort3"], "steps": 1, "max_len": 2}]}`, "do not fit max_len 2"},
		{"unknown field", `{"stages": [{"name": "a", "tasks": ["add"], "steps": 1, "max_len": 1, "epochs": 3}]}`, "unknown field"},
		{"no steps", `{"stages": [{"name": "a", "tasks": ["add"], "max_len": 1}]}`, "steps 0"},
		{"task twice", `{"stages": [{"name": "a", "tasks": ["add", "add"], "steps": 1, "max_len": 1}]}`, "named twice"},
		{"run too long", `{"run": "` + strings.Repeat("r", 61) + `", "stages": [{"name": "a", "tasks": ["add"], "steps": 1, "max_len": 1}]}`, "1-60"},
		{"bad name", `{"stages": [{"name": "a b", "tasks": ["add"], "steps": 1, "max_len": 1}]}`, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseCascade([]byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := ReadCascade(filepath.Join("testdata", "cascade3.json")); err != nil {
		t.Errorf("the README's cascade: %v", err)
	}
}

// Dynamic filtering: a prompt whose group scored all the same sits the next epoch
// out, is counted, and comes back the epoch after.
func TestPromptPoolFiltersSettledPrompts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ti, tk, _ := lookupTask("expr")
	n := len(tk.Space())
	p := &promptPool{Filter: true}
	epoch1 := p.draw(n, []int{ti}, rng)
	if p.Epoch != 1 || p.LeftOut[0] != 0 {
		t.Fatalf("epoch %d left out %v", p.Epoch, p.LeftOut)
	}
	settled := map[string]bool{}
	for i, d := range epoch1 {
		g := &group{Task: d.Task, Prompt: d.Prompt, Epoch: d.Epoch, Rewards: []float64{0, 1}, Have: []bool{true, true}}
		switch i % 3 {
		case 0: // all wrong
			g.Rewards = []float64{0, 0}
			settled[promptKey(d.Task, d.Prompt)] = true
		case 1: // all right
			g.Rewards = []float64{1, 1}
			settled[promptKey(d.Task, d.Prompt)] = true
		}
		p.settle(g)
	}
	epoch2 := p.draw(n-len(settled), []int{ti}, rng)
	if p.Epoch != 2 || p.LeftOut[1] != len(settled) {
		t.Fatalf("epoch %d left out %v, want %d in epoch 2", p.Epoch, p.LeftOut, len(settled))
	}
	for _, d := range epoch2 {
		if settled[promptKey(d.Task, d.Prompt)] {
			t.Errorf("prompt %v was settled in epoch 1 and drawn in epoch 2", d.Prompt)
		}
	}
	p.draw(1, []int{ti}, rng)
	if p.Epoch != 3 || p.LeftOut[2] != 0 || len(p.Order) != n {
		t.Errorf("epoch %d left out %v with %d prompts: the settled prompts sat one epoch out, not for good", p.Epoch, p.LeftOut, len(p.Order))
	}
	off := &promptPool{}
	off.draw(n+1, []int{ti}, rng)
	if off.LeftOut[1] != 0 {
		t.Errorf("without the filter %v were left out", off.LeftOut)
	}
}

// A cascade killed mid-stage resumes at that stage and step: every step of every
// stage once, the earlier stage not run again, the matrix written after each stage.
// An eval reward that comes back as an error is scored again, never counted as 0.
func TestCascadeResumesAtItsStageAndStep(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	file := filepath.Join(t.TempDir(), "cascade.json")
	spec := `{"run": "cz", "hidden": 32, "eval_samples": 2, "stages": [
		{"name": "one", "tasks": ["sort3"], "steps": 6, "prompts": 4, "group": 4, "max_len": 3},
		{"name": "two", "tasks": ["sort3"], "steps": 8, "prompts": 4, "group": 4, "max_len": 3, "temperature": 1.5, "filter": true}]}`
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := CascadeConfig{File: file, Out: t.TempDir(), Backend: "cpu", Quiet: true, RewardTimeout: time.Minute, AckWait: time.Second}
	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	var evalErrors atomic.Int32
	w := &testWorker{
		afterJob: func(job Job) {
			if job.ID == jobID("cz-2", 4, 1) {
				kill()
			}
		},
		fail: func(jobID string, index int) bool {
			if strings.Contains(jobID, ".a1.") && index == 0 {
				evalErrors.Add(1)
				return true
			}
			return false
		},
	}
	w.start(t, ctx, nc)
	if err := RunCascade(runCtx, cfg, nc, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed cascade: err = %v, want context.Canceled", err)
	}
	st := readCascadeState(t, cfg.Out)
	if len(st.Stages) != 1 || len(st.Matrix.Rows) != 1 {
		t.Fatalf("killed in stage 2, cascade.json has %d stages and %d rows, want 1", len(st.Stages), len(st.Matrix.Rows))
	}
	if err := RunCascade(ctx, cfg, nc, io.Discard); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("a fresh cascade into a cascade's directory: err = %v, want a refusal naming --resume", err)
	}
	cfg.Resume, cfg.File = true, "" // the cascade as first read is in cascade.json
	if !HoldsCascade(cfg.Out) {
		t.Fatal("HoldsCascade: false for a cascade's directory")
	}
	if err := RunCascade(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("resumed cascade: %v", err)
	}
	st = readCascadeState(t, cfg.Out)
	if len(st.Stages) != 2 || len(st.Matrix.Rows) != 2 {
		t.Fatalf("cascade.json has %d stages and %d rows, want 2", len(st.Stages), len(st.Matrix.Rows))
	}
	for i, s := range st.Stages {
		lines := readLines(t, Config{Out: filepath.Join(cfg.Out, s.Dir), Steps: []int{6, 8}[i]})
		for _, m := range lines {
			if m.ResultsApplied != 16 {
				t.Errorf("stage %s step %d applied %d rewards, want 16", s.Name, m.Step, m.ResultsApplied)
			}
		}
	}
	if st.Stages[1].Epochs == 0 || len(st.Stages[1].PromptsLeftOut) != st.Stages[1].Epochs {
		t.Errorf("stage two: %d epochs, left out %v", st.Stages[1].Epochs, st.Stages[1].PromptsLeftOut)
	}
	if evalErrors.Load() == 0 {
		t.Fatal("no eval result failed: the retry was not exercised")
	}
	for _, r := range st.Matrix.Rows {
		if r.Scores["sort3"] == nil || r.N["sort3"] != 64*2 {
			t.Errorf("row %s: sort3 scored over %d responses, want %d (an error neither dropped nor a 0)", r.Stage, r.N["sort3"], 64*2)
		}
	}
	if b, err := os.ReadFile(filepath.Join(cfg.Out, cascadeHTMLFile)); err != nil || !strings.Contains(string(b), "<th>sort3</th>") {
		t.Errorf("cascade.html: %v", err)
	}
}

func readCascadeState(t *testing.T, dir string) CascadeState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, cascadeStateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st CascadeState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A stage's checkpoint round-trips, and one whose groups or pool do not fit the
// stage is refused at load rather than failing mid-run.
func TestStageCheckpointChecks(t *testing.T) {
	l := layout{TaskToken: true, PromptSlots: maxPromptLen(), ResponseSlots: 2}
	spec := l.spec(2, 2)
	mk := func() *checkpoint {
		g := &group{JobID: "trainer.r.0.0", Task: 3, Epoch: 1, Prompt: []int32{1, 0, 2}, Responses: [][]int32{{1, 2, 3}, {4, 5, 6}},
			OldLogp: [][]float32{{0, 0, 0}, {0, 0, 0}}, Rewards: []float64{0, 1}, Have: []bool{true, false}}
		return &checkpoint{Format: checkpointFormat, Run: "r", Spec: spec, Prompts: 1, Group: 2, Sampled: 1, Policy: policy0(spec),
			Tasks: []string{"words", "expr"}, Layout: &l, MaxLen: 3, Temperature: 1.5, Pending: []*group{g},
			Pool: &promptPool{Filter: true, Epoch: 1, Order: []drawn{{Task: 2, Prompt: []int32{2, 1}, Epoch: 1}}, LeftOut: []int{0}}}
	}
	dir := t.TempDir()
	if err := writeCheckpoint(dir, mk()); err != nil {
		t.Fatal(err)
	}
	if _, err := readCheckpoint(dir); err != nil {
		t.Fatalf("a good stage checkpoint: %v", err)
	}
	for name, spoil := range map[string]func(c *checkpoint){
		"group of a task not in the stage": func(c *checkpoint) { c.Pending[0].Task = 1 },
		"response longer than max_len":     func(c *checkpoint) { c.MaxLen = 2 },
		"pool prompt of another task":      func(c *checkpoint) { c.Pool.Order[0].Task = 0 },
		"pool past its order":              func(c *checkpoint) { c.Pool.Next = 5 },
		"no pool":                          func(c *checkpoint) { c.Pool = nil },
		"unknown task":                     func(c *checkpoint) { c.Tasks = []string{"chess"} },
		"sort3 network":                    func(c *checkpoint) { c.Spec = sort3Spec(2, 2) },
		"sort3 checkpoint with a pool":     func(c *checkpoint) { c.Tasks, c.Task, c.Pending = nil, "sort3", nil },
	} {
		t.Run(name, func(t *testing.T) {
			c := mk()
			spoil(c)
			dir := t.TempDir()
			if err := writeCheckpoint(dir, c); err != nil {
				t.Fatal(err)
			}
			if _, err := readCheckpoint(dir); err == nil {
				t.Error("loaded")
			}
		})
	}
}

func FuzzParseCascade(f *testing.F) {
	f.Add([]byte(`{"stages": [{"name": "m", "tasks": ["add"], "steps": 3, "max_len": 1}]}`))
	f.Add([]byte(`{"stages": [{"name": "w", "tasks": ["words", "sort3"], "steps": 1, "max_len": 3, "temperature": 2, "filter": true}], "eval_samples": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCascade(data) // must not panic on any input
		if err != nil {
			return
		}
		l := c.layout()
		if l.context() > 40 || l.ResponseSlots+1 < c.Stages[0].MaxLen {
			t.Errorf("layout %+v for %+v", l, c.Stages)
		}
	})
}

// A stage starts from the parameters the stage before it ended with: with every
// reward of stage two failing (dropped, never a 0), nothing updates it, and it ends
// where stage one did.
func TestCascadeStageStartsFromTheLastStagesCheckpoint(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	file := filepath.Join(t.TempDir(), "cascade.json")
	spec := `{"run": "cy", "hidden": 16, "eval_samples": 1, "stages": [
		{"name": "one", "tasks": ["add"], "steps": 3, "prompts": 4, "group": 4, "max_len": 1},
		{"name": "two", "tasks": ["add"], "steps": 2, "prompts": 4, "group": 4, "max_len": 1}]}`
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &testWorker{fail: func(jobID string, index int) bool { return strings.HasPrefix(jobID, "trainer.cy-2.") }}
	w.start(t, ctx, nc)
	// A first try at stage two was killed after it created its results consumer and
	// before its first checkpoint: it published nothing, and must not block the stage.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, ResultsStream, jetstream.ConsumerConfig{Durable: "trainer_cy-2", FilterSubject: ResultsPrefix + "trainer.cy-2.>"}); err != nil {
		t.Fatal(err)
	}
	cfg := CascadeConfig{File: file, Out: t.TempDir(), Backend: "cpu", Quiet: true, RewardTimeout: time.Minute, AckWait: time.Second}
	if err := RunCascade(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	one, err := readCheckpoint(filepath.Join(cfg.Out, "stage1-one"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := readCheckpoint(filepath.Join(cfg.Out, "stage2-two"))
	if err != nil {
		t.Fatal(err)
	}
	if two.Step != 2 || !slices.Equal(one.Policy.Params, two.Policy.Params) {
		t.Errorf("stage two (step %d) does not hold stage one's parameters", two.Step)
	}
	if slices.Equal(one.Policy.Params, one.Spec.Init(rand.New(rand.NewPCG(1, 0x5eed)))) {
		t.Error("stage one did not train: the test shows nothing")
	}
	for _, m := range readLines(t, Config{Out: filepath.Join(cfg.Out, "stage2-two"), Steps: 2}) {
		if m.GroupsFailed != 4 || m.GroupsKept != 0 {
			t.Errorf("stage two step %d: %d groups failed, %d kept; want every group failed", m.Step, m.GroupsFailed, m.GroupsKept)
		}
	}
}

// A reward that came back as an error is missing from the step's mean, not a 0 in it.
func TestMeanRewardLeavesFailedRewardsOut(t *testing.T) {
	spec := sort3Spec(2, 2)
	be, err := policy.NewCPU(spec, policy0(spec), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	l := newLearner(be, policy.DefaultAdam(1e-3), 0.2, 1)
	resp := [][]int32{{0, 1, 2}, {0, 1, 2}}
	logp := [][]float32{{-2, -2, -2}, {-2, -2, -2}}
	ok := &group{Prompt: []int32{2, 1, 0}, Responses: resp, OldLogp: logp, Rewards: []float64{1, 1}, Have: []bool{true, true}}
	failed := &group{Prompt: []int32{2, 1, 0}, Responses: resp, OldLogp: logp, Rewards: []float64{0, 1}, Have: []bool{true, true},
		Errors: 1, Failed: []bool{true, false}}
	st, err := l.update([]*group{ok, failed}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.MeanReward != 1 || st.GroupsFailed != 1 {
		t.Errorf("mean reward %v with %d groups failed, want 1 (the error left out) and 1", st.MeanReward, st.GroupsFailed)
	}
	if m := taskRewards([]*group{ok, failed}); m["sort3"] != 1 {
		t.Errorf("task rewards %v, want sort3 1", m)
	}
}

// TestReadCascadeYAML: a YAML file and its JSON twin are the same cascade, and a bad
// YAML file is refused with a message naming what is wrong.
func TestReadCascadeYAML(t *testing.T) {
	fromJSON, err := ReadCascade(filepath.Join("testdata", "cascade3.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := ReadCascade(filepath.Join("testdata", "cascade3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("YAML cascade\n%+v\ndiffers from its JSON twin\n%+v", fromYAML, fromJSON)
	}
	if len(fromYAML.Stages) != 3 || fromYAML.Stages[1].Temperature != 1.5 || !fromYAML.Stages[2].Filter || fromYAML.Hidden != 64 {
		t.Errorf("YAML cascade read as %+v", fromYAML)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"not YAML", "stages: [\n  - name: a\n", "decode YAML"},
		{"tab indentation", "stages:\n\t- name: a\n", "decode YAML"},
		{"unknown field", "stages:\n  - {name: a, tasks: [add], steps: 1, max_len: 1, epochs: 3}\n", `unknown field "epochs"`},
		{"wrong type", "stages:\n  - {name: a, tasks: add, steps: 1, max_len: 1}\n", "tasks"},
		{"empty", "", "empty document"},
		{"not a mapping", "- a\n- b\n", "decode cascade"},
		{"non-string key", "stages:\n  - {1: a}\n", "decode YAML"},
		{"bad policy", "policy: rnn\nstages:\n  - {name: a, tasks: [add], steps: 1, max_len: 1}\n", `policy "rnn"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yml")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCascade(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// A cascade may train the transformer: the file names it, with its shape.
func TestCascadeTransformerPolicy(t *testing.T) {
	c, err := parseCascade([]byte(`{"policy": "transformer", "embed": 32, "heads": 4,
		"stages": [{"name": "m", "tasks": ["add"], "steps": 3, "max_len": 1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers != 2 || c.Heads != 4 {
		t.Errorf("layers %d heads %d, want the default 2 and the file's 4", c.Layers, c.Heads)
	}
	if _, err := parseCascade([]byte(`{"policy": "transformer", "embed": 30, "heads": 4,
		"stages": [{"name": "m", "tasks": ["add"], "steps": 3, "max_len": 1}]}`)); err == nil || !strings.Contains(err.Error(), "divide embed") {
		t.Errorf("heads that do not divide embed: err = %v", err)
	}
}

func FuzzReadCascadeYAML(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "cascade3.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("stages: [{name: a, tasks: [add], steps: 1, max_len: 1}]"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if j, err := yamlToJSON(data); err == nil {
			_, _ = parseCascade(j) // must not panic
		}
	})
}
