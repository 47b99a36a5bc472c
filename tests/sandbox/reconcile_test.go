package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
)

// TestReconcileAfterCrash leaves behind what a crashed sandbox leaves — a running
// labelled container whose owner process is gone, and a stopped one — and checks
// that a new sandbox removes both at start-up.
func TestReconcileAfterCrash(t *testing.T) {
	requireDocker(t)
	host, _ := os.Hostname()
	start := func(interactive bool) string {
		args := []string{"run", "-d", "--network", "none",
			"--label", "rewardmesh.sandbox=python", "--label", "rewardmesh.sandbox.owner=crashed-test-owner",
			"--label", "rewardmesh.sandbox.host=" + host, "--label", "rewardmesh.sandbox.pid=999999999"}
		if interactive {
			args = append(args, "-i") // stdin stays open: the agent keeps running
		}
		out, err := exec.Command("docker", append(args, images.Tag(images.Python))...).Output()
		if err != nil {
			t.Fatalf("docker run: %v", err)
		}
		id := strings.TrimSpace(string(out))
		t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
		return id
	}
	running, stopped := start(true), start(false)
	time.Sleep(time.Second) // the non-interactive agent sees EOF and exits

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{running, stopped} {
		if err := exec.Command("docker", "inspect", id).Run(); err == nil {
			t.Errorf("orphaned container %s survived the start-up reconcile", id[:12])
		}
	}
}
