package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// Driver is what the backend asks of a CUDA device: the driver API calls it makes, on
// device addresses. The real one is gorgonia.org/cu's, in a -tags cuda build (New);
// kernels.Emulator runs the same kernels' source on the CPU, so that everything here is
// tested on machines without a GPU.
type Driver interface {
	// Do runs fn where driver calls must be made: cu binds a context to one OS thread.
	Do(fn func() error) error
	Alloc(bytes int64) (uintptr, error)
	Free(ptr uintptr) error
	CopyIn(dst uintptr, src unsafe.Pointer, bytes int64) error
	CopyOut(dst unsafe.Pointer, src uintptr, bytes int64) error
	Zero32(dst uintptr, n int64) error
	// Launch runs a kernel of kernels.Names over grid×block threads; params[i] points
	// at the 8-byte value of the kernel's i-th parameter.
	Launch(kernel string, grid, block int, params []unsafe.Pointer) error
	Synchronize() error
	Close() error
}

const block = 256

// Backend runs the policy on one GPU, through a Driver. Like every policy.Backend it
// is not safe for concurrent use.
type Backend struct {
	deviceParams
	lay policy.Layout

	// Batch buffers, grown as batches grow.
	capRows                         int
	ctxBuf, actBuf                  uintptr // int32
	x, h, p, logp, coef, dz, dh, dx uintptr
	n                               int // rows of the last Forward
}

// NewOn starts a backend holding st on the device behind drv, and closes drv when it
// is closed (or fails to start).
func NewOn(drv Driver, spec policy.Spec, st policy.State) (*Backend, error) {
	fail := func(err error) (*Backend, error) {
		return nil, errors.Join(err, drv.Close())
	}
	if err := spec.Validate(); err != nil {
		return fail(err)
	}
	if spec.Model != policy.ModelMLP {
		return fail(fmt.Errorf("cuda backend: model %q: NewTransformerOn runs it", spec.Model))
	}
	if err := st.Check(spec); err != nil {
		return fail(err)
	}
	b := &Backend{deviceParams: deviceParams{name: "cuda", drv: drv, spec: spec}, lay: spec.Layout()}
	err := b.allocParams()
	if err == nil {
		err = b.Load(st)
	}
	if err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// launch runs kernel over n threads; call it inside do. Arguments are 8-byte values
// (device pointers, int64, float64), as the kernels declare them.
func (b *Backend) launch(kernel string, n int, args ...any) error {
	return launchOn(b.drv, kernel, n, args...)
}

// launchOn runs kernel over n threads of drv; see Backend.launch.
func launchOn(drv Driver, kernel string, n int, args ...any) error {
	if n <= 0 {
		return nil
	}
	ptrs := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case uintptr:
			ptrs[i] = unsafe.Pointer(&v)
		case int:
			w := int64(v)
			ptrs[i] = unsafe.Pointer(&w)
		case float64:
			ptrs[i] = unsafe.Pointer(&v)
		default:
			return fmt.Errorf("kernel %s: argument %d has type %T", kernel, i, a)
		}
	}
	if err := drv.Launch(kernel, (n+block-1)/block, block, ptrs); err != nil {
		return fmt.Errorf("launch %s: %w", kernel, err)
	}
	return nil
}

// launches runs kernels in order, stopping at the first error.
func (b *Backend) launches(ks ...func() error) error { return inOrder(ks...) }

