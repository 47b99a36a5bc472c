package policy

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// CPU is the pure-Go backend. Rows are split across up to Workers goroutines; each
// worker accumulates its own gradient, summed after, so no locks sit in the inner loops.
type CPU struct {
	cpuParams
	spec Spec
	lay  Layout

	// Activations of the last Forward, kept for Backward.
	n        int
	contexts []int32
	actions  []int32
	x, h, p  []float32
}

// NewCPU returns a CPU backend holding state (which it keeps; the caller must not
// reuse it). workers ≤ 0 means GOMAXPROCS.
func NewCPU(spec Spec, st State, workers int) (*CPU, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Model != ModelMLP {
		return nil, fmt.Errorf("cpu backend: spec %+v is not the MLP; NewCPUBackend picks the backend for a model", spec)
	}
	if err := st.Check(spec); err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &CPU{cpuParams: newCPUParams("cpu", st, workers), spec: spec, lay: spec.Layout()}, nil
}

// NewCPUBackend is the CPU backend for spec's model: CPU for the MLP, Transformer for
// the transformer.
func NewCPUBackend(spec Spec, st State, workers int) (Backend, error) {
	if spec.Model == ModelTransformer {
		return NewTransformer(spec, st, workers)
	}
	return NewCPU(spec, st, workers)
}

func (c *CPU) Name() string { return "cpu" }
func (c *CPU) Spec() Spec   { return c.spec }
func (c *CPU) Close() error { return nil }

// parallel runs fn over [0,n) in contiguous chunks, one per worker. Small batches
// stay on one goroutine: splitting them costs more than it saves.
func (c *CPU) parallel(n int, fn func(w, lo, hi int)) { parallelRows(c.workers, n, fn) }

func parallelRows(maxWorkers, n int, fn func(w, lo, hi int)) {
	workers := min(maxWorkers, max(1, n/64))
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		if lo >= hi {
			break
		}
		wg.Go(func() { fn(w, lo, hi) })
	}
	wg.Wait()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// forwardRow computes x, h and the softmax p of one row.
func (c *CPU) forwardRow(ctx []int32, x, h, p []float32) {
	s, l, w := c.spec, c.lay, c.st.Params
	for k, tok := range ctx {
		copy(x[k*s.Embed:(k+1)*s.Embed], w[l.E+int(tok)*s.Embed:l.E+int(tok+1)*s.Embed])
	}
	copy(h, w[l.B1:l.B1+s.Hidden])
	for i, xi := range x {
		row := w[l.W1+i*s.Hidden : l.W1+(i+1)*s.Hidden]
		for j, v := range row {
			h[j] += xi * v
		}
	}
	for j := range h {
		h[j] = float32(math.Tanh(float64(h[j])))
	}
	copy(p, w[l.B2:l.B2+s.Actions])
	for j, hj := range h {
		row := w[l.W2+j*s.Actions : l.W2+(j+1)*s.Actions]
		for a, v := range row {
			p[a] += hj * v
		}
	}
	softmax(p)
}

// softmax replaces z with softmax(z), in float64 for the sum so that a large
// vocabulary does not lose the small probabilities.
func softmax(z []float32) {
	m := z[0]
	for _, v := range z[1:] {
		m = max(m, v)
	}
	var sum float64
	for i, v := range z {
		e := math.Exp(float64(v - m))
		z[i] = float32(e)
		sum += e
	}
	inv := 1 / sum
	for i := range z {
		z[i] = float32(float64(z[i]) * inv)
	}
}

func (c *CPU) Probs(contexts []int32, probs []float32) error {
	n, err := CheckProbs(c.spec, contexts, probs)
	if err != nil {
		return fmt.Errorf("cpu probs: %w", err)
	}
	s := c.spec
	c.parallel(n, func(_, lo, hi int) {
		x, h := make([]float32, s.In()), make([]float32, s.Hidden)
		for r := lo; r < hi; r++ {
			c.forwardRow(contexts[r*s.Context:(r+1)*s.Context], x, h, probs[r*s.Actions:(r+1)*s.Actions])
		}
	})
	return nil
}

func (c *CPU) Forward(contexts, actions []int32, logp []float32) error {
	n, err := CheckBatch(c.spec, contexts, actions, logp)
	if err != nil {
		return fmt.Errorf("cpu forward: %w", err)
	}
	s := c.spec
	c.n = n
	c.contexts = append(c.contexts[:0], contexts...)
	c.actions = append(c.actions[:0], actions...)
	c.x = grow(c.x, n*s.In())
	c.h = grow(c.h, n*s.Hidden)
	c.p = grow(c.p, n*s.Actions)
	c.parallel(n, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			p := c.p[r*s.Actions : (r+1)*s.Actions]
			c.forwardRow(contexts[r*s.Context:(r+1)*s.Context], c.x[r*s.In():(r+1)*s.In()], c.h[r*s.Hidden:(r+1)*s.Hidden], p)
			logp[r] = float32(math.Log(max(float64(p[actions[r]]), math.SmallestNonzeroFloat32)))
		}
	})
	return nil
}

