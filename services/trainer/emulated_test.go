//go:build cgo

package trainer

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/trainer/cuda"
	"github.com/rewardmesh/rewardmesh/services/trainer/cuda/kernels"
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// The trainer's whole loop on the CUDA backend's host code, with kernels.Emulator in
// place of the GPU: sampling, updates, checkpoints and resume go through the same
// buffers and launches as on a GPU.
func init() {
	backends["cuda-emulated"] = func(spec policy.Spec, st policy.State, _ Config) (policy.Backend, error) {
		drv, err := kernels.NewEmulator()
		if err != nil {
			return nil, err
		}
		return cuda.NewPolicyOn(drv, spec, st)
	}
}

func TestRunLearnsOnEmulatedCUDA(t *testing.T) {
	if testing.Short() {
		t.Skip("a 300-step run; run without -short")
	}
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	cfg := DefaultConfig()
	cfg.Out, cfg.Run, cfg.Backend, cfg.Quiet = t.TempDir(), "emulated", "cuda-emulated", true
	cfg.Steps = 150
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	cfg.Steps, cfg.Resume = 300, true
	if err := Run(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	lines := readLines(t, cfg)
	first, last := meanReward(lines[:50]), meanReward(lines[len(lines)-50:])
	t.Logf("mean reward first 50 steps %.3f, last 50 %.3f", first, last)
	if first > 0.3 || last < first+0.2 {
		t.Errorf("mean reward first 50 = %.3f, last 50 = %.3f: want it to start at chance and rise by 0.2", first, last)
	}
}

// A cascade on the CUDA backend's host code: the cascade network (a task token,
// vocabulary 15) through the same launches as on a GPU, a stage from the last one's
// checkpoint, and the eval's own backend.
func TestCascadeOnEmulatedCUDA(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	file := filepath.Join(t.TempDir(), "cascade.json")
	spec := `{"run": "cu", "hidden": 16, "eval_samples": 2, "stages": [
		{"name": "one", "tasks": ["add"], "steps": 4, "prompts": 4, "group": 4, "max_len": 1, "lr": 0.01},
		{"name": "two", "tasks": ["add", "sort3"], "steps": 3, "prompts": 4, "group": 4, "max_len": 3, "temperature": 1.5, "filter": true}]}`
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := CascadeConfig{File: file, Out: t.TempDir(), Backend: "cuda-emulated", Quiet: true, RewardTimeout: time.Minute, AckWait: time.Second}
	if err := RunCascade(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	st := readCascadeState(t, cfg.Out)
	if len(st.Matrix.Rows) != 2 || st.Matrix.Rows[1].N["sort3"] != 64*2 || st.Matrix.Rows[1].N["add"] != 25*2 {
		t.Errorf("matrix %+v", st.Matrix)
	}
	for _, m := range readLines(t, Config{Out: filepath.Join(cfg.Out, "stage2-two"), Steps: 3}) {
		if (m.Backend != "cuda" && m.Backend != "cuda-emulated") || m.ResultsApplied != 16 {
			t.Errorf("stage two step %d: backend %q, %d rewards", m.Step, m.Backend, m.ResultsApplied)
		}
	}
}

// The transformer through a cascade on the CUDA kernels (emulated): two stages, the
// second from the first's checkpoint, and the eval, at widths the emulator runs fast.
func TestTransformerCascadeOnEmulatedCUDA(t *testing.T) {
	ctx := t.Context()
	nc := startNATS(t)
	(&testWorker{}).start(t, ctx, nc)
	file := filepath.Join(t.TempDir(), "cascade.yaml")
	spec := `run: cutf
policy: transformer
embed: 8
hidden: 16
layers: 1
heads: 2
eval_samples: 1
stages:
  - {name: one, tasks: [add], steps: 3, prompts: 4, group: 4, max_len: 1, lr: 0.01}
  - {name: two, tasks: [add, words], steps: 2, prompts: 4, group: 4, max_len: 3}
`
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := CascadeConfig{File: file, Out: t.TempDir(), Backend: "cuda-emulated", Quiet: true, RewardTimeout: time.Minute, AckWait: time.Second}
	if err := RunCascade(ctx, cfg, nc, io.Discard); err != nil {
		t.Fatal(err)
	}
	st := readCascadeState(t, cfg.Out)
	if len(st.Matrix.Rows) != 2 || st.Matrix.Rows[1].N["add"] == 0 || st.Matrix.Rows[1].N["words"] == 0 {
		t.Errorf("matrix %+v", st.Matrix)
	}
	ck, err := readCheckpoint(filepath.Join(cfg.Out, "stage2-two"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Spec.Model != policy.ModelTransformer || ck.Spec.Layers != 1 || ck.Spec.Heads != 2 || ck.Step != 2 {
		t.Errorf("stage two's checkpoint: spec %+v at step %d", ck.Spec, ck.Step)
	}
}
