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

// tfTrainStep runs probabilities, forward, backward and Adam over rows on be.
func tfTrainStep(t *testing.T, be policy.Backend, contexts, actions []int32, coef []float32) stepOutputs {
	t.Helper()
	s := be.Spec()
	n := len(actions)
	out := stepOutputs{probs: make([]float32, n*s.Actions), logp: make([]float32, n), grad: make([]float32, s.Size())}
	if err := be.Probs(contexts, out.probs); err != nil {
		t.Fatalf("%s probs: %v", be.Name(), err)
	}
	if err := be.Forward(contexts, actions, out.logp); err != nil {
		t.Fatalf("%s forward: %v", be.Name(), err)
	}
	if err := be.Backward(coef); err != nil {
		t.Fatalf("%s backward: %v", be.Name(), err)
	}
	if err := be.Gradient(out.grad); err != nil {
		t.Fatalf("%s gradient: %v", be.Name(), err)
	}
	if err := be.Step(policy.DefaultAdam(3e-3)); err != nil {
		t.Fatalf("%s step: %v", be.Name(), err)
	}
	var err error
	if out.state, err = be.State(); err != nil {
		t.Fatalf("%s state: %v", be.Name(), err)
	}
	return out
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
	want := tfTrainStep(t, cpu, contexts, actions, coef)
	got := tfTrainStep(t, gpu, contexts, actions, coef)
	assertClose(t, "probs", want.probs, got.probs, 1e-4)
	assertClose(t, "logp", want.logp, got.logp, 1e-4)
	assertClose(t, "gradient", want.grad, got.grad, 1e-4)
	assertClose(t, "params after Adam", want.state.Params, got.state.Params, 1e-4)
	assertClose(t, "Adam m", want.state.M, got.state.M, 1e-4)
	assertClose(t, "Adam v", want.state.V, got.state.V, 1e-4)
	if want.state.T != got.state.T {
		t.Errorf("Adam steps: CPU %d, CUDA %d", want.state.T, got.state.T)
	}
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