func (c *CPU) Backward(coef []float32) error {
	if len(coef) != c.n {
		return fmt.Errorf("cpu backward: %d coefficients for %d rows of the last forward", len(coef), c.n)
	}
	s, l, w := c.spec, c.lay, c.st.Params
	used := make([]bool, c.workers)
	c.parallel(c.n, func(wk, lo, hi int) {
		used[wk] = true
		g := c.wgrad[wk]
		dz := make([]float32, s.Actions)
		dh := make([]float32, s.Hidden)
		dx := make([]float32, s.In())
		for r := lo; r < hi; r++ {
			cf := coef[r]
			if cf == 0 {
				continue
			}
			x, h, p := c.x[r*s.In():(r+1)*s.In()], c.h[r*s.Hidden:(r+1)*s.Hidden], c.p[r*s.Actions:(r+1)*s.Actions]
			// ∂logp/∂z = onehot(action) − π
			for a := range dz {
				dz[a] = -cf * p[a]
			}
			dz[c.actions[r]] += cf
			for a, v := range dz {
				g[l.B2+a] += v
			}
			for j, hj := range h {
				row := w[l.W2+j*s.Actions : l.W2+(j+1)*s.Actions]
				gRow := g[l.W2+j*s.Actions : l.W2+(j+1)*s.Actions]
				var acc float32
				for a, v := range dz {
					gRow[a] += hj * v
					acc += row[a] * v
				}
				dh[j] = acc * (1 - hj*hj)
			}
			for j, v := range dh {
				g[l.B1+j] += v
			}
			for i, xi := range x {
				row := w[l.W1+i*s.Hidden : l.W1+(i+1)*s.Hidden]
				gRow := g[l.W1+i*s.Hidden : l.W1+(i+1)*s.Hidden]
				var acc float32
				for j, v := range dh {
					gRow[j] += xi * v
					acc += row[j] * v
				}
				dx[i] = acc
			}
			for k, tok := range c.contexts[r*s.Context : (r+1)*s.Context] {
				ge := g[l.E+int(tok)*s.Embed : l.E+int(tok+1)*s.Embed]
				for d, v := range dx[k*s.Embed : (k+1)*s.Embed] {
					ge[d] += v
				}
			}
		}
	})
	c.sumWorkers(used)
	return nil
}

// AdamUpdate applies one bias-corrected Adam step t (1-based) to params in place. The
// CUDA kernel computes the same expression, in the same float32/float64 split.
func AdamUpdate(params, m, v, grad []float32, opt Adam, t int64) {
	bc1 := 1 - math.Pow(opt.Beta1, float64(t))
	bc2 := 1 - math.Pow(opt.Beta2, float64(t))
	step := float32(opt.LR * math.Sqrt(bc2) / bc1)
	eps := float32(opt.Eps * math.Sqrt(bc2))
	b1, b2 := float32(opt.Beta1), float32(opt.Beta2)
	for i, g := range grad {
		m[i] = b1*m[i] + (1-b1)*g
		v[i] = b2*v[i] + (1-b2)*g*g
		params[i] -= step * m[i] / (float32(math.Sqrt(float64(v[i]))) + eps)
	}
}

func (c *CPU) Load(st State) error {
	if err := c.load(c.spec, st); err != nil {
		return err
	}
	c.n = 0
	return nil
}

// cpuParams is what the CPU backends share: the parameters and Adam's state, the
// gradient, and per-worker gradient accumulators (summed after each Backward, so no
// locks sit in the inner loops).
type cpuParams struct {
	name    string
	workers int
	st      State
	grad    []float32
	wgrad   [][]float32
}

func newCPUParams(name string, st State, workers int) cpuParams {
	p := cpuParams{name: name, workers: workers, st: st, grad: make([]float32, len(st.Params))}
	p.wgrad = make([][]float32, workers)
	for i := range p.wgrad {
		p.wgrad[i] = make([]float32, len(st.Params))
	}
	return p
}

// sumWorkers adds the accumulators of the workers that ran into the gradient.
func (p *cpuParams) sumWorkers(used []bool) {
	for wk, u := range used {
		if !u {
			continue
		}
		for i, v := range p.wgrad[wk] {
			p.grad[i] += v
		}
		clear(p.wgrad[wk])
	}
}

func (p *cpuParams) Gradient(dst []float32) error {
	if len(dst) != len(p.grad) {
		return fmt.Errorf("%s gradient: dst holds %d values, want %d", p.name, len(dst), len(p.grad))
	}
	copy(dst, p.grad)
	return nil
}

func (p *cpuParams) Step(opt Adam) error {
	if opt.LR <= 0 || opt.Beta1 < 0 || opt.Beta1 >= 1 || opt.Beta2 < 0 || opt.Beta2 >= 1 {
		return fmt.Errorf("%s step: bad Adam settings %+v", p.name, opt)
	}
	p.st.T++
	AdamUpdate(p.st.Params, p.st.M, p.st.V, p.grad, opt, p.st.T)
	clear(p.grad)
	return nil
}

func (p *cpuParams) State() (State, error) { return copyState(p.st), nil }

func copyState(st State) State {
	return State{
		Params: append([]float32(nil), st.Params...),
		M:      append([]float32(nil), st.M...),
		V:      append([]float32(nil), st.V...),
		T:      st.T,
	}
}

// load replaces the state with a copy of st, which must fit spec, and clears the gradient.
func (p *cpuParams) load(spec Spec, st State) error {
	if err := st.Check(spec); err != nil {
		return fmt.Errorf("%s load: %w", p.name, err)
	}
	p.st = copyState(st)
	clear(p.grad)
	return nil
}

var _ Backend = (*CPU)(nil)
