//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/rewardmesh/rewardmesh/services/trainer/cuda/kernels"

	_ "github.com/rewardmesh/rewardmesh/services/trainer/cuda/gpuprobe" // must init before cu: see its doc
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// Available reports whether a CUDA device can be used, and why not.
func Available() error {
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("count CUDA devices: %w", err)
	}
	if n == 0 {
		return errors.New("no CUDA device")
	}
	return nil
}

// New starts a backend on GPU 0 holding st, its kernels loaded from the embedded PTX.
func New(spec policy.Spec, st policy.State) (*Backend, error) {
	drv, err := openDevice(0)
	if err != nil {
		return nil, err
	}
	return NewOn(drv, spec, st)
}

// NewPolicy starts the backend for spec's model (NewPolicyOn) on GPU 0.
func NewPolicy(spec policy.Spec, st policy.State) (policy.Backend, error) {
	drv, err := openDevice(0)
	if err != nil {
		return nil, err
	}
	return NewPolicyOn(drv, spec, st)
}

// device is the Driver of a real GPU: a context on it, and the kernels' module.
type device struct {
	ctx *cu.Ctx
	mod cu.Module
	fn  map[string]cu.Function
}

func openDevice(ordinal int) (_ *device, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("get CUDA device %d: %w", ordinal, err)
	}
	d := &device{fn: map[string]cu.Function{}}
	if d.ctx, err = newContext(dev); err != nil {
		return nil, err
	}
	err = d.ctx.Do(func() error {
		var err error
		if d.mod, err = cu.LoadData(kernels.PTX); err != nil {
			return fmt.Errorf("load PTX: %w", err)
		}
		for _, name := range kernels.Names {
			f, err := d.mod.Function(name)
			if err != nil {
				return fmt.Errorf("find kernel %s: %w", name, err)
			}
			d.fn[name] = f
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cuda: %w", err), d.Close())
	}
	return d, nil
}

// newContext creates a context on dev; cu.NewContext panics when the driver refuses.
func newContext(dev cu.Device) (ctx *cu.Ctx, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("create CUDA context: %v", r)
		}
	}()
	return cu.NewContext(dev, cu.SchedAuto), nil
}

func (d *device) Do(fn func() error) error { return d.ctx.Do(fn) }

func (d *device) Alloc(bytes int64) (uintptr, error) {
	p, err := cu.MemAlloc(bytes)
	return uintptr(p), err
}

func (d *device) Free(p uintptr) error { return cu.MemFree(cu.DevicePtr(p)) }

func (d *device) CopyIn(dst uintptr, src unsafe.Pointer, bytes int64) error {
	return cu.MemcpyHtoD(cu.DevicePtr(dst), src, bytes)
}

func (d *device) CopyOut(dst unsafe.Pointer, src uintptr, bytes int64) error {
	return cu.MemcpyDtoH(dst, cu.DevicePtr(src), bytes)
}

func (d *device) Zero32(dst uintptr, n int64) error { return cu.MemsetD32(cu.DevicePtr(dst), 0, n) }

func (d *device) Launch(kernel string, grid, block int, params []unsafe.Pointer) error {
	f, ok := d.fn[kernel]
	if !ok {
		return fmt.Errorf("no kernel named %s", kernel)
	}
	return f.Launch(grid, 1, 1, block, 1, 1, 0, cu.NoStream, params)
}

func (d *device) Synchronize() error { return cu.Synchronize() }

// Close unloads the module and destroys the context.
func (d *device) Close() error {
	var err error
	if d.mod != (cu.Module{}) {
		err = d.ctx.Do(d.mod.Unload)
	}
	return errors.Join(err, d.ctx.Close())
}
