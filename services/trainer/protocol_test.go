package trainer

import (
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

func TestParseJobID(t *testing.T) {
	tests := []struct {
		id          string
		step, group int
		ok          bool
	}{
		{"trainer.r1.0.0", 0, 0, true},
		{"trainer.r1.17.3", 17, 3, true},
		{"trainer.r2.17.3", 0, 0, false},
		{"trainer.r1.17", 0, 0, false},
		{"trainer.r1.x.3", 0, 0, false},
		{"trainer.r1.1.-3", 0, 0, false},
		{"trainer.r1.1.2.3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			step, group, err := parseJobID("r1", tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && (step != tt.step || group != tt.group) {
				t.Errorf("got step %d group %d, want %d %d", step, group, tt.step, tt.group)
			}
		})
	}
	if id := jobID("r1", 5, 2); id != "trainer.r1.5.2" {
		t.Errorf("jobID = %q", id)
	}
}

func FuzzParseJobID(f *testing.F) {
	for _, s := range []string{"trainer.r1.0.0", "trainer.r1.99.7", "trainer.r1..", "trainer.r1.1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		step, group, err := parseJobID("r1", id)
		if err == nil && jobID("r1", step, group) != id && !strings.Contains(id, "+") && !strings.Contains(id, ".0") {
			// Atoi accepts "+5" and "05"; anything else must round-trip.
			t.Errorf("parse(%q) = %d,%d but jobID gives %q", id, step, group, jobID("r1", step, group))
		}
	})
}

