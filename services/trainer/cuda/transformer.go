package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// NewPolicyOn starts the backend for spec's model on drv: Backend for the MLP,
// Transformer for the transformer.
func NewPolicyOn(drv Driver, spec policy.Spec, st policy.State) (policy.Backend, error) {
	if spec.Model == policy.ModelTransformer {
		return NewTransformerOn(drv, spec, st)
	}
	return NewOn(drv, spec, st)
}

// blockBufs are one block's activations on the device, for a batch.
type blockBufs struct {
	xin, a, qkv, att, o, xmid, m, u, g, mu1, rs1, mu2, rs2 uintptr
}

// Transformer runs the transformer policy (policy.Transformer's arithmetic) on one GPU.
// Its kernels work on the batch's n·K positions at once, one thread per output value,
// row or position; gradients are summed by one thread per weight, without atomics,
// so a step is deterministic.
type Transformer struct {
	deviceParams
	lay policy.TransformerLayout

	capRows        int
	bufs           []uintptr // every batch buffer, to free
	ctxBuf, actBuf uintptr
	blocks         []blockBufs
	xL, xl, xf, muf, rsf, p, logp, coef, dz, dxf, dxl,
	dx, dxmid, dm, dOut, da, dg, dqkv, ds uintptr
	n int
}

// NewTransformerOn starts a transformer backend holding st on drv, and closes drv when
// it is closed (or fails to start).
func NewTransformerOn(drv Driver, spec policy.Spec, st policy.State) (*Transformer, error) {
	if err := spec.Validate(); err != nil {
		return nil, errors.Join(err, drv.Close())
	}
	if spec.Model != policy.ModelTransformer {
		return nil, errors.Join(fmt.Errorf("cuda transformer: spec %+v is not a transformer", spec), drv.Close())
	}
	if err := st.Check(spec); err != nil {
		return nil, errors.Join(err, drv.Close())
	}
	b := &Transformer{deviceParams: deviceParams{name: "cuda transformer", drv: drv, spec: spec}, lay: spec.TransformerLayout()}
	err := b.allocParams()
	if err == nil {
		err = b.Load(st)
	}
	if err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// launch is a step for inOrder; its arguments are read when launch is called, so a
// buffer that reserve may yet reallocate must not be named in a list built before it.
func (b *Transformer) launch(kernel string, n int, args ...any) func() error {
	return func() error { return launchOn(b.drv, kernel, n, args...) }
}

// w and g are the device addresses of parameter (and gradient) offset off.
func (b *Transformer) w(off int) uintptr { return b.params + uintptr(off*4) }
func (b *Transformer) g(off int) uintptr { return b.grad + uintptr(off*4) }

// reserve grows the batch buffers to hold n rows; call it inside do.
func (b *Transformer) reserve(n int) error {
	if n <= b.capRows {
		return nil
	}
	if err := b.freeBatch(); err != nil {
		return err
	}
	c := max(n, 2*b.capRows, 256)
	s := b.spec
	T, D, F, H, A := s.Context, s.Embed, s.Hidden, s.Heads, s.Actions
	N := c * T
	alloc := func(p *uintptr, floats int) error {
		var err error
		if *p, err = b.drv.Alloc(int64(floats * 4)); err != nil {
			return fmt.Errorf("allocate batch of %d rows: %w", c, err)
		}
		b.bufs = append(b.bufs, *p)
		return nil
	}
	type buf struct {
		p      *uintptr
		floats int
	}
	want := []buf{{&b.ctxBuf, N}, {&b.actBuf, c}, {&b.xL, N * D}, {&b.xl, c * D}, {&b.xf, c * D}, {&b.muf, c}, {&b.rsf, c},
		{&b.p, c * A}, {&b.logp, c}, {&b.coef, c}, {&b.dz, c * A}, {&b.dxf, c * D}, {&b.dxl, c * D},
		{&b.dx, N * D}, {&b.dxmid, N * D}, {&b.dm, N * D}, {&b.dOut, N * D}, {&b.da, N * D}, {&b.dg, N * F},
		{&b.dqkv, N * 3 * D}, {&b.ds, c * H * T * T}}
	b.blocks = make([]blockBufs, s.Layers)
	for i := range b.blocks {
		k := &b.blocks[i]
		want = append(want, buf{&k.xin, N * D}, buf{&k.a, N * D}, buf{&k.qkv, N * 3 * D}, buf{&k.att, c * H * T * T},
			buf{&k.o, N * D}, buf{&k.xmid, N * D}, buf{&k.m, N * D}, buf{&k.u, N * F}, buf{&k.g, N * F},
			buf{&k.mu1, N}, buf{&k.rs1, N}, buf{&k.mu2, N}, buf{&k.rs2, N})
	}
	for _, w := range want {
		if err := alloc(w.p, w.floats); err != nil {
			return err
		}
	}
	b.capRows = c
	return nil
}

func (b *Transformer) freeBatch() error {
	var errs []error
	for _, p := range b.bufs {
		errs = append(errs, b.drv.Free(p))
	}
	b.bufs, b.capRows = nil, 0
	return errors.Join(errs...)
}

// forward computes every activation and π for n rows already in ctxBuf; call it inside do.
func (b *Transformer) forward(n int) error {
	s, l := b.spec, b.lay
	T, D, F, H, A := s.Context, s.Embed, s.Hidden, s.Heads, s.Actions
	N := n * T
	x0 := b.xL
	if len(b.blocks) > 0 {
		x0 = b.blocks[0].xin
	}
	ks := []func() error{b.launch("tf_embed", N*D, b.ctxBuf, b.w(l.Tok), b.w(l.Pos), x0, n, T, D)}
	for i, bl := range l.Blocks {
		k := b.blocks[i]
		next := b.xL
		if i+1 < len(b.blocks) {
			next = b.blocks[i+1].xin
		}
		ks = append(ks,
			b.launch("layernorm_forward", N, k.xin, b.w(bl.Ln1G), b.w(bl.Ln1B), k.a, k.mu1, k.rs1, N, D),
			b.launch("linear_forward", N*3*D, k.a, b.w(bl.Wqkv), uintptr(0), uintptr(0), k.qkv, N, D, 3*D),
			b.launch("attention_forward", n*H*T, k.qkv, k.att, k.o, n, T, D, H),
			b.launch("linear_forward", N*D, k.o, b.w(bl.Wo), uintptr(0), k.xin, k.xmid, N, D, D),
			b.launch("layernorm_forward", N, k.xmid, b.w(bl.Ln2G), b.w(bl.Ln2B), k.m, k.mu2, k.rs2, N, D),
			b.launch("linear_forward", N*F, k.m, b.w(bl.W1), b.w(bl.B1), uintptr(0), k.u, N, D, F),
			b.launch("gelu_forward", N*F, k.u, k.g, N*F),
			b.launch("linear_forward", N*D, k.g, b.w(bl.W2), b.w(bl.B2), k.xmid, next, N, F, D),
		)
	}
	ks = append(ks,
		b.launch("take_last", n*D, b.xL, b.xl, n, T, D),
		b.launch("layernorm_forward", n, b.xl, b.w(l.LnG), b.w(l.LnB), b.xf, b.muf, b.rsf, n, D),
		b.launch("dense_forward", n*A, b.xf, b.w(l.Out), b.w(l.OutB), b.p, n, D, A, 0),
		b.launch("softmax_rows", n, b.p, n, A),
	)
	return inOrder(ks...)
}

func (b *Transformer) Probs(contexts []int32, probs []float32) error {
	n, err := policy.CheckProbs(b.spec, contexts, probs)
	if err != nil {
		return fmt.Errorf("cuda transformer probs: %w", err)
	}
	b.n = 0
	if n == 0 {
		return nil
	}
	return b.do("probs", func() error {
		return inOrder(
			func() error { return b.reserve(n) },
			func() error { return b.drv.CopyIn(b.ctxBuf, unsafe.Pointer(&contexts[0]), int64(len(contexts)*4)) },
			func() error { return b.forward(n) },
			func() error { return b.drv.CopyOut(unsafe.Pointer(&probs[0]), b.p, int64(len(probs)*4)) },
		)
	})
}

func (b *Transformer) Forward(contexts, actions []int32, logp []float32) error {
	n, err := policy.CheckBatch(b.spec, contexts, actions, logp)
	if err != nil {
		return fmt.Errorf("cuda transformer forward: %w", err)
	}
	b.n = 0
	if n == 0 {
		return nil
	}
	err = b.do("forward", func() error {
		return inOrder(
			func() error { return b.reserve(n) },
			func() error { return b.drv.CopyIn(b.ctxBuf, unsafe.Pointer(&contexts[0]), int64(len(contexts)*4)) },
			func() error { return b.drv.CopyIn(b.actBuf, unsafe.Pointer(&actions[0]), int64(len(actions)*4)) },
			func() error { return b.forward(n) },
			// Its buffers' addresses are read after reserve has (re)allocated them.
			func() error { return b.launch("gather_logp", n, b.p, b.actBuf, b.logp, n, b.spec.Actions)() },
			func() error { return b.drv.CopyOut(unsafe.Pointer(&logp[0]), b.logp, int64(n*4)) },
		)
	})
	if err == nil {
		b.n = n
	}
	return err
}

func (b *Transformer) Backward(coef []float32) error {
	if len(coef) != b.n {
		return fmt.Errorf("cuda transformer backward: %d coefficients for %d rows of the last forward", len(coef), b.n)
	}
	if b.n == 0 {
		return nil
	}
	s, l, n := b.spec, b.lay, b.n
	T, D, F, H, A, V := s.Context, s.Embed, s.Hidden, s.Heads, s.Actions, s.Vocab
	N := n * T
	null := uintptr(0)
	ks := []func() error{
		func() error { return b.drv.CopyIn(b.coef, unsafe.Pointer(&coef[0]), int64(n*4)) },
		b.launch("dlogits", n*A, b.p, b.actBuf, b.coef, b.dz, n, A),
		b.launch("dense_grad_weights", (D+1)*A, b.xf, b.dz, b.g(l.Out), b.g(l.OutB), n, D, A),
		b.launch("dense_grad_input", n*D, b.dz, b.w(l.Out), null, b.dxf, n, D, A),
		b.launch("layernorm_backward", n, b.xl, b.muf, b.rsf, b.w(l.LnG), b.dxf, null, b.dxl, n, D),
		b.launch("layernorm_grad_params", D, b.xl, b.muf, b.rsf, b.dxf, b.g(l.LnG), b.g(l.LnB), n, D),
		b.launch("spread_last", N*D, b.dxl, b.dx, n, T, D),
	}
	for i := len(l.Blocks) - 1; i >= 0; i-- {
		bl, k := l.Blocks[i], b.blocks[i]
		ks = append(ks,
			b.launch("dense_grad_weights", (F+1)*D, k.g, b.dx, b.g(bl.W2), b.g(bl.B2), N, F, D),
			b.launch("dense_grad_input", N*F, b.dx, b.w(bl.W2), null, b.dg, N, F, D),
			b.launch("gelu_backward", N*F, b.dg, k.u, N*F),
			b.launch("dense_grad_weights", (D+1)*F, k.m, b.dg, b.g(bl.W1), b.g(bl.B1), N, D, F),
			b.launch("dense_grad_input", N*D, b.dg, b.w(bl.W1), null, b.dm, N, D, F),
			b.launch("layernorm_backward", N, k.xmid, k.mu2, k.rs2, b.w(bl.Ln2G), b.dm, b.dx, b.dxmid, N, D),
			b.launch("layernorm_grad_params", D, k.xmid, k.mu2, k.rs2, b.dm, b.g(bl.Ln2G), b.g(bl.Ln2B), N, D),
			b.launch("dense_grad_weights", (D+1)*D, k.o, b.dxmid, b.g(bl.Wo), null, N, D, D),
			b.launch("dense_grad_input", N*D, b.dxmid, b.w(bl.Wo), null, b.dOut, N, D, D),
			b.launch("attention_backward_q", n*H*T, k.qkv, k.att, b.dOut, b.ds, b.dqkv, n, T, D, H),
			b.launch("attention_backward_kv", n*H*T, k.qkv, k.att, b.dOut, b.ds, b.dqkv, n, T, D, H),
			b.launch("dense_grad_weights", (D+1)*3*D, k.a, b.dqkv, b.g(bl.Wqkv), null, N, D, 3*D),
			b.launch("dense_grad_input", N*D, b.dqkv, b.w(bl.Wqkv), null, b.da, N, D, 3*D),
			b.launch("layernorm_backward", N, k.xin, k.mu1, k.rs1, b.w(bl.Ln1G), b.da, b.dxmid, b.dx, N, D),
			b.launch("layernorm_grad_params", D, k.xin, k.mu1, k.rs1, b.da, b.g(bl.Ln1G), b.g(bl.Ln1B), N, D),
		)
	}
	ks = append(ks,
		b.launch("tf_embed_grad", (V+T)*D, b.ctxBuf, b.dx, b.g(l.Tok), b.g(l.Pos), n, T, D, V),
		b.drv.Synchronize,
	)
	return b.do("backward", func() error { return inOrder(ks...) })
}

func (b *Transformer) Load(st policy.State) error {
	if err := b.loadParams(st); err != nil {
		return err
	}
	b.n = 0
	return nil
}

func (b *Transformer) Close() error { return b.close(b.freeBatch) }

var _ policy.Backend = (*Transformer)(nil)
