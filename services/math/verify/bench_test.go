package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// TestBenchPairs prints the per-pair latency over the conformance files and the
// ratio to Math-Verify's stored timings. It asserts only that it ran: speed is
// reported, never asserted.
func TestBenchPairs(t *testing.T) {
	if testing.Short() {
		t.Skip("latency report: skipped in -short")
	}
	rep, err := BenchPairs(context.Background(), conformance.Path(t, "math"), 5)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pairs == 0 || rep.Median <= 0 {
		t.Fatalf("empty report: %+v", rep)
	}
	t.Log(rep)
}

func BenchmarkVerifyConformance(b *testing.B) {
	cases := readJSONL[verdictCase](b, conformance.Path(b, "math", "mathverify_cases.jsonl"))
	cases = append(cases, readJSONL[verdictCase](b, conformance.Path(b, "math", "othergraders_cases.jsonl"))...)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := cases[i%len(cases)]
		i++
		c.verdict(ctx)
	}
}

func BenchmarkVerifySimple(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		Verify(ctx, `\frac{1}{2}`, `The answer is $\boxed{0.5}$.`, Options{Strict: true})
	}
}

// longPlainResponse is 64 KiB of numbers and spaces ending in the answer: the
// plain-text number scan once read it again from every number (quadratic, 7.7 s).
func longPlainResponse() string { return strings.Repeat("1 ", 32000) + "5" }

func TestLongPlainResponseFindsTheLastNumber(t *testing.T) {
	r := Verify(context.Background(), "5", longPlainResponse(), Options{Strict: true})
	if !r.Correct || r.PredAnswer != "5" {
		t.Errorf("64 KiB plain response: %+v", r)
	}
}

// BenchmarkVerifyLongPlainResponse against BenchmarkVerifySimple shows the scan is
// linear in the response.
func BenchmarkVerifyLongPlainResponse(b *testing.B) {
	ctx, pred := context.Background(), longPlainResponse()
	for b.Loop() {
		Verify(ctx, "5", pred, Options{Strict: true})
	}
}
