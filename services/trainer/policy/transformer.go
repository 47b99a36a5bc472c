package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
)

// The transformer policy (Spec.Model == ModelTransformer) reads the same K-token
// context as the MLP, as a sequence: token and position embeddings, L pre-LayerNorm
// blocks of causal multi-head self-attention and a GELU MLP, a final LayerNorm, and
// an output head at the last position.
//
//	x_0[t] = Tok[c_t] + Pos[t]
//	a = LN1(x)      x' = x + Attn(a·Wqkv)·Wo           (causal: position t sees 0..t)
//	m = LN2(x')     x  = x' + GELU(m·W1 + b1)·W2 + b2
//	z = LN_f(x_L[K-1])·Out + b_out   π = softmax(z)
//
// Only the last position's output is a prediction: a row is still one context and one
// action, so the trainer, the sampler and the checkpoints see the same Backend. The
// causal mask is what makes every earlier position's state the one it would have as
// the last of a shorter context.
//
// The CUDA backend (services/trainer/cuda) runs the same arithmetic in its kernels;
// the layer functions below are written in the order of those kernels' loops, so the
// two agree to rounding.

const layerNormEps = 1e-5

// geluC is √(2/π), of GELU's tanh approximation.
const geluC = 0.7978845608028654

// BlockLayout gives one transformer block's tensors' offsets.
type BlockLayout struct {
	Ln1G, Ln1B int // [D] LayerNorm gain and bias before attention
	Wqkv       int // [D×3D]: the query, key and value projections side by side
	Wo         int // [D×D]
	Ln2G, Ln2B int // [D]
	W1, B1     int // [D×F], [F]
	W2, B2     int // [F×D], [D]
}

// TransformerLayout gives each tensor's offset in the flat parameter vector.
type TransformerLayout struct {
	Tok, Pos   int // [Vocab×D], [K×D]
	Blocks     []BlockLayout
	LnG, LnB   int // [D] the final LayerNorm
	Out, OutB  int // [D×Actions], [Actions]
	Total      int
	Embed, MLP int // D and F, for the layer functions
}

// TransformerLayout returns the transformer's offsets.
func (s Spec) TransformerLayout() TransformerLayout {
	D, F := s.Embed, s.Hidden
	l := TransformerLayout{Tok: 0, Embed: D, MLP: F}
	l.Pos = l.Tok + s.Vocab*D
	off := l.Pos + s.Context*D
	for range s.Layers {
		var b BlockLayout
		b.Ln1G = off
		b.Ln1B = b.Ln1G + D
		b.Wqkv = b.Ln1B + D
		b.Wo = b.Wqkv + D*3*D
		b.Ln2G = b.Wo + D*D
		b.Ln2B = b.Ln2G + D
		b.W1 = b.Ln2B + D
		b.B1 = b.W1 + D*F
		b.W2 = b.B1 + F
		b.B2 = b.W2 + F*D
		off = b.B2 + D
		l.Blocks = append(l.Blocks, b)
	}
	l.LnG = off
	l.LnB = l.LnG + D
	l.Out = l.LnB + D
	l.OutB = l.Out + D*s.Actions
	l.Total = l.OutB + s.Actions
	return l
}

// initTransformer draws GPT-2-style initial parameters: LayerNorm gains one, biases
// zero, projections scaled by their fan-in, the two that write into the residual
// stream scaled down by √(2L). The head starts at zero, so the first policy is
// uniform, as the MLP's is.
func (s Spec) initTransformer(rng *rand.Rand) []float32 {
	l := s.TransformerLayout()
	p := make([]float32, l.Total)
	normal := func(from, to int, scale float64) {
		for i := from; i < to; i++ {
			p[i] = float32(rng.NormFloat64() * scale)
		}
	}
	ones := func(from, n int) {
		for i := range n {
			p[from+i] = 1
		}
	}
	D, F := float64(s.Embed), float64(s.Hidden)
	residual := 1 / math.Sqrt(2*float64(s.Layers))
	normal(l.Tok, l.Pos, 1)
	normal(l.Pos, l.Pos+s.Context*s.Embed, 1)
	for _, b := range l.Blocks {
		ones(b.Ln1G, s.Embed)
		normal(b.Wqkv, b.Wo, 1/math.Sqrt(D))
		normal(b.Wo, b.Ln2G, residual/math.Sqrt(D))
		ones(b.Ln2G, s.Embed)
		normal(b.W1, b.B1, 1/math.Sqrt(D))
		normal(b.W2, b.B2, residual/math.Sqrt(F))
	}
	ones(l.LnG, s.Embed)
	return p
}

