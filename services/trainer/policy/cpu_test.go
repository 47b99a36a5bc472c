package policy

import (
	"math"
	"math/rand/v2"
	"testing"
)

var testSpec = Spec{Vocab: 7, Actions: 5, Context: 3, Embed: 4, Hidden: 6}

// randomState is a state with every parameter nonzero, so each gradient is exercised.
func randomState(s Spec, seed uint64) State {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := s.Init(rng)
	l := s.Layout()
	for i := l.W2; i < l.Total; i++ {
		p[i] = float32(rng.NormFloat64() * 0.5)
	}
	return NewState(p)
}

func randomBatch(s Spec, n int, seed uint64) (contexts, actions []int32, coef []float32) {
	rng := rand.New(rand.NewPCG(seed, 2))
	contexts = make([]int32, n*s.Context)
	for i := range contexts {
		contexts[i] = int32(rng.IntN(s.Vocab))
	}
	actions = make([]int32, n)
	coef = make([]float32, n)
	for i := range actions {
		actions[i] = int32(rng.IntN(s.Actions))
		coef[i] = float32(rng.NormFloat64())
	}
	return contexts, actions, coef
}

// objective is Σ coef_i·logp_i in float64, the function Backward differentiates.
func objective(t *testing.T, be Backend, contexts, actions []int32, coef []float32) float64 {
	t.Helper()
	logp := make([]float32, len(actions))
	if err := be.Forward(contexts, actions, logp); err != nil {
		t.Fatal(err)
	}
	var f float64
	for i, l := range logp {
		f += float64(coef[i]) * float64(l)
	}
	return f
}

// TestCPUGradientCheck compares Backward with central finite differences of the
// objective for every parameter of a small network.
func TestCPUGradientCheck(t *testing.T) {
	// A float64 copy of the network would check tighter; float32 with h = 1e-2 and a
	// relative tolerance keeps rounding out of the comparison while a wrong index or
	// a missing term still fails by orders of magnitude.
	st := randomState(testSpec, 1)
	contexts, actions, coef := randomBatch(testSpec, 24, 3)
	be, err := NewCPU(testSpec, st, 1)
	if err != nil {
		t.Fatal(err)
	}
	logp := make([]float32, len(actions))
	if err := be.Forward(contexts, actions, logp); err != nil {
		t.Fatal(err)
	}
	if err := be.Backward(coef); err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, testSpec.Layout().Total)
	if err := be.Gradient(grad); err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	worst := 0.0
	for i := range grad {
		orig := st.Params[i]
		probe := func(v float32) float64 {
			p := append([]float32(nil), st.Params...)
			p[i] = v
			b, err := NewCPU(testSpec, NewState(p), 1)
			if err != nil {
				t.Fatal(err)
			}
			return objective(t, b, contexts, actions, coef)
		}
		fd := (probe(orig+h) - probe(orig-h)) / (2 * h)
		diff := math.Abs(fd - float64(grad[i]))
		if diff > 2e-3+2e-2*math.Abs(fd) {
			t.Errorf("param %d: backward %.6f, finite difference %.6f", i, grad[i], fd)
		}
		worst = max(worst, diff)
	}
	t.Logf("%d parameters, largest |backward − finite difference| = %.2e", len(grad), worst)
}

func TestCPUProbsAndForwardAgree(t *testing.T) {
	st := randomState(testSpec, 5)
	be, err := NewCPU(testSpec, st, 2)
	if err != nil {
		t.Fatal(err)
	}
	contexts, actions, _ := randomBatch(testSpec, 300, 6)
	probs := make([]float32, 300*testSpec.Actions)
	if err := be.Probs(contexts, probs); err != nil {
		t.Fatal(err)
	}
	logp := make([]float32, 300)
	if err := be.Forward(contexts, actions, logp); err != nil {
		t.Fatal(err)
	}
	for r := range 300 {
		var sum float64
		for _, p := range probs[r*testSpec.Actions : (r+1)*testSpec.Actions] {
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("row %d: probabilities sum to %v", r, sum)
		}
		if want := math.Log(float64(probs[r*testSpec.Actions+int(actions[r])])); math.Abs(float64(logp[r])-want) > 1e-5 {
			t.Fatalf("row %d: forward logp %v, log of probs %v", r, logp[r], want)
		}
	}
}

