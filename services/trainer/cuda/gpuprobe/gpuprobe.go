//go:build cuda

// Package gpuprobe runs before gorgonia.org/cu's init in any binary that links both,
// and handles the machine without an NVIDIA driver, where cu's init would print an
// opaque error and exit 1.
//
// Go initialises packages in import-path order among those whose imports are ready
// (the rule since Go 1.21). This package imports only fmt and os, which cu imports
// too, and "github.com/…" sorts before "gorgonia.org/…", so its init runs first.
//
// In a test binary (go test passes -test.* flags) it reports the skip and exits 0, so
// `go test -tags cuda` on a machine without a GPU skips the CUDA tests rather than
// failing; in any other binary it exits 1 with a message that says what is missing.
package gpuprobe

import (
	"fmt"
	"os"
	"strings"
)

// driverFiles are what the NVIDIA kernel driver creates; without them cuInit fails.
var driverFiles = []string{"/dev/nvidiactl", "/proc/driver/nvidia/version"}

// Missing returns why no NVIDIA driver is usable here, or "" when one is.
func Missing() string {
	for _, f := range driverFiles {
		if _, err := os.Stat(f); err == nil {
			return ""
		}
	}
	return "no NVIDIA driver (neither " + strings.Join(driverFiles, " nor ") + " exists)"
}

func isTestBinary() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.") {
			return true
		}
	}
	return false
}

func init() {
	why := Missing()
	if why == "" {
		return
	}
	if isTestBinary() {
		fmt.Printf("--- SKIP: CUDA tests: %s\nPASS\n", why)
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "this binary was built with -tags cuda and needs an NVIDIA GPU: %s\n", why)
	os.Exit(1)
}
