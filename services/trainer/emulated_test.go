//go:build cgo

package trainer

import (
	"io"
	"testing"

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
		return cuda.NewOn(drv, spec, st)
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
