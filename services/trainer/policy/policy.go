// Package policy is the trainer's policy network: a small autoregressive model over a
// small vocabulary, and the Backend interface its forward pass, backward pass and
// Adam optimiser run behind. The CPU backend here is pure Go and always built; the
// CUDA backend lives in services/trainer/cuda behind the cuda build tag.
//
// The network is a Bengio-style neural language model: the K tokens of context are
// embedded, concatenated, passed through one tanh hidden layer and projected to
// logits over the actions (the tokens the policy may emit), then a softmax.
//
//	x = [E[c_1] … E[c_K]]   h = tanh(x·W1 + b1)   z = h·W2 + b2   π = softmax(z)
package policy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Models a Spec may name. The empty name is the MLP, so that checkpoints written
// before there was a choice read as what they are.
const (
	ModelMLP         = ""
	ModelTransformer = "transformer"
)

// Spec is the shape of the network.
type Spec struct {
	// Model is ModelMLP (the network above) or ModelTransformer (transformer.go).
	Model   string `json:"model,omitempty"`
	Vocab   int    `json:"vocab"`            // tokens that may appear in a context
	Actions int    `json:"actions"`          // tokens the policy emits: ids 0..Actions-1 of the vocabulary
	Context int    `json:"context"`          // K, tokens of context per prediction
	Embed   int    `json:"embed"`            // D, embedding width (the transformer's model width)
	Hidden  int    `json:"hidden"`           // H, hidden layer width (the transformer's MLP width)
	Layers  int    `json:"layers,omitempty"` // transformer blocks; 0 for the MLP
	Heads   int    `json:"heads,omitempty"`  // attention heads per block; 0 for the MLP
}

// Validate reports a spec that cannot describe a network.
func (s Spec) Validate() error {
	switch {
	case s.Vocab <= 0 || s.Actions <= 0 || s.Context <= 0 || s.Embed <= 0 || s.Hidden <= 0:
		return fmt.Errorf("policy spec %+v: every size must be positive", s)
	case s.Actions > s.Vocab:
		return fmt.Errorf("policy spec %+v: more actions than vocabulary", s)
	}
	switch s.Model {
	case ModelMLP:
		if s.Layers != 0 || s.Heads != 0 {
			return fmt.Errorf("policy spec %+v: layers and heads are a transformer's", s)
		}
	case ModelTransformer:
		if s.Layers < 1 || s.Layers > 64 || s.Heads < 1 || s.Embed%s.Heads != 0 {
			return fmt.Errorf("policy spec %+v: a transformer needs 1..64 layers and heads that divide embed", s)
		}
	default:
		return fmt.Errorf("policy spec %+v: model %q: want %q or %q", s, s.Model, "mlp", ModelTransformer)
	}
	return nil
}

// Size is the number of parameters.
func (s Spec) Size() int {
	if s.Model == ModelTransformer {
		return s.TransformerLayout().Total
	}
	return s.Layout().Total
}

// In is the width of the concatenated context embedding, K·D.
func (s Spec) In() int { return s.Context * s.Embed }

// Layout gives each tensor's offset in the flat parameter vector, so that the CPU and
// CUDA backends, checkpoints and the gradient check agree on one order.
type Layout struct {
	E, W1, B1, W2, B2, Total int
}

// Layout returns the MLP's offsets of E [Vocab×D], W1 [K·D×H], b1 [H], W2 [H×Actions], b2 [Actions].
func (s Spec) Layout() Layout {
	var l Layout
	l.E = 0
	l.W1 = l.E + s.Vocab*s.Embed
	l.B1 = l.W1 + s.In()*s.Hidden
	l.W2 = l.B1 + s.Hidden
	l.B2 = l.W2 + s.Hidden*s.Actions
	l.Total = l.B2 + s.Actions
	return l
}

// Init draws initial parameters. W2 and b2 start at zero, so the first policy is
// exactly uniform over the actions: the run starts from chance, not from whatever a
// random projection happens to prefer.
func (s Spec) Init(rng *rand.Rand) []float32 {
	if s.Model == ModelTransformer {
		return s.initTransformer(rng)
	}
	l := s.Layout()
	p := make([]float32, l.Total)
	for i := l.E; i < l.W1; i++ {
		p[i] = float32(rng.NormFloat64())
	}
	scale := 1 / math.Sqrt(float64(s.In()))
	for i := l.W1; i < l.B1; i++ {
		p[i] = float32(rng.NormFloat64() * scale)
	}
	return p
}

