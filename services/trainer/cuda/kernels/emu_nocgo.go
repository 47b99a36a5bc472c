//go:build !cgo

package kernels

import "errors"

// Emulator needs cgo, which compiles policy.cu for the CPU; this build has none.
type Emulator struct{}

func NewEmulator() (*Emulator, error) {
	return nil, errors.New("the CUDA emulator needs cgo (CGO_ENABLED=1 and a C++ compiler)")
}

func EmulatedKernels() []string { return nil }
