package cuda

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests need no GPU and do not import gorgonia.org/cu: they check that the
// committed PTX is what the committed .cu source compiles to.

func TestPTXDefinesEveryKernel(t *testing.T) {
	ptx, err := os.ReadFile(filepath.Join("kernels", "policy.ptx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"embed_gather", "dense_forward", "softmax_rows", "gather_logp", "dlogits",
		"dense_grad_weights", "dense_grad_input", "embed_grad", "adam",
	} {
		if !bytes.Contains(ptx, []byte(".visible .entry "+name+"(")) {
			t.Errorf("kernels/policy.ptx has no entry %s", name)
		}
	}
	// Every parameter is 64-bit: cu passes each kernel argument as 8 bytes.
	for _, line := range strings.Split(string(ptx), "\n") {
		if strings.Contains(line, ".param .") && !strings.Contains(line, ".param .u64") && !strings.Contains(line, ".param .f64") {
			t.Errorf("PTX parameter narrower than 8 bytes: %s", strings.TrimSpace(line))
		}
	}
}

// TestPTXIsUpToDate regenerates the PTX with the committed command and compares, when
// the nvcc that made it (the header names the release) is installed.
func TestPTXIsUpToDate(t *testing.T) {
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		t.Skip("nvcc not installed (Debian: nvidia-cuda-toolkit)")
	}
	committed, err := os.ReadFile(filepath.Join("kernels", "policy.ptx"))
	if err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(nvcc, "--version").Output()
	if err != nil {
		t.Fatalf("nvcc --version: %v", err)
	}
	release := "release 11.8, V11.8.89"
	if !bytes.Contains(committed, []byte(release)) {
		t.Fatalf("committed PTX is not from nvcc %s; update this test with the release that made it", release)
	}
	if !bytes.Contains(version, []byte(release)) {
		t.Skipf("installed nvcc is not %s, whose output the committed PTX is", release)
	}
	out := filepath.Join(t.TempDir(), "policy.ptx")
	cmd := exec.Command(nvcc, "-ptx", "-arch=compute_70", "-O3", "-o", out, filepath.Join("kernels", "policy.cu"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nvcc: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Error("kernels/policy.ptx is stale: run go generate ./services/trainer/cuda")
	}
}