// Adam holds the optimiser's hyperparameters.
type Adam struct {
	LR    float64 `json:"lr"`
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	Eps   float64 `json:"eps"`
}

// DefaultAdam is Adam with the usual betas and epsilon at learning rate lr.
func DefaultAdam(lr float64) Adam { return Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// State is everything a backend must hand over for a checkpoint: the parameters,
// Adam's moment estimates and its step count.
type State struct {
	Params []float32 `json:"params"`
	M      []float32 `json:"m"`
	V      []float32 `json:"v"`
	T      int64     `json:"t"`
}

// Check reports a state that does not fit spec.
func (st State) Check(s Spec) error {
	n := s.Size()
	if len(st.Params) != n || len(st.M) != n || len(st.V) != n {
		return fmt.Errorf("policy state has %d/%d/%d values, spec %+v needs %d", len(st.Params), len(st.M), len(st.V), s, n)
	}
	if st.T < 0 {
		return errors.New("policy state: negative Adam step")
	}
	return nil
}

// NewState is a fresh state for params: zero moments, no Adam steps taken.
func NewState(params []float32) State {
	return State{Params: params, M: make([]float32, len(params)), V: make([]float32, len(params))}
}

// Backend runs the network. Rows are predictions: contexts holds n×Context token ids,
// row-major. A backend is not safe for concurrent use.
type Backend interface {
	Name() string
	Spec() Spec
	// Probs writes π(·|context) for each of n rows into probs (n×Actions).
	Probs(contexts []int32, probs []float32) error
	// Forward writes log π(action_i|context_i) for each row into logp and keeps
	// what Backward needs.
	Forward(contexts, actions []int32, logp []float32) error
	// Backward adds ∂(Σ_i coef_i·logp_i)/∂θ for the rows of the last Forward to the
	// gradient accumulator. The trainer sets coef_i = ∂loss/∂logp_i. A Probs call in
	// between may discard what Forward kept; Backward then fails rather than guess.
	Backward(coef []float32) error
	// Gradient copies the accumulated gradient into dst.
	Gradient(dst []float32) error
	// Step applies one Adam update with the accumulated gradient and clears it.
	Step(opt Adam) error
	// State copies out the parameters and optimiser state; Load replaces them.
	State() (State, error)
	Load(State) error
	Close() error
}

// checkRows validates the shapes of a batch against spec and returns its row count.
func checkRows(s Spec, contexts []int32, out int, outLen int) (int, error) {
	if len(contexts)%s.Context != 0 {
		return 0, fmt.Errorf("contexts: %d tokens is not a multiple of context %d", len(contexts), s.Context)
	}
	n := len(contexts) / s.Context
	if outLen != n*out {
		return 0, fmt.Errorf("output holds %d values, %d rows need %d", outLen, n, n*out)
	}
	for i, t := range contexts {
		if t < 0 || int(t) >= s.Vocab {
			return 0, fmt.Errorf("context token %d at %d is outside vocabulary %d", t, i, s.Vocab)
		}
	}
	return n, nil
}

// CheckBatch validates a Forward batch; backends other than CPU use it too.
func CheckBatch(s Spec, contexts, actions []int32, logp []float32) (int, error) {
	n, err := checkRows(s, contexts, 1, len(logp))
	if err != nil {
		return 0, err
	}
	if len(actions) != n {
		return 0, fmt.Errorf("%d actions for %d rows", len(actions), n)
	}
	for i, a := range actions {
		if a < 0 || int(a) >= s.Actions {
			return 0, fmt.Errorf("action %d at row %d is outside %d actions", a, i, s.Actions)
		}
	}
	return n, nil
}

// CheckProbs validates a Probs batch.
func CheckProbs(s Spec, contexts []int32, probs []float32) (int, error) {
	return checkRows(s, contexts, s.Actions, len(probs))
}
