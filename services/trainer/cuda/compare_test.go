package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// These helpers compare the CUDA backend with the CPU backend; they run on a GPU
// (backend_test.go, -tags cuda) and on the emulator (emu_test.go, every machine).

// The sort3 network's shape, at the widths the trainer uses.
var spec = policy.Spec{Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 128}

// startState is a network with a nonzero output layer, so that every gradient is
// exercised (Init starts W2 and b2 at zero).
func startState() policy.State {
	rng := rand.New(rand.NewPCG(1, 2))
	p := spec.Init(rng)
	l := spec.Layout()
	for i := l.W2; i < l.Total; i++ {
		p[i] = float32(rng.NormFloat64() * 0.3)
	}
	return policy.NewState(p)
}

func cloneState(st policy.State) policy.State {
	return policy.State{
		Params: append([]float32(nil), st.Params...),
		M:      append([]float32(nil), st.M...),
		V:      append([]float32(nil), st.V...),
		T:      st.T,
	}
}

// newCPU is the reference backend, one goroutine, from st.
func newCPU(t testing.TB, st policy.State) *policy.CPU {
	t.Helper()
	cpu, err := policy.NewCPU(spec, cloneState(st), 1)
	if err != nil {
		t.Fatal(err)
	}
	return cpu
}

// batch is n rows of random contexts, actions and loss coefficients, drawn from seed.
func batch(n int, seed uint64) (contexts, actions []int32, coef []float32) {
	rng := rand.New(rand.NewPCG(seed, 4))
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
		t.Fatalf("%s: %d values on CPU, %d on CUDA", what, len(cpu), len(gpu))
	}
	worst := 0.0
	for i := range cpu {
		d := math.Abs(float64(cpu[i] - gpu[i]))
		if math.IsNaN(d) {
			t.Fatalf("%s[%d]: CPU %v, CUDA %v", what, i, cpu[i], gpu[i])
		}
		worst = max(worst, d)
		if d > tol {
			t.Fatalf("%s[%d]: CPU %v, CUDA %v (|Δ| %.2e > %.0e)", what, i, cpu[i], gpu[i], d, tol)
		}
	}
	t.Logf("%s: %d values, largest |CPU − CUDA| %.2e", what, len(cpu), worst)
}

// stepOutputs is everything one training step produces.
type stepOutputs struct {
	probs, logp, grad []float32
	state             policy.State
}

// trainStep runs one full step (probabilities, forward, backward, Adam) of rows on be,
// for either model.
func trainStep(t *testing.T, be policy.Backend, contexts, actions []int32, coef []float32) stepOutputs {
	t.Helper()
	n, s := len(actions), be.Spec()
	out := stepOutputs{
		probs: make([]float32, n*s.Actions),
		logp:  make([]float32, n),
		grad:  make([]float32, s.Size()),
	}
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

// compareStep runs one step of rows on the CPU backend and on gpu, both from st, and
// requires every output to agree to 1e-4.
func compareStep(t *testing.T, gpu policy.Backend, st policy.State, rows int, seed uint64) {
	t.Helper()
	cpu := newCPU(t, st)
	contexts, actions, coef := batch(rows, seed)
	want := trainStep(t, cpu, contexts, actions, coef)
	got := trainStep(t, gpu, contexts, actions, coef)
	assertStepsAgree(t, want, got)
}

// assertStepsAgree requires every output of two steps to agree to 1e-4.
func assertStepsAgree(t *testing.T, want, got stepOutputs) {
	t.Helper()
	assertClose(t, "probs", want.probs, got.probs, 1e-4)
	assertClose(t, "logp", want.logp, got.logp, 1e-4)
	assertClose(t, "gradient", want.grad, got.grad, 1e-4)
	assertClose(t, "params after Adam", want.state.Params, got.state.Params, 1e-4)
	assertClose(t, "Adam m", want.state.M, got.state.M, 1e-4)
	assertClose(t, "Adam v", want.state.V, got.state.V, 1e-4)
	if want.state.T != got.state.T {
		t.Errorf("Adam steps: CPU %d, CUDA %d", want.state.T, got.state.T)
	}
}

// compareRejects checks that gpu refuses what the CPU backend refuses, with an error.
func compareRejects(t *testing.T, gpu policy.Backend) {
	t.Helper()
	if err := gpu.Forward([]int32{1, 2, 3, 4, 11}, []int32{0}, make([]float32, 1)); err == nil {
		t.Error("token outside vocabulary accepted")
	}
	if err := gpu.Forward([]int32{1, 2, 3, 4, 5}, []int32{10}, make([]float32, 1)); err == nil {
		t.Error("action outside the actions accepted")
	}
	if err := gpu.Backward(make([]float32, 5)); err == nil {
		t.Error("backward without forward accepted")
	}
	logp := make([]float32, 1)
	if err := gpu.Forward([]int32{1, 2, 3, 4, 5}, []int32{0}, logp); err != nil {
		t.Fatal(err)
	}
	if err := gpu.Probs([]int32{1, 2, 3, 4, 5}, make([]float32, spec.Actions)); err != nil {
		t.Fatal(err)
	}
	if err := gpu.Backward(make([]float32, 1)); err == nil {
		t.Error("backward after a Probs call accepted: Probs overwrote what Forward kept")
	}
	if err := gpu.Step(policy.Adam{LR: -1, Beta1: 0.9, Beta2: 0.999}); err == nil {
		t.Error("negative learning rate accepted")
	}
	if err := gpu.Load(policy.State{Params: make([]float32, 3)}); err == nil {
		t.Error("state of the wrong size accepted")
	}
}
