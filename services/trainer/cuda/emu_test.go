//go:build cgo

package cuda

import (
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/cuda/kernels"
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// The CUDA backend's host code on kernels.Emulator: the kernels' own source compiled
// for the CPU, behind the calls the backend makes of the driver. What only a GPU can
// show (nvcc's PTX, gorgonia.org/cu) is in backend_test.go, -tags cuda.

func newEmulated(t testing.TB, st policy.State) *Backend {
	t.Helper()
	drv, err := kernels.NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewOn(drv, spec, cloneState(st))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

func TestEmulatedCUDAMatchesCPUOnAStep(t *testing.T) {
	st := startState()
	compareStep(t, newEmulated(t, st), st, 768, 3)
}

// TestEmulatedCUDAMatchesCPUOverSteps trains both backends side by side on batches that
// grow and shrink (the device buffers are reallocated on the way), then checkpoints
// the CUDA one and carries on from the checkpoint in a new backend.
func TestEmulatedCUDAMatchesCPUOverSteps(t *testing.T) {
	st := startState()
	cpu, gpu := newCPU(t, st), newEmulated(t, st)
	for i, rows := range []int{1, 48, 1500, 7, 2100, 768} {
		contexts, actions, coef := batch(rows, uint64(10+i))
		want := trainStep(t, cpu, contexts, actions, coef)
		got := trainStep(t, gpu, contexts, actions, coef)
		assertClose(t, "logp", want.logp, got.logp, 1e-4)
		assertClose(t, "gradient", want.grad, got.grad, 1e-4)
		assertClose(t, "params", want.state.Params, got.state.Params, 1e-4)
	}
	ckpt, err := gpu.State()
	if err != nil {
		t.Fatal(err)
	}
	if ckpt.T != 6 {
		t.Errorf("checkpoint after 6 steps has Adam step %d", ckpt.T)
	}
	resumed := newEmulated(t, ckpt)
	compareStep(t, resumed, ckpt, 300, 99)
}

func TestEmulatedCUDARejectsBadInput(t *testing.T) {
	compareRejects(t, newEmulated(t, startState()))
}

func TestEmulatedCUDAClosed(t *testing.T) {
	drv, err := kernels.NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewOn(drv, spec, startState())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := b.State(); err == nil {
		t.Error("State on a closed backend succeeded")
	}
}

func TestNewOnRejectsBadState(t *testing.T) {
	drv, err := kernels.NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewOn(drv, spec, policy.NewState(make([]float32, 5))); err == nil {
		t.Error("a state that does not fit the spec was accepted")
	}
}