func inOrder(ks ...func() error) error {
	for _, k := range ks {
		if err := k(); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) at(base uintptr, floats int) uintptr {
	return base + uintptr(floats*4)
}

func (b *Backend) batchBuffers() []*uintptr {
	return []*uintptr{&b.ctxBuf, &b.actBuf, &b.x, &b.h, &b.p, &b.logp, &b.coef, &b.dz, &b.dh, &b.dx}
}

// reserve grows the batch buffers to hold n rows; call it inside do.
func (b *Backend) reserve(n int) error {
	if n <= b.capRows {
		return nil
	}
	if err := b.freeBatch(); err != nil {
		return err
	}
	c := max(n, 2*b.capRows, 1024)
	s := b.spec
	elems := []int{c * s.Context, c, c * s.In(), c * s.Hidden, c * s.Actions, c, c, c * s.Actions, c * s.Hidden, c * s.In()}
	for i, p := range b.batchBuffers() {
		var err error
		if *p, err = b.drv.Alloc(int64(elems[i] * 4)); err != nil {
			return fmt.Errorf("allocate batch of %d rows: %w", c, err)
		}
	}
	b.capRows = c
	return nil
}

func (b *Backend) freeBatch() error {
	var errs []error
	for _, p := range b.batchBuffers() {
		if *p != 0 {
			errs = append(errs, b.drv.Free(*p))
			*p = 0
		}
	}
	b.capRows = 0
	return errors.Join(errs...)
}

// forward computes x, h and π for n rows already in ctxBuf; call it inside do.
func (b *Backend) forward(n int) error {
	s, l := b.spec, b.lay
	return b.launches(
		func() error {
			return b.launch("embed_gather", n*s.In(), b.ctxBuf, b.at(b.params, l.E), b.x, n, s.Context, s.Embed)
		},
		func() error {
			return b.launch("dense_forward", n*s.Hidden, b.x, b.at(b.params, l.W1), b.at(b.params, l.B1), b.h, n, s.In(), s.Hidden, 1)
		},
		func() error {
			return b.launch("dense_forward", n*s.Actions, b.h, b.at(b.params, l.W2), b.at(b.params, l.B2), b.p, n, s.Hidden, s.Actions, 0)
		},
		func() error { return b.launch("softmax_rows", n, b.p, n, s.Actions) },
	)
}

func (b *Backend) Probs(contexts []int32, probs []float32) error {
	n, err := policy.CheckProbs(b.spec, contexts, probs)
	if err != nil {
		return fmt.Errorf("cuda probs: %w", err)
	}
	b.n = 0 // Probs overwrites the activations a Backward would need
	if n == 0 {
		return nil
	}
	return b.do("probs", func() error {
		return b.launches(
			func() error { return b.reserve(n) },
			func() error { return b.drv.CopyIn(b.ctxBuf, unsafe.Pointer(&contexts[0]), int64(len(contexts)*4)) },
			func() error { return b.forward(n) },
			func() error { return b.drv.CopyOut(unsafe.Pointer(&probs[0]), b.p, int64(len(probs)*4)) },
		)
	})
}

func (b *Backend) Forward(contexts, actions []int32, logp []float32) error {
	n, err := policy.CheckBatch(b.spec, contexts, actions, logp)
	if err != nil {
		return fmt.Errorf("cuda forward: %w", err)
	}
	b.n = 0
	if n == 0 {
		return nil
	}
	err = b.do("forward", func() error {
		return b.launches(
			func() error { return b.reserve(n) },
			func() error { return b.drv.CopyIn(b.ctxBuf, unsafe.Pointer(&contexts[0]), int64(len(contexts)*4)) },
			func() error { return b.drv.CopyIn(b.actBuf, unsafe.Pointer(&actions[0]), int64(len(actions)*4)) },
			func() error { return b.forward(n) },
			func() error { return b.launch("gather_logp", n, b.p, b.actBuf, b.logp, n, b.spec.Actions) },
			func() error { return b.drv.CopyOut(unsafe.Pointer(&logp[0]), b.logp, int64(n*4)) },
		)
	})
	if err == nil {
		b.n = n
	}
	return err
}

func (b *Backend) Backward(coef []float32) error {
	if len(coef) != b.n {
		return fmt.Errorf("cuda backward: %d coefficients for %d rows of the last forward", len(coef), b.n)
	}
	if b.n == 0 {
		return nil
	}
	s, l, n := b.spec, b.lay, b.n
	return b.do("backward", func() error {
		return b.launches(
			func() error { return b.drv.CopyIn(b.coef, unsafe.Pointer(&coef[0]), int64(n*4)) },
			func() error { return b.launch("dlogits", n*s.Actions, b.p, b.actBuf, b.coef, b.dz, n, s.Actions) },
			func() error {
				return b.launch("dense_grad_weights", (s.Hidden+1)*s.Actions, b.h, b.dz, b.at(b.grad, l.W2), b.at(b.grad, l.B2), n, s.Hidden, s.Actions)
			},
			func() error {
				return b.launch("dense_grad_input", n*s.Hidden, b.dz, b.at(b.params, l.W2), b.h, b.dh, n, s.Hidden, s.Actions)
			},
			func() error {
				return b.launch("dense_grad_weights", (s.In()+1)*s.Hidden, b.x, b.dh, b.at(b.grad, l.W1), b.at(b.grad, l.B1), n, s.In(), s.Hidden)
			},
			func() error {
				return b.launch("dense_grad_input", n*s.In(), b.dh, b.at(b.params, l.W1), uintptr(0), b.dx, n, s.In(), s.Hidden)
			},
			func() error {
				return b.launch("embed_grad", s.Vocab*s.Embed, b.ctxBuf, b.dx, b.at(b.grad, l.E), n, s.Context, s.Embed, s.Vocab)
			},
			b.drv.Synchronize,
		)
	})
}

func (b *Backend) Load(st policy.State) error {
	if err := b.loadParams(st); err != nil {
		return err
	}
	b.n = 0
	return nil
}

func (b *Backend) Close() error { return b.close(b.freeBatch) }

var _ policy.Backend = (*Backend)(nil)