// blockActs are one row's activations in one block, kept for Backward.
type blockActs struct {
	xin, a, qkv, att, o, xmid, m, u, g []float32
	mu1, rs1, mu2, rs2                 []float32 // LayerNorm means and reciprocal deviations, per position
}

// rowActs are one row's activations.
type rowActs struct {
	blocks      []blockActs
	xL          []float32 // the last block's output, [K×D]
	xf          []float32 // the final LayerNorm at the last position, [D]
	muf, rsf, p []float32
}

// actsFloats is how many floats one row's activations take.
func (s Spec) actsFloats() int {
	T, D, F, H := s.Context, s.Embed, s.Hidden, s.Heads
	perBlock := T*D*6 + T*3*D + H*T*T + T*F*2 + 4*T
	return s.Layers*perBlock + T*D + D + 2 + s.Actions
}

// carve lays a row's activations over buf, which holds s.actsFloats() floats.
func (s Spec) carve(buf []float32) rowActs {
	T, D, F, H := s.Context, s.Embed, s.Hidden, s.Heads
	take := func(n int) []float32 {
		out := buf[:n:n]
		buf = buf[n:]
		return out
	}
	var r rowActs
	r.blocks = make([]blockActs, s.Layers)
	for i := range r.blocks {
		b := &r.blocks[i]
		b.xin, b.a, b.qkv, b.att, b.o = take(T*D), take(T*D), take(T*3*D), take(H*T*T), take(T*D)
		b.xmid, b.m, b.u, b.g = take(T*D), take(T*D), take(T*F), take(T*F)
		b.mu1, b.rs1, b.mu2, b.rs2 = take(T), take(T), take(T), take(T)
	}
	r.xL, r.xf, r.muf, r.rsf, r.p = take(T*D), take(D), take(1), take(1), take(s.Actions)
	return r
}

// Transformer is the transformer policy's CPU backend. Like CPU it splits rows across
// goroutines, each with its own gradient accumulator.
type Transformer struct {
	cpuParams
	spec Spec
	lay  TransformerLayout

	// The last Forward's rows and activations (n × spec.actsFloats()).
	n        int
	contexts []int32
	actions  []int32
	acts     []float32
}

// NewTransformer returns a CPU backend for a transformer spec holding state (which it
// keeps). workers ≤ 0 means GOMAXPROCS.
func NewTransformer(spec Spec, st State, workers int) (*Transformer, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Model != ModelTransformer {
		return nil, fmt.Errorf("transformer backend: spec %+v is not a transformer", spec)
	}
	if err := st.Check(spec); err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Transformer{cpuParams: newCPUParams("cpu transformer", st, workers), spec: spec, lay: spec.TransformerLayout()}, nil
}

func (m *Transformer) Name() string { return "cpu" }
func (m *Transformer) Spec() Spec   { return m.spec }
func (m *Transformer) Close() error { return nil }

// linear computes out[r, j] = res[r, j] + b[j] + Σ_k in[r, k]·W[k, j] for rows rows;
// res and b may be nil.
func linear(in, W, b, res, out []float32, rows, inDim, outDim int) {
	for r := range rows {
		o := out[r*outDim : (r+1)*outDim]
		for j := range o {
			var acc float32
			if res != nil {
				acc = res[r*outDim+j]
			}
			if b != nil {
				acc += b[j]
			}
			o[j] = acc
		}
		for k, x := range in[r*inDim : (r+1)*inDim] {
			for j, w := range W[k*outDim : (k+1)*outDim] {
				o[j] += x * w
			}
		}
	}
}

// linearBack adds in^T·dout to gW and dout's column sums to gb (unless nil), and, when
// din is not nil, sets din = dout·W^T.
func linearBack(in, W, dout, gW, gb, din []float32, rows, inDim, outDim int) {
	for r := range rows {
		d := dout[r*outDim : (r+1)*outDim]
		if gb != nil {
			for j, v := range d {
				gb[j] += v
			}
		}
		x := in[r*inDim : (r+1)*inDim]
		for k, xk := range x {
			gRow := gW[k*outDim : (k+1)*outDim]
			wRow := W[k*outDim : (k+1)*outDim]
			var acc float32
			for j, v := range d {
				gRow[j] += xk * v
				acc += wRow[j] * v
			}
			if din != nil {
				din[r*inDim+k] = acc
			}
		}
	}
}

