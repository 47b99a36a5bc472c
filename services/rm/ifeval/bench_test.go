package ifeval

import (
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/langdetect"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/punkt"
)

// BenchmarkCheck runs Check (strict and loose) over every conformance row; one
// op is one row. The sub-benchmarks split the rows by the kind of work their
// instructions need, so the cost of Punkt and langdetect shows beside the
// plain string checkers measured in the same run.
func BenchmarkCheck(b *testing.B) {
	rows := loadConformance(b)
	uses := func(r conformanceRow, prefixes ...string) bool {
		for _, id := range r.InstructionIDs {
			for _, p := range prefixes {
				if strings.HasPrefix(id, p) {
					return true
				}
			}
		}
		return false
	}
	var punktRows, langRows, plainRows []conformanceRow
	for _, r := range rows {
		switch {
		case uses(r, "language:", "change_case:english"):
			langRows = append(langRows, r)
		case uses(r, "length_constraints:number_sentences", "change_case:capital_word_frequency"):
			punktRows = append(punktRows, r)
		default:
			plainRows = append(plainRows, r)
		}
	}
	// Load langdetect's profiles and Punkt's parameters outside the timing.
	if _, err := Check(rows[0].input()); err != nil {
		b.Fatal(err)
	}
	for _, set := range []struct {
		name string
		rows []conformanceRow
	}{{"all", rows}, {"plain", plainRows}, {"punkt", punktRows}, {"langdetect", langRows}} {
		b.Run(set.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := Check(set.rows[i%len(set.rows)].input()); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPrimitives times the three reference-library ports over the
// conformance responses (one op is one response), to compare with
// testdata/bench_python.py's numbers for NLTK 3.8 and langdetect 1.0.9.
func BenchmarkPrimitives(b *testing.B) {
	rows := loadConformance(b)
	if err := Preload(); err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name string
		fn   func(string)
	}{
		{"langdetect.Detect", func(s string) { _, _ = langdetect.Detect(s) }},
		{"punkt.CountSentences", func(s string) { punkt.CountSentences(s) }},
		{"punkt.WordTokenize", func(s string) { punkt.WordTokenize(s) }},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.fn(rows[i%len(rows)].Response)
				i++
			}
		})
	}
}
