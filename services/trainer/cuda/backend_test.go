//go:build cuda

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// The sort3 network's shape, at the widths the trainer uses.
var spec = policy.Spec{Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 128}

func newPair(t testing.TB) (*policy.CPU, *Backend) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("CUDA: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	p := spec.Init(rng)
	l := spec.Layout()
	for i := l.W2; i < l.Total; i++ { // nonzero output layer, so every gradient is exercised
		p[i] = float32(rng.NormFloat64() * 0.3)
	}
	cpu, err := policy.NewCPU(spec, policy.NewState(append([]float32(nil), p...)), 1)
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := New(spec, policy.NewState(append([]float32(nil), p...)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpu.Close() })
	return cpu, gpu
}

func batch(n int) (contexts, actions []int32, coef []float32) {
	rng := rand.New(rand.NewPCG(3, 4))
	contexts = make([]int32, n*spec.Context)
	for i := range contexts {
		contexts[i] = int32(rng.IntN(spec.Vocab))
	}
	actions, coef = make([]int32, n), make([]float32, n)
	for i := range actions {
		actions[i] = int32(rng.IntN(spec.Actions))
		coef[i] = float32(rng.NormFloat64() / float64(n))
	}
	return contexts, actions, coef
}

func assertClose(t *testing.T, what string, cpu, gpu []float32, tol float64) {
	t.Helper()
	if len(cpu) != len(gpu) {
		t.Fatalf("%s: %d values on CPU, %d on GPU", what, len(cpu), len(gpu))
	}
	worst := 0.0
	for i := range cpu {
		d := math.Abs(float64(cpu[i] - gpu[i]))
		worst = max(worst, d)
		if d > tol {
			t.Fatalf("%s[%d]: CPU %v, CUDA %v (|Δ| %.2e > %.0e)", what, i, cpu[i], gpu[i], d, tol)
		}
	}
	t.Logf("%s: %d values, largest |CPU − CUDA| %.2e", what, len(cpu), worst)
}

// TestCUDAMatchesCPUOnAStep runs one full training step (probabilities, forward,
// backward, Adam) on both backends from the same state and compares every output to 1e-4.
func TestCUDAMatchesCPUOnAStep(t *testing.T) {
	cpu, gpu := newPair(t)
	contexts, actions, coef := batch(768)

	probs := [2][]float32{make([]float32, 768*spec.Actions), make([]float32, 768*spec.Actions)}
	logp := [2][]float32{make([]float32, 768), make([]float32, 768)}
	grad := [2][]float32{make([]float32, spec.Layout().Total), make([]float32, spec.Layout().Total)}
	var states [2]policy.State
	for i, be := range []policy.Backend{cpu, gpu} {
		if err := be.Probs(contexts, probs[i]); err != nil {
			t.Fatal(err)
		}
		if err := be.Forward(contexts, actions, logp[i]); err != nil {
			t.Fatal(err)
		}
		if err := be.Backward(coef); err != nil {
			t.Fatal(err)
		}
		if err := be.Gradient(grad[i]); err != nil {
			t.Fatal(err)
		}
		if err := be.Step(policy.DefaultAdam(3e-3)); err != nil {
			t.Fatal(err)
		}
		var err error
		if states[i], err = be.State(); err != nil {
			t.Fatal(err)
		}
	}
	assertClose(t, "probs", probs[0], probs[1], 1e-4)
	assertClose(t, "logp", logp[0], logp[1], 1e-4)
	assertClose(t, "gradient", grad[0], grad[1], 1e-4)
	assertClose(t, "params after Adam", states[0].Params, states[1].Params, 1e-4)
	assertClose(t, "Adam m", states[0].M, states[1].M, 1e-4)
	assertClose(t, "Adam v", states[0].V, states[1].V, 1e-4)
	if states[0].T != states[1].T {
		t.Errorf("Adam steps: CPU %d, CUDA %d", states[0].T, states[1].T)
	}
}

func TestCUDARejectsBadInput(t *testing.T) {
	_, gpu := newPair(t)
	if err := gpu.Forward([]int32{1, 2, 3, 4, 11}, []int32{0}, make([]float32, 1)); err == nil {
		t.Error("token outside vocabulary accepted")
	}
	if err := gpu.Backward(make([]float32, 5)); err == nil {
		t.Error("backward without forward accepted")
	}
}

func BenchmarkCUDATrainStep(b *testing.B) {
	_, gpu := newPair(b)
	contexts, actions, coef := batch(768)
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