// layerNorm normalises each of rows rows of x into y = (x−μ)/σ·g + b, keeping μ and 1/σ.
func layerNorm(x, g, b, y, mu, rs []float32, rows, D int) {
	for r := range rows {
		xr := x[r*D : (r+1)*D]
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := sum / float64(D)
		var vs float64
		for _, v := range xr {
			d := float64(v) - mean
			vs += d * d
		}
		inv := 1 / math.Sqrt(vs/float64(D)+layerNormEps)
		mu[r], rs[r] = float32(mean), float32(inv)
		for d, v := range xr {
			y[r*D+d] = (v-mu[r])*rs[r]*g[d] + b[d]
		}
	}
}

// layerNormBack sets dx = dres + ∂/∂x of LayerNorm given dy (dres may be nil), and adds
// the gain's and bias's gradients to gg and gb.
func layerNormBack(x, mu, rs, g, dy, dres, dx, gg, gb []float32, rows, D int) {
	for r := range rows {
		var m1, m2 float32
		for d := range D {
			i := r*D + d
			xhat := (x[i] - mu[r]) * rs[r]
			gg[d] += dy[i] * xhat
			gb[d] += dy[i]
			dxhat := dy[i] * g[d]
			m1 += dxhat
			m2 += dxhat * xhat
		}
		m1 /= float32(D)
		m2 /= float32(D)
		for d := range D {
			i := r*D + d
			xhat := (x[i] - mu[r]) * rs[r]
			v := rs[r] * (dy[i]*g[d] - m1 - xhat*m2)
			if dres != nil {
				v += dres[i]
			}
			dx[i] = v
		}
	}
}

func gelu(u float32) float32 {
	x := float64(u)
	return float32(0.5 * x * (1 + math.Tanh(geluC*(x+0.044715*x*x*x))))
}

func geluGrad(u float32) float32 {
	x := float64(u)
	t := math.Tanh(geluC * (x + 0.044715*x*x*x))
	return float32(0.5*(1+t) + 0.5*x*(1-t*t)*geluC*(1+3*0.044715*x*x))
}

// attention runs causal multi-head attention over one row's T positions: qkv holds
// each position's query, key and value ([T×3D]); att gets the weights [H×T×T] (zero
// above the diagonal) and o the heads' outputs side by side [T×D].
func attention(qkv, att, o []float32, T, D, H int) {
	dh := D / H
	scale := float32(1 / math.Sqrt(float64(dh)))
	for h := range H {
		for t := range T {
			q := qkv[t*3*D+h*dh : t*3*D+h*dh+dh]
			w := att[(h*T+t)*T : (h*T+t+1)*T]
			mx := float32(math.Inf(-1))
			for u := 0; u <= t; u++ {
				k := qkv[u*3*D+D+h*dh : u*3*D+D+h*dh+dh]
				var s float32
				for e, qe := range q {
					s += qe * k[e]
				}
				w[u] = s * scale
				mx = max(mx, w[u])
			}
			var sum float64
			for u := 0; u <= t; u++ {
				e := math.Exp(float64(w[u] - mx))
				w[u] = float32(e)
				sum += e
			}
			inv := 1 / sum
			for u := range w {
				if u <= t {
					w[u] = float32(float64(w[u]) * inv)
				} else {
					w[u] = 0
				}
			}
			out := o[t*D+h*dh : t*D+h*dh+dh]
			clear(out)
			for u := 0; u <= t; u++ {
				v := qkv[u*3*D+2*D+h*dh : u*3*D+2*D+h*dh+dh]
				for e := range out {
					out[e] += w[u] * v[e]
				}
			}
		}
	}
}