func TestInitialPolicyIsUniform(t *testing.T) {
	s := Spec{Vocab: 11, Actions: 10, Context: 5, Embed: 8, Hidden: 16}
	be, err := NewCPU(s, NewState(s.Init(rand.New(rand.NewPCG(1, 1)))), 1)
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float32, s.Actions)
	if err := be.Probs([]int32{1, 2, 3, 10, 10}, probs); err != nil {
		t.Fatal(err)
	}
	for a, p := range probs {
		if math.Abs(float64(p)-0.1) > 1e-6 {
			t.Errorf("π(%d) = %v at init, want 0.1", a, p)
		}
	}
}

// Splitting rows across workers must not change the gradient beyond rounding.
func TestCPUWorkersAgree(t *testing.T) {
	contexts, actions, coef := randomBatch(testSpec, 500, 9)
	grads := make([][]float32, 2)
	for i, workers := range []int{1, 4} {
		be, err := NewCPU(testSpec, randomState(testSpec, 2), workers)
		if err != nil {
			t.Fatal(err)
		}
		logp := make([]float32, len(actions))
		if err := be.Forward(contexts, actions, logp); err != nil {
			t.Fatal(err)
		}
		if err := be.Backward(coef); err != nil {
			t.Fatal(err)
		}
		grads[i] = make([]float32, testSpec.Layout().Total)
		if err := be.Gradient(grads[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range grads[0] {
		if d := math.Abs(float64(grads[0][i] - grads[1][i])); d > 1e-4*(1+math.Abs(float64(grads[0][i]))) {
			t.Fatalf("param %d: 1 worker %v, 4 workers %v", i, grads[0][i], grads[1][i])
		}
	}
}

// Adam's first bias-corrected step moves every parameter with a gradient by lr
// against the gradient's sign.
func TestAdamFirstStep(t *testing.T) {
	params := []float32{1, -2, 0.5}
	grad := []float32{0.3, -4, 0}
	m, v := make([]float32, 3), make([]float32, 3)
	AdamUpdate(params, m, v, grad, DefaultAdam(0.01), 1)
	want := []float32{0.99, -1.99, 0.5}
	for i := range params {
		if math.Abs(float64(params[i]-want[i])) > 1e-6 {
			t.Errorf("param %d = %v, want %v", i, params[i], want[i])
		}
	}
}

func TestCPUStateRoundTrip(t *testing.T) {
	be, err := NewCPU(testSpec, randomState(testSpec, 3), 1)
	if err != nil {
		t.Fatal(err)
	}
	contexts, actions, coef := randomBatch(testSpec, 10, 4)
	logp := make([]float32, 10)
	for range 3 {
		if err := be.Forward(contexts, actions, logp); err != nil {
			t.Fatal(err)
		}
		if err := be.Backward(coef); err != nil {
			t.Fatal(err)
		}
		if err := be.Step(DefaultAdam(0.01)); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := be.State()
	if st.T != 3 {
		t.Fatalf("Adam step count %d, want 3", st.T)
	}
	other, _ := NewCPU(testSpec, randomState(testSpec, 99), 1)
	if err := other.Load(st); err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, 10), make([]float32, 10)
	_ = be.Forward(contexts, actions, a)
	_ = other.Forward(contexts, actions, b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d: %v after load, want %v", i, b[i], a[i])
		}
	}
}

func TestCPURejectsBadInput(t *testing.T) {
	be, err := NewCPU(testSpec, randomState(testSpec, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		contexts []int32
		actions  []int32
		logp     int
	}{
		{"ragged context", []int32{1, 2}, []int32{0}, 1},
		{"token outside vocabulary", []int32{1, 2, 7}, []int32{0}, 1},
		{"negative token", []int32{1, -1, 2}, []int32{0}, 1},
		{"action outside actions", []int32{1, 2, 3}, []int32{5}, 1},
		{"short output", []int32{1, 2, 3, 1, 2, 3}, []int32{0, 1}, 1},
		{"missing action", []int32{1, 2, 3}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := be.Forward(tt.contexts, tt.actions, make([]float32, tt.logp)); err == nil {
				t.Error("accepted")
			}
		})
	}
	if err := be.Backward(make([]float32, 3)); err == nil {
		t.Error("backward with more coefficients than rows accepted")
	}
	if err := be.Load(State{Params: []float32{1}}); err == nil {
		t.Error("load of a state of the wrong size accepted")
	}
	if _, err := NewCPU(Spec{Vocab: 3, Actions: 4, Context: 1, Embed: 1, Hidden: 1}, State{}, 1); err == nil {
		t.Error("spec with more actions than vocabulary accepted")
	}
}
