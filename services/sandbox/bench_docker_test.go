package sandbox

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestDockerBench runs the sandbox bench (`rewardmesh bench sandbox`) when
// REWARDMESH_BENCH=1; it is slow and its numbers belong in the README.
func TestDockerBench(t *testing.T) {
	if os.Getenv("REWARDMESH_BENCH") != "1" {
		t.Skip("set REWARDMESH_BENCH=1 to run the sandbox bench")
	}
	s := newDockerSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := Bench(ctx, s, BenchOptions{LoadFile: os.Getenv("REWARDMESH_BENCH_LOAD")}, testWriter{t}); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
