//go:build cgo

package kernels

import (
	"math"
	"strings"
	"testing"
	"unsafe"
)

func newEmulator(t *testing.T) *Emulator {
	t.Helper()
	e, err := NewEmulator()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func alloc(t *testing.T, e *Emulator, bytes int64) uintptr {
	t.Helper()
	p, err := e.Alloc(bytes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// params packs kernel arguments as the CUDA backend does: a pointer to an 8-byte value each.
func params(args ...uint64) []unsafe.Pointer {
	ps := make([]unsafe.Pointer, len(args))
	for i := range args {
		ps[i] = unsafe.Pointer(&args[i])
	}
	return ps
}

// TestEmulatorRunsAKernel runs adam over 300 values (two blocks, the second partly
// idle) and checks it against the update written out by hand.
func TestEmulatorRunsAKernel(t *testing.T) {
	e := newEmulator(t)
	const n = 300
	buf := map[string]uintptr{}
	host := map[string][]float32{}
	for i, name := range []string{"params", "m", "v", "grad"} {
		buf[name] = alloc(t, e, n*4)
		host[name] = make([]float32, n)
		for j := range host[name] {
			host[name][j] = float32(j%7-3) * float32(i+1) * 0.1
		}
		if name == "v" {
			for j := range host[name] {
				host[name][j] = float32(j%5) * 0.01
			}
		}
		if err := e.CopyIn(buf[name], unsafe.Pointer(&host[name][0]), n*4); err != nil {
			t.Fatal(err)
		}
	}
	step, eps := 0.01, 1e-8
	err := e.Launch("adam", 2, 256, params(uint64(buf["params"]), uint64(buf["m"]), uint64(buf["v"]), uint64(buf["grad"]),
		n, math.Float64bits(0.9), math.Float64bits(0.999), math.Float64bits(step), math.Float64bits(eps)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for name := range buf {
		got[name] = make([]float32, n)
		if err := e.CopyOut(unsafe.Pointer(&got[name][0]), buf[name], n*4); err != nil {
			t.Fatal(err)
		}
	}
	for j := 0; j < n; j++ {
		g := float64(host["grad"][j])
		m := 0.9*float64(host["m"][j]) + 0.1*g
		v := 0.999*float64(host["v"][j]) + 0.001*g*g
		p := float64(host["params"][j]) - step*m/(math.Sqrt(v)+eps)
		if math.Abs(float64(got["m"][j])-m) > 1e-6 || math.Abs(float64(got["v"][j])-v) > 1e-6 ||
			math.Abs(float64(got["params"][j])-p) > 1e-5 || got["grad"][j] != 0 {
			t.Fatalf("value %d: params %v m %v v %v grad %v, want %v %v %v 0",
				j, got["params"][j], got["m"][j], got["v"][j], got["grad"][j], p, m, v)
		}
	}
}

// TestEmulatorCatches is what the emulator refuses that a GPU might let pass or
// crash on; each case must fail with a message naming the problem.
func TestEmulatorCatches(t *testing.T) {
	e := newEmulator(t)
	x := alloc(t, e, 64*4)
	E := alloc(t, e, 10*4)
	ctx := alloc(t, e, 16*4)
	var tokens [16]int32
	var host [128]float32
	for i := range host {
		host[i] = float32(i) + 0.5
	}
	if err := e.CopyIn(ctx, unsafe.Pointer(&tokens[0]), 16*4); err != nil {
		t.Fatal(err)
	}
	if err := e.CopyIn(E, unsafe.Pointer(&host[0]), 10*4); err != nil {
		t.Fatal(err)
	}
	W, y := alloc(t, e, 64*4), alloc(t, e, 64*4)
	if err := e.CopyIn(W, unsafe.Pointer(&host[0]), 64*4); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		err        error
	}{
		{"copy past the end", "outside device memory", e.CopyIn(x, unsafe.Pointer(&host[0]), 65*4)},
		{"copy from an offset past the end", "outside device memory", e.CopyOut(unsafe.Pointer(&host[0]), x+60*4, 8*4)},
		{"copy to host memory", "outside device memory", e.CopyIn(uintptr(unsafe.Pointer(&host[0])), unsafe.Pointer(&host[1]), 4)},
		{"memset past the end", "outside device memory", e.Zero32(E, 11)},
		{"free an interior address", "not the start of an allocation", e.Free(x + 4)},
		{"zero-byte allocation", "size must be positive", func() error { _, err := e.Alloc(0); return err }()},
		{"unknown kernel", "no kernel named", e.Launch("matmul", 1, 32, params(1))},
		{"too few arguments", "5 arguments for 6 parameters", e.Launch("embed_gather", 1, 32, params(uint64(ctx), uint64(E), uint64(x), 1, 4))},
		{"pointer argument not device memory", "argument 1", e.Launch("embed_gather", 1, 32,
			params(uint64(ctx), uint64(uintptr(unsafe.Pointer(&host[0]))), uint64(x), 1, 4, 2))},
		// 4 rows × 4 tokens × 8 wide is 128 values into a 64-value buffer.
		{"kernel writing past its buffer", "embed_gather wrote outside its memory", e.Launch("embed_gather", 1, 128,
			params(uint64(ctx), uint64(E), uint64(x), 4, 4, 8))},
		// Output aliasing input: each thread reads the row that others overwrite.
		{"threads racing", "depends on the order its threads run in", e.Launch("dense_forward", 1, 64,
			params(uint64(x), uint64(W), uint64(W), uint64(x), 8, 8, 8, 0))},
		{"a launch after a bad one", "", e.Launch("dense_forward", 1, 64,
			params(uint64(x), uint64(W), uint64(W), uint64(y), 8, 8, 8, 0))},
		{"block too large", "not a valid launch", e.Launch("adam", 1, 2048, params(1, 2, 3, 4, 5, 6, 7, 8, 9))},
	}
	for _, c := range cases {
		if c.want == "" {
			if c.err != nil {
				t.Errorf("%s: %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one saying %q", c.name, c.err, c.want)
		}
	}
}

// TestEmulatorFreshMemoryIsNaN: device memory is not zeroed on allocation, and a
// kernel that reads what nobody wrote should show it.
func TestEmulatorFreshMemoryIsNaN(t *testing.T) {
	e := newEmulator(t)
	p := alloc(t, e, 16)
	var got [4]float32
	if err := e.CopyOut(unsafe.Pointer(&got[0]), p, 16); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if !math.IsNaN(float64(v)) {
			t.Errorf("fresh value %d = %v, want NaN", i, v)
		}
	}
	if err := e.Zero32(p, 4); err != nil {
		t.Fatal(err)
	}
	if err := e.CopyOut(unsafe.Pointer(&got[0]), p, 16); err != nil {
		t.Fatal(err)
	}
	if got != [4]float32{} {
		t.Errorf("after memset: %v", got)
	}
}

func TestEmulatorClosed(t *testing.T) {
	e := newEmulator(t)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Alloc(4); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("alloc on a closed device: %v", err)
	}
}
