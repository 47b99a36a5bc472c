package swe

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// TestBench runs the Go-vs-CPython comparison end to end; it asserts the
// ratios agree, never a speed.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs CPython for a few seconds; skipped with -short")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH")
	}
	var out strings.Builder
	if err := Bench(context.Background(), conformance.Path(t, "swe", "difflib_ratio.jsonl"), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "speedup") || !strings.Contains(out.String(), "600 of 600 identical") {
		t.Errorf("bench output lacks the comparison:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}

// BenchmarkSimilarity is one pass over the 300 conformance pairs, both modes.
func BenchmarkSimilarity(b *testing.B) {
	pairs := loadPairs(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pairs {
			for _, aj := range []bool{false, true} {
				if _, err := difflib.Ratio(ctx, p.A, p.B, difflib.Options{Autojunk: aj}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkSWERLReward scores all 259 conformance cases with the swerl rule.
func BenchmarkSWERLReward(b *testing.B) {
	cases := loadCases(b)
	var s Scorer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cases {
			if _, err := s.Score(ctx, Task{Response: c.Output, OriginalFiles: c.OriginalFiles, OracleFiles: c.OracleFiles, Rule: RuleSWERL}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
