//go:build cuda

package cuda

import (
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// These run on a GPU. On a machine without an NVIDIA driver the test binary does not
// get here: cuda/gpuprobe prints a SKIP and exits 0 before gorgonia.org/cu's init.

func newGPU(t testing.TB, st policy.State) *Backend {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("CUDA: %v", err)
	}
	gpu, err := New(spec, cloneState(st))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpu.Close() })
	return gpu
}

// TestCUDAMatchesCPUOnAStep runs one full training step (probabilities, forward,
// backward, Adam) on both backends from the same state and compares every output to 1e-4.
func TestCUDAMatchesCPUOnAStep(t *testing.T) {
	st := startState()
	compareStep(t, newGPU(t, st), st, 768, 3)
}

func TestCUDARejectsBadInput(t *testing.T) {
	compareRejects(t, newGPU(t, startState()))
}

func BenchmarkCUDATrainStep(b *testing.B) {
	gpu := newGPU(b, startState())
	contexts, actions, coef := batch(768, 3)
	logp := make([]float32, 768)
	b.ReportAllocs()
	for b.Loop() {
		if err := gpu.Forward(contexts, actions, logp); err != nil {
			b.Fatal(err)
		}
		if err := gpu.Backward(coef); err != nil {
			b.Fatal(err)
		}
		if err := gpu.Step(policy.DefaultAdam(1e-3)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(768*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
