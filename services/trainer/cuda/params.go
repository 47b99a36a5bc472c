package cuda

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// deviceParams is what the CUDA backends share: the driver, the parameters, Adam's
// moments and the gradient on the device, Adam's step count, and the calls that touch
// only those.
type deviceParams struct {
	name string // "cuda", "cuda transformer": names the backend in errors
	drv  Driver
	spec policy.Spec

	params, m, v, grad uintptr
	t                  int64
	closed             bool
}

func (d *deviceParams) Name() string      { return "cuda" }
func (d *deviceParams) Spec() policy.Spec { return d.spec }

// do runs fn on the context's OS thread, where every driver call must happen, and
// names what failed.
func (d *deviceParams) do(what string, fn func() error) error {
	if d.closed {
		return fmt.Errorf("%s %s: backend closed", d.name, what)
	}
	if err := d.drv.Do(fn); err != nil {
		return fmt.Errorf("%s %s: %w", d.name, what, err)
	}
	return nil
}

func (d *deviceParams) allocParams() error {
	return d.do("allocate parameters", func() error {
		for _, p := range []*uintptr{&d.params, &d.m, &d.v, &d.grad} {
			var err error
			if *p, err = d.drv.Alloc(int64(d.spec.Size() * 4)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *deviceParams) Gradient(dst []float32) error {
	if len(dst) != d.spec.Size() {
		return fmt.Errorf("%s gradient: dst holds %d values, want %d", d.name, len(dst), d.spec.Size())
	}
	return d.do("gradient", func() error {
		return d.drv.CopyOut(unsafe.Pointer(&dst[0]), d.grad, int64(len(dst)*4))
	})
}

func (d *deviceParams) Step(opt policy.Adam) error {
	if opt.LR <= 0 || opt.Beta1 < 0 || opt.Beta1 >= 1 || opt.Beta2 < 0 || opt.Beta2 >= 1 {
		return fmt.Errorf("%s step: bad Adam settings %+v", d.name, opt)
	}
	t := d.t + 1
	bc1 := 1 - math.Pow(opt.Beta1, float64(t))
	bc2 := 1 - math.Pow(opt.Beta2, float64(t))
	// Rounded to float32 here, as the CPU backend rounds them, so both step alike.
	step := float64(float32(opt.LR * math.Sqrt(bc2) / bc1))
	eps := float64(float32(opt.Eps * math.Sqrt(bc2)))
	n := d.spec.Size()
	err := d.do("adam step", func() error {
		return inOrder(
			func() error {
				return launchOn(d.drv, "adam", n, d.params, d.m, d.v, d.grad, n, opt.Beta1, opt.Beta2, step, eps)
			},
			d.drv.Synchronize,
		)
	})
	if err == nil {
		d.t = t
	}
	return err
}

func (d *deviceParams) State() (policy.State, error) {
	n := d.spec.Size()
	st := policy.State{Params: make([]float32, n), M: make([]float32, n), V: make([]float32, n), T: d.t}
	err := d.do("read state", func() error {
		return inOrder(
			func() error { return d.drv.CopyOut(unsafe.Pointer(&st.Params[0]), d.params, int64(n*4)) },
			func() error { return d.drv.CopyOut(unsafe.Pointer(&st.M[0]), d.m, int64(n*4)) },
			func() error { return d.drv.CopyOut(unsafe.Pointer(&st.V[0]), d.v, int64(n*4)) },
		)
	})
	return st, err
}

// loadParams copies st to the device and clears the gradient.
func (d *deviceParams) loadParams(st policy.State) error {
	if err := st.Check(d.spec); err != nil {
		return fmt.Errorf("%s load: %w", d.name, err)
	}
	n := int64(d.spec.Size() * 4)
	err := d.do("load state", func() error {
		return inOrder(
			func() error { return d.drv.CopyIn(d.params, unsafe.Pointer(&st.Params[0]), n) },
			func() error { return d.drv.CopyIn(d.m, unsafe.Pointer(&st.M[0]), n) },
			func() error { return d.drv.CopyIn(d.v, unsafe.Pointer(&st.V[0]), n) },
			func() error { return d.drv.Zero32(d.grad, int64(d.spec.Size())) },
		)
	})
	if err == nil {
		d.t = st.T
	}
	return err
}

// close frees the batch (freeBatch) and the parameters, then closes the driver;
// closing again does nothing.
func (d *deviceParams) close(freeBatch func() error) error {
	if d.closed {
		return nil
	}
	err := d.do("close", func() error {
		errs := []error{freeBatch()}
		for _, p := range []uintptr{d.params, d.m, d.v, d.grad} {
			if p != 0 {
				errs = append(errs, d.drv.Free(p))
			}
		}
		return errors.Join(errs...)
	})
	d.closed = true
	return errors.Join(err, d.drv.Close())
}
