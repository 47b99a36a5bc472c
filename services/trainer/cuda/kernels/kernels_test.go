package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// nvccRelease is the nvcc that made the committed PTX (its header names it).
const nvccRelease = "release 11.8, V11.8.89"

// requireTool finds a CUDA toolkit program, or skips, unless
// REWARDMESH_REQUIRE_NVCC=1 (CI installs Debian's nvidia-cuda-toolkit) makes it a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("REWARDMESH_REQUIRE_NVCC") == "1" {
			t.Fatalf("%s not installed, and REWARDMESH_REQUIRE_NVCC=1 (Debian: nvidia-cuda-toolkit from non-free)", name)
		}
		t.Skipf("%s not installed (Debian: nvidia-cuda-toolkit from non-free)", name)
	}
	return path
}

var entryRE = regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(`)

func TestPTXDefinesEveryKernel(t *testing.T) {
	var entries []string
	for _, m := range entryRE.FindAllStringSubmatch(PTX, -1) {
		entries = append(entries, m[1])
	}
	if !slices.Equal(entries, Names) {
		t.Errorf("policy.ptx defines %v, want %v", entries, Names)
	}
	// Every parameter is 64-bit: cu passes each kernel argument as 8 bytes.
	for _, line := range strings.Split(PTX, "\n") {
		if strings.Contains(line, ".param .") && !strings.Contains(line, ".param .u64") && !strings.Contains(line, ".param .f64") {
			t.Errorf("PTX parameter narrower than 8 bytes: %s", strings.TrimSpace(line))
		}
	}
}

func TestEmulatorCompiledEveryKernel(t *testing.T) {
	e, err := NewEmulator()
	if err != nil {
		t.Skip(err)
	}
	e.Close()
	if got := EmulatedKernels(); !slices.Equal(got, Names) {
		t.Errorf("the emulator compiled %v, want %v", got, Names)
	}
	for _, name := range Names {
		if !strings.Contains(Source, "__global__ void "+name+"(") {
			t.Errorf("policy.cu defines no kernel %s", name)
		}
	}
}

// TestPTXIsUpToDate regenerates the PTX with the go:generate command and compares: the
// PTX a GPU runs is what the source the emulator runs compiles to.
func TestPTXIsUpToDate(t *testing.T) {
	nvcc := requireTool(t, "nvcc")
	version, err := exec.Command(nvcc, "--version").Output()
	if err != nil {
		t.Fatalf("nvcc --version: %v", err)
	}
	if !strings.Contains(PTX, nvccRelease) {
		t.Fatalf("committed PTX is not from nvcc %s; update nvccRelease to the release that made it", nvccRelease)
	}
	if !strings.Contains(string(version), nvccRelease) {
		t.Skipf("installed nvcc is not %s, whose output the committed PTX is", nvccRelease)
	}
	out := filepath.Join(t.TempDir(), "policy.ptx")
	cmd := exec.Command(nvcc, "-ptx", "-arch=compute_70", "-O3", "-o", out, "policy.cu")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nvcc: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(fresh) != PTX {
		t.Error("policy.ptx is stale: run go generate ./services/trainer/cuda/kernels")
	}
}

// TestPTXAssembles compiles the PTX to machine code for Volta, Ampere and Hopper
// (the H100) with ptxas, as the driver's JIT does when it loads the module.
func TestPTXAssembles(t *testing.T) {
	ptxas := requireTool(t, "ptxas")
	for _, arch := range []string{"sm_70", "sm_80", "sm_90"} {
		t.Run(arch, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "policy.cubin")
			msg, err := exec.Command(ptxas, "-arch="+arch, "-o", out, "policy.ptx").CombinedOutput()
			if err != nil {
				t.Fatalf("ptxas: %v\n%s", err, msg)
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
				t.Fatalf("ptxas wrote no machine code: %v", err)
			}
		})
	}
}