func TestDecodeResult(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"good", `{"job_id":"trainer.r.0.0","index":2,"total":4,"result":{"reward":1,"domain":"math"},"meta":{"step":0}}`, true},
		{"error result", `{"job_id":"trainer.r.0.0","index":0,"total":4,"result":{"reward":0,"domain":"math","error":{"code":"timeout","message":"slow"}}}`, true},
		{"index past total", `{"job_id":"trainer.r.0.0","index":4,"total":4,"result":{}}`, false},
		{"negative index", `{"job_id":"trainer.r.0.0","index":-1,"total":4,"result":{}}`, false},
		{"no job", `{"index":0,"total":4,"result":{}}`, false},
		{"zero total", `{"job_id":"x","index":0,"total":0}`, false},
		{"not json", `reward: 1`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeResult([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func FuzzDecodeResult(f *testing.F) {
	f.Add([]byte(`{"job_id":"trainer.r.0.0","index":2,"total":4,"result":{"reward":1,"domain":"math"}}`))
	f.Add([]byte(`{"job_id":"","index":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeResult(data)
		if err == nil && (m.Index < 0 || m.Index >= m.Total || m.JobID == "") {
			t.Errorf("accepted an unusable result %+v", m)
		}
	})
}

// The job a group becomes is what the math service scores: tuples it can compare.
func TestJobFor(t *testing.T) {
	g := &group{JobID: "trainer.r.3.1", Step: 3, Index: 1, Version: 3, Prompt: []int32{7, 0, 7},
		Responses: [][]int32{{0, 7, 7}, {7, 7, 0}}}
	job := (&trainer{ck: &checkpoint{Run: "r"}}).jobFor(g)
	if job.ID != g.JobID || len(job.Items) != 2 {
		t.Fatalf("job %+v", job)
	}
	if job.Items[0].Response != "(0, 7, 7)" || job.Items[1].Response != "(7, 7, 0)" {
		t.Errorf("responses %q %q", job.Items[0].Response, job.Items[1].Response)
	}
	var ref map[string]string
	if err := json.Unmarshal(job.Items[0].Reference, &ref); err != nil || ref["gold"] != "(0, 7, 7)" {
		t.Errorf("reference %s (%v)", job.Items[0].Reference, err)
	}
	if job.Items[0].Domain != "math" {
		t.Errorf("domain %q", job.Items[0].Domain)
	}
	var meta jobMeta
	if err := json.Unmarshal(job.Meta, &meta); err != nil || meta != (jobMeta{Run: "r", Step: 3, Group: 1, Version: 3}) {
		t.Errorf("meta %s (%v)", job.Meta, err)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
		want func(Config) bool
	}{
		{"demo", []string{"--task", "sort3", "--steps", "1000", "--backend", "cpu", "--out", "d"}, true,
			func(c Config) bool { return c.Steps == 1000 && c.Backend == "cpu" && c.Out == "d" && c.Prompts == 16 }},
		{"resume with nats", []string{"--out", "d", "--resume", "--nats", "nats://x:4222"}, true,
			func(c Config) bool { return c.Resume && c.NATSURL == "nats://x:4222" }},
		{"off-policy", []string{"--out", "d", "--staleness", "1", "--clip", "0.28"}, true,
			func(c Config) bool { return c.Staleness == 1 && c.Clip == 0.28 }},
		{"transformer", []string{"--out", "d", "--policy", "transformer", "--embed", "32", "--layers", "3", "--heads", "4"}, true,
			func(c Config) bool {
				return c.Policy == "transformer" && c.Embed == 32 && c.Layers == 3 && c.Heads == 4
			}},
		{"heads that do not divide embed", []string{"--out", "d", "--policy", "transformer", "--embed", "30", "--heads", "4"}, false, nil},
		{"unknown policy", []string{"--out", "d", "--policy", "lstm"}, false, nil},
		{"no out", []string{"--steps", "10"}, false, nil},
		{"unknown task", []string{"--out", "d", "--task", "sort4"}, false, nil},
		{"group of one", []string{"--out", "d", "--group", "1"}, false, nil},
		{"bad run id", []string{"--out", "d", "--run", "a.b"}, false, nil},
		{"unknown flag", []string{"--out", "d", "--kl", "0.1"}, false, nil},
		{"stray argument", []string{"--out", "d", "extra"}, false, nil},
		{"help", []string{"-h"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseFlags(tt.args)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !tt.want(cfg) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	if _, err := ParseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("err = %v, want flag.ErrHelp", err)
	}
	var b strings.Builder
	PrintFlags(&b)
	for _, f := range []string{"-steps", "-backend", "-out", "-nats", "-resume"} {
		if !strings.Contains(b.String(), f) {
			t.Errorf("usage lacks %s:\n%s", f, b.String())
		}
	}
}

func TestCheckpointRoundTripAndRejects(t *testing.T) {
	dir := t.TempDir()
	spec := sort3Spec(4, 8)
	ck := &checkpoint{
		Format: checkpointFormat, Run: "r", Task: "sort3", Spec: spec, Prompts: 1, Group: 2, LR: 1e-3, Clip: 0.2,
		Step: 3, Sampled: 4, Policy: policy0(spec),
		Pending: []*group{{JobID: "trainer.r.3.0", Step: 3, Version: 3, Prompt: []int32{1, 2, 3},
			Responses: [][]int32{{1, 2, 3}, {3, 2, 1}}, OldLogp: [][]float32{{-1, -1, -1}, {-2, -2, -2}},
			Rewards: []float64{1, 0}, Have: []bool{true, false}}},
	}
	if err := writeCheckpoint(dir, ck); err != nil {
		t.Fatal(err)
	}
	got, err := readCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 3 || got.Pending[0].Rewards[0] != 1 || !got.Pending[0].Have[0] || got.Pending[0].Have[1] {
		t.Errorf("round trip lost state: %+v", got.Pending[0])
	}
	// No temporary files are left beside it.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the checkpoint", len(entries))
	}

	corrupt := []struct {
		name   string
		mutate func(c *checkpoint)
	}{
		{"pending response outside actions", func(c *checkpoint) { c.Pending[0].Responses[1][0] = 10 }},
		{"pending group of wrong size", func(c *checkpoint) { c.Pending[0].Have = []bool{true} }},
		{"pending group from the future", func(c *checkpoint) { c.Pending[0].Step = 9 }},
		{"params of wrong size", func(c *checkpoint) { c.Policy.Params = c.Policy.Params[1:] }},
		{"foreign spec", func(c *checkpoint) { c.Spec.Actions = 3 }},
		{"bad run id", func(c *checkpoint) { c.Run = "a.b" }},
		{"future format", func(c *checkpoint) { c.Format = 99 }},
	}
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			c, err := readCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(c)
			sub := t.TempDir()
			data, _ := json.Marshal(c)
			if err := os.WriteFile(filepath.Join(sub, checkpointFile), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := readCheckpoint(sub); err == nil {
				t.Error("corrupt checkpoint accepted")
			}
		})
	}
}

func FuzzCheckpoint(f *testing.F) {
	spec := sort3Spec(2, 2)
	good, _ := json.Marshal(&checkpoint{Format: checkpointFormat, Run: "r", Task: "sort3", Spec: spec, Prompts: 1, Group: 2, Policy: policy0(spec)})
	f.Add(good)
	f.Add([]byte(`{"format":1,"pending":[null]}`))
	l := layout{TaskToken: true, PromptSlots: maxPromptLen(), ResponseSlots: 2}
	stage := l.spec(2, 2)
	words := &group{JobID: "trainer.r.0.0", Task: 3, Epoch: 1, Prompt: []int32{1, 0, 2}, Responses: [][]int32{{1, 2, 3}, {4, 5, 6}},
		OldLogp: [][]float32{{0, 0, 0}, {0, 0, 0}}, Rewards: []float64{0, 1}, Have: []bool{true, false}}
	staged, _ := json.Marshal(&checkpoint{Format: checkpointFormat, Run: "r", Spec: stage, Prompts: 1, Group: 2, Sampled: 1, Policy: policy0(stage),
		Tasks: []string{"words", "expr"}, Layout: &l, MaxLen: 3, Temperature: 1.5, Pending: []*group{words},
		Pool: &promptPool{Filter: true, Epoch: 1, Order: []drawn{{Task: 2, Prompt: []int32{2, 1}, Epoch: 1}}, LeftOut: []int{0}}})
	f.Add(staged)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, checkpointFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := readCheckpoint(dir) // must not panic on any input
		if err != nil {
			return
		}
		// What a checkpoint that loads holds must not panic when the run uses it.
		tasks, _ := taskIndexes(ck.Tasks)
		lr := &learner{layout: sort3Layout}
		if ck.Layout != nil {
			lr.layout = *ck.Layout
		}
		row := make([]int32, ck.Spec.Context)
		for _, g := range ck.Pending {
			groupItems(g, g.JobID)
			for _, r := range g.Responses {
				for i := range r {
					lr.layout.fill(row, g.Task, g.Prompt, r, i)
				}
			}
		}
		if ck.Pool != nil && len(tasks) > 0 {
			ck.Pool.draw(3, tasks, rand.New(rand.NewPCG(1, 1)))
		}
	})
}

func TestMetricsKeepOnlyCheckpointedSteps(t *testing.T) {
	dir := t.TempDir()
	body := `{"step":0,"mean_reward":0.1}
{"step":1,"mean_reward":0.2}
{"step":2,"mean_reward":0.3}
{"step":3,"mean_re`
	if err := os.WriteFile(filepath.Join(dir, metricsFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := openMetrics(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.append(Metrics{Step: 2, MeanReward: 0.5}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	lines, err := readMetrics(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[2].Step != 2 || lines[2].MeanReward != 0.5 {
		t.Errorf("lines after reopening at step 2: %+v", lines)
	}
	page := plotHTML(lines, "t <x>")
	if !strings.Contains(page, "<svg") || strings.Count(page, "<polyline") != 2 || strings.Contains(page, "<x>") {
		t.Errorf("plot page malformed:\n%s", page)
	}
}

func policy0(spec policy.Spec) policy.State {
	return policy.NewState(spec.Init(rand.New(rand.NewPCG(1, 1))))
}
