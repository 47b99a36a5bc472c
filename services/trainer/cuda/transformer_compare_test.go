package cuda

import (
	"math/rand/v2"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// The transformer's CUDA-vs-CPU comparison, run on the emulator (transformer_emu_test.go,
// every machine) and on a GPU (backend_test.go, -tags cuda).

// tfEmuSpec is small, for the emulator, which runs every thread of every launch twice
// on one core; sort3's vocabulary and context, two blocks of two heads.
var tfEmuSpec = policy.Spec{Model: policy.ModelTransformer, Vocab: 11, Actions: 10, Context: 5, Embed: 8, Hidden: 16, Layers: 2, Heads: 2}

// tfStartState is a transformer with a nonzero head, so that every gradient is
// exercised (Init starts the head at zero).
func tfStartState(s policy.Spec) policy.State {
	rng := rand.New(rand.NewPCG(3, 4))
	p := s.Init(rng)
	l := s.TransformerLayout()
	for i := l.Out; i < l.Total; i++ {
		p[i] = float32(rng.NormFloat64() * 0.3)
	}
	return policy.NewState(p)
}

func tfBatch(s policy.Spec, n int, seed uint64) (contexts, actions []int32, coef []float32) {
	rng := rand.New(rand.NewPCG(seed, 5))
	contexts = make([]int32, n*s.Context)
	for i := range contexts {
		contexts[i] = int32(rng.IntN(s.Vocab))
	}
	actions, coef = make([]int32, n), make([]float32, n)
	for i := range actions {
		actions[i] = int32(rng.IntN(s.Actions))
		coef[i] = float32(rng.NormFloat64() / float64(n))
	}
	return contexts, actions, coef
}

// compareTransformerStep runs one GRPO step of rows on the CPU transformer and on
// gpu, both from st, and requires every output to agree to 1e-4.
func compareTransformerStep(t *testing.T, gpu policy.Backend, st policy.State, rows int, seed uint64) {
	t.Helper()
	s := gpu.Spec()
	cpu, err := policy.NewTransformer(s, cloneState(st), 1)
	if err != nil {
		t.Fatal(err)
	}
	contexts, actions, coef := tfBatch(s, rows, seed)
	want := trainStep(t, cpu, contexts, actions, coef)
	got := trainStep(t, gpu, contexts, actions, coef)
	assertStepsAgree(t, want, got)
	nonzero := 0
	for _, g := range want.grad {
		if g != 0 {
			nonzero++
		}
	}
	if nonzero < len(want.grad)*9/10 {
		t.Errorf("only %d of %d gradient values are nonzero: the comparison exercises too little", nonzero, len(want.grad))
	}
}