// attentionBack sets dqkv from do, the gradient of attention's output.
func attentionBack(qkv, att, do, dqkv []float32, T, D, H int) {
	dh := D / H
	scale := float32(1 / math.Sqrt(float64(dh)))
	clear(dqkv)
	ds := make([]float32, T)
	for h := range H {
		for t := range T {
			w := att[(h*T+t)*T : (h*T+t+1)*T]
			dot := do[t*D+h*dh : t*D+h*dh+dh]
			var wsum float32
			for u := 0; u <= t; u++ {
				v := qkv[u*3*D+2*D+h*dh : u*3*D+2*D+h*dh+dh]
				var dp float32
				for e, g := range dot {
					dp += g * v[e]
				}
				ds[u] = dp
				wsum += w[u] * dp
			}
			for u := 0; u <= t; u++ {
				ds[u] = w[u] * (ds[u] - wsum) * scale
			}
			q := qkv[t*3*D+h*dh : t*3*D+h*dh+dh]
			dq := dqkv[t*3*D+h*dh : t*3*D+h*dh+dh]
			for u := 0; u <= t; u++ {
				k := qkv[u*3*D+D+h*dh : u*3*D+D+h*dh+dh]
				dk := dqkv[u*3*D+D+h*dh : u*3*D+D+h*dh+dh]
				dv := dqkv[u*3*D+2*D+h*dh : u*3*D+2*D+h*dh+dh]
				for e := range dq {
					dq[e] += ds[u] * k[e]
					dk[e] += ds[u] * q[e]
					dv[e] += w[u] * dot[e]
				}
			}
		}
	}
}

// forwardRow runs one row, leaving its activations in a.
func (m *Transformer) forwardRow(ctx []int32, a rowActs) {
	s, l, w := m.spec, m.lay, m.st.Params
	T, D, F, H := s.Context, s.Embed, s.Hidden, s.Heads
	x0 := a.xL
	if s.Layers > 0 {
		x0 = a.blocks[0].xin
	}
	for t, tok := range ctx {
		for d := range D {
			x0[t*D+d] = w[l.Tok+int(tok)*D+d] + w[l.Pos+t*D+d]
		}
	}
	for i, b := range l.Blocks {
		ba := a.blocks[i]
		layerNorm(ba.xin, w[b.Ln1G:], w[b.Ln1B:], ba.a, ba.mu1, ba.rs1, T, D)
		linear(ba.a, w[b.Wqkv:], nil, nil, ba.qkv, T, D, 3*D)
		attention(ba.qkv, ba.att, ba.o, T, D, H)
		linear(ba.o, w[b.Wo:], nil, ba.xin, ba.xmid, T, D, D)
		layerNorm(ba.xmid, w[b.Ln2G:], w[b.Ln2B:], ba.m, ba.mu2, ba.rs2, T, D)
		linear(ba.m, w[b.W1:], w[b.B1:], nil, ba.u, T, D, F)
		for j, u := range ba.u {
			ba.g[j] = gelu(u)
		}
		next := a.xL
		if i+1 < len(a.blocks) {
			next = a.blocks[i+1].xin
		}
		linear(ba.g, w[b.W2:], w[b.B2:], ba.xmid, next, T, F, D)
	}
	layerNorm(a.xL[(T-1)*D:], w[l.LnG:], w[l.LnB:], a.xf, a.muf, a.rsf, 1, D)
	linear(a.xf, w[l.Out:], w[l.OutB:], nil, a.p, 1, D, s.Actions)
	softmax(a.p)
}

// scratch is one worker's buffers for a backward pass over rows.
type scratch struct {
	dz, dxf, dx, dxmid, dg, dm, do, dqkv, da []float32
}

func (s Spec) newScratch() scratch {
	T, D, F := s.Context, s.Embed, s.Hidden
	return scratch{
		dz: make([]float32, s.Actions), dxf: make([]float32, D),
		dx: make([]float32, T*D), dxmid: make([]float32, T*D), dg: make([]float32, T*F),
		dm: make([]float32, T*D), do: make([]float32, T*D), dqkv: make([]float32, T*3*D), da: make([]float32, T*D),
	}
}

