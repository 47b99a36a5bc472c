//go:build cgo

package kernels

/*
#cgo CXXFLAGS: -std=c++17 -O2
#include <stdlib.h>
#include "emu_api.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Emulator is a CPU stand-in for a GPU holding this package's kernels. It answers
// the calls the CUDA backend makes of the driver (it implements cuda.Driver) and runs
// policy.cu's kernels, compiled from their source, over every thread of a launch in
// turn. It is stricter than a GPU: fresh memory reads as NaN, a copy or pointer
// argument outside an allocation fails, a write past an allocation fails the launch,
// a launch whose result depends on the order its threads run in (a race) fails, and
// every kernel parameter must be 8 bytes wide. It is for tests, not speed.
type Emulator struct {
	mu     sync.Mutex
	dev    *C.emu_device
	closed bool
}

// NewEmulator starts an emulated device.
func NewEmulator() (*Emulator, error) {
	return &Emulator{dev: C.emu_open()}, nil
}

// EmulatedKernels lists the kernels the emulator compiled from policy.cu.
func EmulatedKernels() []string {
	names := make([]string, int(C.emu_kernel_count()))
	for i := range names {
		names[i] = C.GoString(C.emu_kernel_name(C.int(i)))
	}
	return names
}

// call runs fn, which returns an emu_* result, under the lock and turns its message
// into an error.
func (e *Emulator) call(what string, fn func() *C.char) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("emulated %s: device closed", what)
	}
	if msg := fn(); msg != nil {
		return fmt.Errorf("emulated %s: %s", what, C.GoString(msg))
	}
	return nil
}

// Do runs fn; the emulator has no thread to pin, and every call takes the lock itself.
func (e *Emulator) Do(fn func() error) error { return fn() }

func (e *Emulator) Alloc(bytes int64) (uintptr, error) {
	var p C.uintptr_t
	err := e.call("alloc", func() *C.char { return C.emu_alloc(e.dev, C.int64_t(bytes), &p) })
	return uintptr(p), err
}

func (e *Emulator) Free(p uintptr) error {
	return e.call("free", func() *C.char { return C.emu_free(e.dev, C.uintptr_t(p)) })
}

func (e *Emulator) CopyIn(dst uintptr, src unsafe.Pointer, bytes int64) error {
	return e.call("copy to device", func() *C.char {
		return C.emu_copy_in(e.dev, C.uintptr_t(dst), src, C.int64_t(bytes))
	})
}

func (e *Emulator) CopyOut(dst unsafe.Pointer, src uintptr, bytes int64) error {
	return e.call("copy from device", func() *C.char {
		return C.emu_copy_out(e.dev, dst, C.uintptr_t(src), C.int64_t(bytes))
	})
}

func (e *Emulator) Zero32(dst uintptr, n int64) error {
	return e.call("memset", func() *C.char { return C.emu_zero32(e.dev, C.uintptr_t(dst), C.int64_t(n)) })
}

// Launch runs kernel over grid blocks of block threads. As gorgonia.org/cu does, it
// reads 8 bytes behind each of params and hands the kernel those values.
func (e *Emulator) Launch(kernel string, grid, block int, params []unsafe.Pointer) error {
	if grid <= 0 || block <= 0 || block > 1024 {
		return fmt.Errorf("emulated launch %s: grid %d × block %d is not a valid launch", kernel, grid, block)
	}
	// The values go to C in Go memory that holds no pointers, as cgo allows.
	slots := make([]C.uint64_t, len(params))
	for i, p := range params {
		slots[i] = C.uint64_t(*(*uint64)(p))
	}
	name := C.CString(kernel)
	defer C.free(unsafe.Pointer(name))
	var first *C.uint64_t
	if len(slots) > 0 {
		first = &slots[0]
	}
	return e.call("launch", func() *C.char {
		return C.emu_launch(e.dev, name, C.uint(grid), C.uint(block), first, C.int(len(slots)))
	})
}

// Synchronize returns at once: an emulated launch has finished when Launch returns.
func (e *Emulator) Synchronize() error { return nil }

// Close frees the device's memory; closing again does nothing.
func (e *Emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	C.emu_close(e.dev)
	e.dev = nil
	return nil
}
