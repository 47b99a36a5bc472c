package sandbox

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

func TestZZDebug(t *testing.T) {
	s := newDockerSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ss, err := s.open(ctx, Python)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.close()
	lim, _ := s.limits(2000, 0)
	for round := 0; round < 4; round++ {
		var cpuC, wallC, cpuB, wallB time.Duration
		for i := 0; i < 30; i++ {
			start := time.Now()
			r, _ := ss.do(ctx, runner.Request{Op: runner.OpRun, Argv: []string{"python3", "-c", "pass"}, Limits: lim})
			wallC += time.Since(start)
			cpuC += time.Duration(r.CPUMicros) * time.Microsecond
			start = time.Now()
			cmd := exec.Command("/usr/bin/python3", "-c", "pass")
			cmd.Run()
			wallB += time.Since(start)
			cpuB += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		t.Logf("container: wall %v cpu %v | bare: wall %v cpu %v", wallC/30, cpuC/30, wallB/30, cpuB/30)
	}
}