// backwardRow adds ∂(cf·logp(action))/∂θ for one row to g.
func (m *Transformer) backwardRow(ctx []int32, action int32, cf float32, a rowActs, g []float32, sc scratch) {
	s, l, w := m.spec, m.lay, m.st.Params
	T, D, F, H := s.Context, s.Embed, s.Hidden, s.Heads
	for i, p := range a.p {
		sc.dz[i] = -cf * p
	}
	sc.dz[action] += cf
	linearBack(a.xf, w[l.Out:], sc.dz, g[l.Out:], g[l.OutB:], sc.dxf, 1, D, s.Actions)
	clear(sc.dx)
	last := sc.dx[(T-1)*D:]
	layerNormBack(a.xL[(T-1)*D:], a.muf, a.rsf, w[l.LnG:], sc.dxf, nil, last, g[l.LnG:], g[l.LnB:], 1, D)
	for i := len(l.Blocks) - 1; i >= 0; i-- {
		b, ba := l.Blocks[i], a.blocks[i]
		// x = x' + GELU(m·W1 + b1)·W2 + b2
		linearBack(ba.g, w[b.W2:], sc.dx, g[b.W2:], g[b.B2:], sc.dg, T, F, D)
		for j, u := range ba.u {
			sc.dg[j] *= geluGrad(u)
		}
		linearBack(ba.m, w[b.W1:], sc.dg, g[b.W1:], g[b.B1:], sc.dm, T, D, F)
		layerNormBack(ba.xmid, ba.mu2, ba.rs2, w[b.Ln2G:], sc.dm, sc.dx, sc.dxmid, g[b.Ln2G:], g[b.Ln2B:], T, D)
		// x' = x + Attn(LN1(x)·Wqkv)·Wo
		linearBack(ba.o, w[b.Wo:], sc.dxmid, g[b.Wo:], nil, sc.do, T, D, D)
		attentionBack(ba.qkv, ba.att, sc.do, sc.dqkv, T, D, H)
		linearBack(ba.a, w[b.Wqkv:], sc.dqkv, g[b.Wqkv:], nil, sc.da, T, D, 3*D)
		layerNormBack(ba.xin, ba.mu1, ba.rs1, w[b.Ln1G:], sc.da, sc.dxmid, sc.dx, g[b.Ln1G:], g[b.Ln1B:], T, D)
	}
	for t, tok := range ctx {
		for d := range D {
			v := sc.dx[t*D+d]
			g[l.Tok+int(tok)*D+d] += v
			g[l.Pos+t*D+d] += v
		}
	}
}

func (m *Transformer) Probs(contexts []int32, probs []float32) error {
	n, err := CheckProbs(m.spec, contexts, probs)
	if err != nil {
		return fmt.Errorf("cpu transformer probs: %w", err)
	}
	s := m.spec
	parallelRows(m.workers, n, func(_, lo, hi int) {
		a := s.carve(make([]float32, s.actsFloats()))
		for r := lo; r < hi; r++ {
			m.forwardRow(contexts[r*s.Context:(r+1)*s.Context], a)
			copy(probs[r*s.Actions:(r+1)*s.Actions], a.p)
		}
	})
	return nil
}

func (m *Transformer) Forward(contexts, actions []int32, logp []float32) error {
	n, err := CheckBatch(m.spec, contexts, actions, logp)
	if err != nil {
		return fmt.Errorf("cpu transformer forward: %w", err)
	}
	s := m.spec
	size := s.actsFloats()
	m.n = n
	m.contexts = append(m.contexts[:0], contexts...)
	m.actions = append(m.actions[:0], actions...)
	m.acts = grow(m.acts, n*size)
	parallelRows(m.workers, n, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			a := s.carve(m.acts[r*size : (r+1)*size])
			m.forwardRow(contexts[r*s.Context:(r+1)*s.Context], a)
			logp[r] = float32(math.Log(max(float64(a.p[actions[r]]), math.SmallestNonzeroFloat32)))
		}
	})
	return nil
}

func (m *Transformer) Backward(coef []float32) error {
	if len(coef) != m.n {
		return fmt.Errorf("cpu transformer backward: %d coefficients for %d rows of the last forward", len(coef), m.n)
	}
	s := m.spec
	size := s.actsFloats()
	used := make([]bool, m.workers)
	parallelRows(m.workers, m.n, func(wk, lo, hi int) {
		used[wk] = true
		sc := s.newScratch()
		for r := lo; r < hi; r++ {
			if coef[r] == 0 {
				continue
			}
			a := s.carve(m.acts[r*size : (r+1)*size])
			m.backwardRow(m.contexts[r*s.Context:(r+1)*s.Context], m.actions[r], coef[r], a, m.wgrad[wk], sc)
		}
	})
	m.sumWorkers(used)
	return nil
}

func (m *Transformer) Load(st State) error {
	if err := m.load(m.spec, st); err != nil {
		return err
	}
	m.n = 0
	return nil
}

var _ Backend = (*Transformer)(nil)
