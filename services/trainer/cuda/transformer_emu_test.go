//go:build cgo

package cuda

import (
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/cuda/kernels"
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

func newEmulatedTransformer(t testing.TB, s policy.Spec, st policy.State) *Transformer {
	t.Helper()
	drv, err := kernels.NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTransformerOn(drv, s, cloneState(st))
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

// TestEmulatedCUDATransformerMatchesCPUOnAStep is the transformer's GRPO step on the
// CUDA kernels (emulated) and on the CPU backend, agreeing to 1e-4.
func TestEmulatedCUDATransformerMatchesCPUOnAStep(t *testing.T) {
	st := tfStartState(tfEmuSpec)
	compareTransformerStep(t, newEmulatedTransformer(t, tfEmuSpec, st), st, 48, 3)
}

// Two steps on batches of different sizes (the buffers are reallocated between), then
// a checkpoint carried on in a new backend.
func TestEmulatedCUDATransformerOverSteps(t *testing.T) {
	st := tfStartState(tfEmuSpec)
	cpu, err := policy.NewTransformer(tfEmuSpec, cloneState(st), 1)
	if err != nil {
		t.Fatal(err)
	}
	gpu := newEmulatedTransformer(t, tfEmuSpec, st)
	for i, rows := range []int{3, 300} {
		contexts, actions, coef := tfBatch(tfEmuSpec, rows, uint64(20+i))
		want := trainStep(t, cpu, contexts, actions, coef)
		got := trainStep(t, gpu, contexts, actions, coef)
		assertClose(t, "gradient", want.grad, got.grad, 1e-4)
		assertClose(t, "params", want.state.Params, got.state.Params, 1e-4)
	}
	ckpt, err := gpu.State()
	if err != nil {
		t.Fatal(err)
	}
	compareTransformerStep(t, newEmulatedTransformer(t, tfEmuSpec, ckpt), ckpt, 16, 99)
}

// Forward first, on a fresh backend, then on a batch that outgrows its buffers, with no
// Probs call to allocate or reallocate them beforehand (as a training step runs).
func TestEmulatedCUDATransformerForwardFirst(t *testing.T) {
	st := tfStartState(tfEmuSpec)
	cpu, err := policy.NewTransformer(tfEmuSpec, cloneState(st), 1)
	if err != nil {
		t.Fatal(err)
	}
	gpu := newEmulatedTransformer(t, tfEmuSpec, st)
	for i, rows := range []int{3, 700} {
		contexts, actions, coef := tfBatch(tfEmuSpec, rows, uint64(40+i))
		want, got := make([]float32, rows), make([]float32, rows)
		for _, be := range []struct {
			b    policy.Backend
			logp []float32
		}{{cpu, want}, {gpu, got}} {
			if err := be.b.Forward(contexts, actions, be.logp); err != nil {
				t.Fatalf("%s forward of %d rows: %v", be.b.Name(), rows, err)
			}
			if err := be.b.Backward(coef); err != nil {
				t.Fatalf("%s backward of %d rows: %v", be.b.Name(), rows, err)
			}
		}
		assertClose(t, "logp", want, got, 1e-4)
	}
}

func TestEmulatedCUDATransformerRejects(t *testing.T) {
	gpu := newEmulatedTransformer(t, tfEmuSpec, tfStartState(tfEmuSpec))
	if err := gpu.Forward([]int32{1, 2, 3, 4, 11}, []int32{0}, make([]float32, 1)); err == nil {
		t.Error("token outside vocabulary accepted")
	}
	if err := gpu.Backward(make([]float32, 2)); err == nil {
		t.Error("backward without forward accepted")
	}
	drv, err := kernels.NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	mlp := tfEmuSpec
	mlp.Model, mlp.Layers, mlp.Heads = policy.ModelMLP, 0, 0
	if _, err := NewTransformerOn(drv, mlp, policy.NewState(make([]float32, mlp.Size()))); err == nil || !strings.Contains(err.Error(), "not a transformer") {
		t.Errorf("an MLP spec: err = %v", err)
	}
}
