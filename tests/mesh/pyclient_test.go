package mesh_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonClient runs the Python client's unittest suite (clients/python/tests)
// with Debian's python3 against `up`: math, the sandbox where Docker has its
// image, and no swe service, so that the suite sees a failure of the mesh too.
func TestPythonClient(t *testing.T) {
	python := requireServer(t, "python3")
	base, _, sandbox := startTrainerMesh(t, 300*time.Millisecond)
	hasSandbox := "0"
	if sandbox {
		hasSandbox = "1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "discover", "-v", "-s", filepath.Join("..", "..", "clients", "python", "tests"))
	cmd.Env = append(os.Environ(), "REWARDMESH_URL="+base, "REWARDMESH_TEST_CODE="+hasSandbox, "REWARDMESH_TEST_DOWN=swe",
		"PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, tail(string(out), 6000))
	}
	t.Logf("%s", tail(string(out), 1500))
}
