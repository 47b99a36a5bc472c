//go:build cuda

package cuda

import (
	"fmt"
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

// TestCUDATransformerMatchesCPUOnAStep is the transformer's step on the GPU and on the
// CPU, agreeing to 1e-4, at the emulated test's widths and at the trainer's.
func TestCUDATransformerMatchesCPUOnAStep(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("CUDA: %v", err)
	}
	for _, s := range []policy.Spec{tfEmuSpec, tfBenchSpec} {
		st := tfStartState(s)
		gpu, err := NewPolicy(s, cloneState(st))
		if err != nil {
			t.Fatal(err)
		}
		compareTransformerStep(t, gpu, st, 768, 3)
		gpu.Close()
	}
}

// tfBenchSpec is the transformer `rewardmesh train --policy transformer` trains on sort3.
var tfBenchSpec = policy.Spec{Model: policy.ModelTransformer, Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 128, Layers: 2, Heads: 2}

// BenchmarkTransformerTrainStep is a training step of the transformer on the GPU and on
// all CPU cores, at the trainer's batch (768 tokens) and at one 16 times larger.
func BenchmarkTransformerTrainStep(b *testing.B) {
	for _, rows := range []int{768, 12288} {
		for _, name := range []string{"cpu", "cuda"} {
			b.Run(fmt.Sprintf("%s/rows=%d", name, rows), func(b *testing.B) {
				st := tfStartState(tfBenchSpec)
				var be policy.Backend
				var err error
				if name == "cuda" {
					if err := Available(); err != nil {
						b.Skipf("CUDA: %v", err)
					}
					be, err = NewPolicy(tfBenchSpec, cloneState(st))
				} else {
					be, err = policy.NewTransformer(tfBenchSpec, cloneState(st), 0)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				contexts, actions, coef := tfBatch(tfBenchSpec, rows, 3)
				logp := make([]float32, rows)
				for b.Loop() {
					if err := be.Forward(contexts, actions, logp); err != nil {
						b.Fatal(err)
					}
					if err := be.Backward(coef); err != nil {
						b.Fatal(err)
					}
					if err := be.Step(policy.DefaultAdam(1e-4)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
