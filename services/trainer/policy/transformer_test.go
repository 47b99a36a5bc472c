package policy

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var tfSpec = Spec{Model: ModelTransformer, Vocab: 7, Actions: 5, Context: 4, Embed: 8, Hidden: 12, Layers: 2, Heads: 2}

// tfRandomState is a transformer with a nonzero head and perturbed LayerNorm gains
// and biases, so that every tensor's gradient is exercised.
func tfRandomState(s Spec, seed uint64) State {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := s.Init(rng)
	l := s.TransformerLayout()
	perturb := func(from, n int, scale float64) {
		for i := range n {
			p[from+i] += float32(rng.NormFloat64() * scale)
		}
	}
	for _, b := range l.Blocks {
		for _, off := range []int{b.Ln1G, b.Ln1B, b.Ln2G, b.Ln2B, b.B2} {
			perturb(off, s.Embed, 0.2)
		}
		perturb(b.B1, s.Hidden, 0.2)
	}
	perturb(l.LnG, s.Embed, 0.2)
	perturb(l.LnB, s.Embed, 0.2)
	perturb(l.Out, s.Embed*s.Actions+s.Actions, 0.5)
	return NewState(p)
}

// tensors names the transformer's parameter tensors by their ranges.
func tensors(s Spec) map[string][2]int {
	l := s.TransformerLayout()
	D, F := s.Embed, s.Hidden
	t := map[string][2]int{
		"tok": {l.Tok, l.Pos}, "pos": {l.Pos, l.Pos + s.Context*D},
		"ln_f.g": {l.LnG, l.LnG + D}, "ln_f.b": {l.LnB, l.LnB + D},
		"out": {l.Out, l.OutB}, "out.b": {l.OutB, l.Total},
	}
	for i, b := range l.Blocks {
		p := "block" + string(rune('0'+i)) + "."
		t[p+"ln1.g"] = [2]int{b.Ln1G, b.Ln1G + D}
		t[p+"ln1.b"] = [2]int{b.Ln1B, b.Ln1B + D}
		t[p+"wqkv"] = [2]int{b.Wqkv, b.Wo}
		t[p+"wo"] = [2]int{b.Wo, b.Ln2G}
		t[p+"ln2.g"] = [2]int{b.Ln2G, b.Ln2G + D}
		t[p+"ln2.b"] = [2]int{b.Ln2B, b.W1}
		t[p+"w1"] = [2]int{b.W1, b.B1}
		t[p+"b1"] = [2]int{b.B1, b.B1 + F}
		t[p+"w2"] = [2]int{b.W2, b.B2}
		t[p+"b2"] = [2]int{b.B2, b.B2 + D}
	}
	return t
}

// TestTransformerGradientCheck compares Backward with central finite differences of
// Σ coef_i·logp_i for every parameter of every tensor of a two-block transformer.
func TestTransformerGradientCheck(t *testing.T) {
	st := tfRandomState(tfSpec, 1)
	contexts, actions, coef := randomBatch(tfSpec, 16, 3)
	be, err := NewTransformer(tfSpec, st, 1)
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
	grad := make([]float32, tfSpec.Size())
	if err := be.Gradient(grad); err != nil {
		t.Fatal(err)
	}
	probe := func(i int, v float32) float64 {
		p := append([]float32(nil), st.Params...)
		p[i] = v
		b, err := NewTransformer(tfSpec, NewState(p), 1)
		if err != nil {
			t.Fatal(err)
		}
		return objective(t, b, contexts, actions, coef)
	}
	// float32 forward passes: h = 1e-2 keeps rounding (~1e-7·|f|/h) small beside the
	// tolerance, and the h² truncation error small beside it too, while a wrong index
	// or a missing term is off by the size of the gradient itself.
	const h = 1e-2
	covered := 0
	ts := tensors(tfSpec)
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		r := ts[name]
		worst, largest := 0.0, 0.0
		for i := r[0]; i < r[1]; i++ {
			orig := st.Params[i]
			fd := (probe(i, orig+h) - probe(i, orig-h)) / (2 * h)
			diff := math.Abs(fd - float64(grad[i]))
			if diff > 2e-3+3e-2*math.Abs(fd) {
				t.Errorf("%s[%d]: backward %.6f, finite difference %.6f", name, i-r[0], grad[i], fd)
			}
			worst, largest = max(worst, diff), max(largest, math.Abs(fd))
		}
		if largest < 1e-3 {
			t.Errorf("%s: every finite difference is below 1e-3: the check exercises nothing there", name)
		}
		covered += r[1] - r[0]
		t.Logf("%-12s %5d values, largest |∂| %.3f, largest |backward − finite difference| %.2e", name, r[1]-r[0], largest, worst)
	}
	if covered != len(grad) {
		t.Errorf("tensors cover %d of %d parameters", covered, len(grad))
	}
}

