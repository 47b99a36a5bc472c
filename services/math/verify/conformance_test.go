package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// verdictCase is a row of mathverify_cases.jsonl or othergraders_cases.jsonl.
type verdictCase struct {
	Gold     json.RawMessage `json:"gold"`
	Pred     *string         `json:"pred"`
	Expected bool            `json:"expected"`
	Source   string          `json:"source"`
	Config   *struct {
		MatchTypes []string `json:"match_types"`
		Precision  int      `json:"precision"`
		Strict     *bool    `json:"strict"`
	} `json:"config"`
	Corrected json.RawMessage `json:"corrected"`
	// MathVerify is what Math-Verify 0.8.0 answers, for comparison.
	MathVerify *bool `json:"mathverify_0_8_0_actual"`
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open conformance file: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// options maps a case's Math-Verify configuration onto Options: which
// extractors ran, float_rounding and strict.
func (c verdictCase) options() Options {
	opts := Options{Strict: true}
	if c.Config == nil {
		return opts
	}
	opts.Precision = c.Config.Precision
	if c.Config.Strict != nil {
		opts.Strict = *c.Config.Strict
	}
	for _, m := range c.Config.MatchTypes {
		switch {
		case strings.HasPrefix(m, "latex"):
			opts.Targets |= TargetLatex
		case m == "expr":
			opts.Targets |= TargetExpr
		}
	}
	return opts
}

// golds returns the case's gold answers: a string, or a list of accepted ones
// (DeepScaleR's rows), or none.
func (c verdictCase) golds() []string {
	var one string
	if json.Unmarshal(c.Gold, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Gold, &many)
	return many
}

func (c verdictCase) verdict(ctx context.Context) (bool, Result) {
	if c.Pred == nil {
		return false, Result{Reason: ReasonNoAnswer}
	}
	var last Result
	for _, g := range c.golds() {
		last = Verify(ctx, g, *c.Pred, c.options())
		if last.Correct {
			return true, last
		}
	}
	return false, last
}

func TestConformanceVerdicts(t *testing.T) {
	for _, tc := range []struct {
		file string
		min  float64
		// floor is the agreement reached so far: a change may raise it, never lower it.
		floor int
	}{
		{"mathverify_cases.jsonl", 0.98, 268},
		{"othergraders_cases.jsonl", 0.95, 81},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cases := readJSONL[verdictCase](t, conformance.Path(t, "math", tc.file))
			agree, corrected, correctedAgree, mvRows, mvAgree := 0, 0, 0, 0, 0
			for i, c := range cases {
				got, res := c.verdict(context.Background())
				if c.MathVerify != nil {
					mvRows++
					if *c.MathVerify == c.Expected {
						mvAgree++
					}
				}
				if len(c.Corrected) > 0 {
					// The source test was wrong; expected is the mathematics.
					corrected++
					if got == c.Expected {
						correctedAgree++
					}
				}
				if got == c.Expected {
					agree++
					continue
				}
				pred := ""
				if c.Pred != nil {
					pred = *c.Pred
				}
				t.Logf("miss %d (%s): expected %v got %v; gold %q pred %q; extracted gold %q pred %q; reason %s",
					i, c.Source, c.Expected, got, clip(string(c.Gold), 120), clip(pred, 160), res.GoldAnswer, res.PredAnswer, res.Reason)
			}
			if mvRows > 0 {
				t.Logf("%s: Math-Verify 0.8.0 agrees on %d/%d", tc.file, mvAgree, mvRows)
			}
			rate := float64(agree) / float64(len(cases))
			t.Logf("%s: %d/%d agree (%.1f%%); rows with corrected: %d/%d", tc.file, agree, len(cases), 100*rate, correctedAgree, corrected)
			if rate < tc.min {
				t.Errorf("%s: agreement %.1f%% is below %.0f%%", tc.file, 100*rate, 100*tc.min)
			}
			if agree < tc.floor {
				t.Errorf("%s: %d rows agree, fewer than the %d before", tc.file, agree, tc.floor)
			}
		})
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + " … " + s[len(s)-n/2:]
}

// extractCase is a row of mathverify_extract_cases.jsonl.
type extractCase struct {
	Input    string          `json:"input"`
	Expected json.RawMessage `json:"expected_extraction"`
	Config   string          `json:"config"`
	Source   string          `json:"source"`
}

func TestConformanceExtraction(t *testing.T) {
	cases := readJSONL[extractCase](t, conformance.Path(t, "math", "mathverify_extract_cases.jsonl"))
	for _, c := range cases {
		t.Run(c.Source, func(t *testing.T) {
			if strings.HasPrefix(c.Config, "StringExtractionConfig") {
				keys := []string{"A", "B", "C", "D"}
				if strings.Contains(c.Config, "strings=('U',)") {
					keys = []string{"U"}
				}
				lowercase := !strings.Contains(c.Config, "lowercase=False")
				var want []string
				if err := json.Unmarshal(c.Expected, &want); err != nil {
					t.Fatalf("expected_extraction: %v", err)
				}
				lower, found := ExtractLetter(c.Input, keys)
				var got []string
				if found != "" {
					norm := found
					if lowercase {
						norm = lower
					}
					got = []string{norm, found}
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("ExtractLetter(%q) = %q, want %q", c.Input, got, want)
				}
				return
			}
			cfg := extractConfig{targets: TargetLatex, boxedPriority: prioBoxedDefault, noFallback: true, firstMatch: true}
			if strings.Contains(c.Config, "boxed_match_priority=-1") {
				cfg.boxedPriority = -1
			}
			if strings.Contains(c.Config, "boxed_match_priority=100") {
				cfg.boxedPriority = 100
				cfg.firstMatch = false
			}
			if strings.Contains(c.Config, "malformed_operators=False") {
				cfg.strictCmd = true
			}
			b := newBudget(context.Background(), DefaultMaxSteps)
			got := extract(c.Input, cfg, b)
			var want string
			_ = json.Unmarshal(c.Expected, &want)
			switch want {
			case "len==0":
				if got.node != nil {
					t.Errorf("extract(%q) = %q, want nothing", c.Input, got.raw)
				}
			case "len==1":
				if got.node == nil {
					t.Errorf("extract(%q) found nothing, want one answer", c.Input)
				}
			default:
				if got.node == nil {
					t.Fatalf("extract(%q) found nothing, want %q", c.Input, want)
				}
				if r := Verify(context.Background(), want, got.raw, Options{Strict: true}); !r.Correct {
					t.Errorf("extract(%q) = %q, want %q", c.Input, got.raw, want)
				}
			}
		})
	}
}