// Attention is causal: a token changed at position t changes no earlier position's
// state. Read through the policy: the prediction of a context is the last position's,
// so changing the last token must change it, and the block inputs before it must not.
func TestTransformerIsCausal(t *testing.T) {
	be, err := NewTransformer(tfSpec, tfRandomState(tfSpec, 4), 1)
	if err != nil {
		t.Fatal(err)
	}
	s := tfSpec
	run := func(ctx []int32) rowActs {
		a := s.carve(make([]float32, s.actsFloats()))
		be.forwardRow(ctx, a)
		return a
	}
	a, b := run([]int32{1, 2, 3, 4}), run([]int32{1, 2, 3, 6})
	last := (s.Context - 1) * s.Embed
	for i := range a.xL[:last] {
		if a.xL[i] != b.xL[i] {
			t.Fatalf("output value %d (before the last position) changed with the last token", i)
		}
	}
	same := true
	for i := range a.p {
		same = same && a.p[i] == b.p[i]
	}
	if same {
		t.Error("the prediction did not change with the last token")
	}
}

func TestTransformerProbsForwardAndWorkersAgree(t *testing.T) {
	contexts, actions, coef := randomBatch(tfSpec, 300, 6)
	var grads [2][]float32
	for i, workers := range []int{1, 4} {
		be, err := NewTransformer(tfSpec, tfRandomState(tfSpec, 5), workers)
		if err != nil {
			t.Fatal(err)
		}
		probs := make([]float32, 300*tfSpec.Actions)
		if err := be.Probs(contexts, probs); err != nil {
			t.Fatal(err)
		}
		logp := make([]float32, 300)
		if err := be.Forward(contexts, actions, logp); err != nil {
			t.Fatal(err)
		}
		for r := range 300 {
			var sum float64
			for _, p := range probs[r*tfSpec.Actions : (r+1)*tfSpec.Actions] {
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Fatalf("row %d: probabilities sum to %v", r, sum)
			}
			if want := math.Log(float64(probs[r*tfSpec.Actions+int(actions[r])])); math.Abs(float64(logp[r])-want) > 1e-5 {
				t.Fatalf("row %d: forward logp %v, log of probs %v", r, logp[r], want)
			}
		}
		if err := be.Backward(coef); err != nil {
			t.Fatal(err)
		}
		grads[i] = make([]float32, tfSpec.Size())
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

func TestTransformerInitialPolicyIsUniform(t *testing.T) {
	s := Spec{Model: ModelTransformer, Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 32, Layers: 2, Heads: 4}
	be, err := NewCPUBackend(s, NewState(s.Init(rand.New(rand.NewPCG(1, 1)))), 1)
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

func TestTransformerSpecValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec Spec
	}{
		{"heads do not divide embed", Spec{Model: ModelTransformer, Vocab: 5, Actions: 4, Context: 3, Embed: 6, Hidden: 8, Layers: 1, Heads: 4}},
		{"no layers", Spec{Model: ModelTransformer, Vocab: 5, Actions: 4, Context: 3, Embed: 8, Hidden: 8, Heads: 2}},
		{"an MLP with heads", Spec{Vocab: 5, Actions: 4, Context: 3, Embed: 8, Hidden: 8, Heads: 2}},
		{"unknown model", Spec{Model: "rnn", Vocab: 5, Actions: 4, Context: 3, Embed: 8, Hidden: 8}},
	} {
		if err := tt.spec.Validate(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := NewCPU(tfSpec, tfRandomState(tfSpec, 1), 1); err == nil {
		t.Error("the MLP backend accepted a transformer spec")
	}
}

// TestTransformerLearnsAFunction: supervised steps through the GRPO interface
// (coef = −1/n: the loss is the negative mean log-likelihood) teach it to emit the smallest token of
// its context, which needs attention over every position.
func TestTransformerLearnsAFunction(t *testing.T) {
	s := Spec{Model: ModelTransformer, Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 32, Layers: 1, Heads: 2}
	be, err := NewTransformer(s, NewState(s.Init(rand.New(rand.NewPCG(3, 3)))), 0)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 256
	draw := func() (ctx, act []int32) {
		ctx, act = make([]int32, n*s.Context), make([]int32, n)
		for r := range n {
			lo := int32(9)
			for k := range s.Context {
				v := int32(rng.IntN(10))
				ctx[r*s.Context+k] = v
				lo = min(lo, v)
			}
			act[r] = lo
		}
		return ctx, act
	}
	coef := make([]float32, n)
	for i := range coef {
		coef[i] = -1.0 / n // ∂loss/∂logp for loss = −mean log-likelihood
	}
	logp := make([]float32, n)
	steps := 400
	if testing.Short() {
		steps = 250
	}
	for range steps {
		ctx, act := draw()
		if err := be.Forward(ctx, act, logp); err != nil {
			t.Fatal(err)
		}
		if err := be.Backward(coef); err != nil {
			t.Fatal(err)
		}
		if err := be.Step(DefaultAdam(3e-3)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, act := draw()
	probs := make([]float32, n*s.Actions)
	if err := be.Probs(ctx, probs); err != nil {
		t.Fatal(err)
	}
	right := 0
	for r := range n {
		row := probs[r*s.Actions : (r+1)*s.Actions]
		best := 0
		for a := range row {
			if row[a] > row[best] {
				best = a
			}
		}
		if int32(best) == act[r] {
			right++
		}
	}
	acc := float64(right) / n
	t.Logf("after %d steps the most likely token is the context's minimum in %.0f%% of %d fresh contexts (chance is about 10%%)", steps, 100*acc, n)
	if acc < 0.8 {
		t.Errorf("accuracy %.2f, want at least 0.8", acc)
	}
}
