package verify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// seed adds every gold and pred of the conformance files to the corpus.
func seed(f *testing.F, add func(gold, pred string)) {
	for _, name := range []string{"mathverify_cases.jsonl", "othergraders_cases.jsonl"} {
		for _, c := range readJSONL[verdictCase](f, conformance.Path(f, "math", name)) {
			var gold string
			if c.Pred != nil && json.Unmarshal(c.Gold, &gold) == nil {
				add(gold, *c.Pred)
			}
		}
	}
	for _, c := range readJSONL[extractCase](f, conformance.Path(f, "math", "mathverify_extract_cases.jsonl")) {
		add(c.Input, c.Input)
	}
	add(`\boxed{\frac{1}{2`, "((((")
	add(`\sqrt[`, `\begin{pmatrix}1&\\`)
	// Hedges and the notations of the newer rules.
	add(`3`, `maybe 3 or \boxed{5}, or possibly \sqrt{2} \text{ or } five`)
	add(`B`, `The answer is (B) or (C), or \boxed{D}`)
	add(`(-\infty, 2) \cup (3, \infty)`, `\{x \in \mathbb{R} \mid x < 2 \text{ or } x > 3, x \ne 7\}`)
	add(`60^\circ 42' 36''`, `\mathbb{R} \setminus [1, 2) \cup \{5\}`)
	add(`(\pm 1, \mp 2)`, `\max = 5, \text{min} = 2, 12^{\text{th}}`)
	add(`f(x) = 2x+1`, `\text{only } f(t) = 2t + 1 or 30^{\circ}15^{\prime}`)
}

// FuzzVerify checks that no pair of inputs panics, hangs past its budget, or
// gives a verdict that disagrees with its reward.
func FuzzVerify(f *testing.F) {
	seed(f, func(g, p string) { f.Add(g, p) })
	f.Fuzz(func(t *testing.T, gold, pred string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res := verify(ctx, gold, pred, Options{})
		if res.Correct != (res.Reward == 1) {
			t.Fatalf("correct %v with reward %d", res.Correct, res.Reward)
		}
		if !res.Correct && res.Reason == "" {
			t.Fatalf("incorrect without a reason: %+v", res)
		}
		if gold == pred && res.Correct == false && res.Reason == ReasonMismatch {
			t.Fatalf("an answer differs from itself: %q", gold)
		}
	})
}

// FuzzParse checks the parser and the comparison of a tree with itself.
func FuzzParse(f *testing.F) {
	seed(f, func(g, p string) { f.Add(g); f.Add(p) })
	f.Fuzz(func(t *testing.T, s string) {
		b := newBudget(context.Background(), DefaultMaxSteps)
		n, err := parseMath(s, b, false)
		if err != nil {
			return
		}
		_ = n.String()
		c := &comparer{b: newBudget(context.Background(), DefaultMaxSteps), prec: DefaultPrecision, strict: true}
		c.equalTop(expandPM(n, c.b), expandPM(n, c.b))
	})
}

// FuzzExtract checks answer extraction from whole responses.
func FuzzExtract(f *testing.F) {
	seed(f, func(g, p string) { f.Add(p) })
	f.Fuzz(func(t *testing.T, s string) {
		for _, alternatives := range []bool{false, true} { // as a gold, and as a prediction
			b := newBudget(context.Background(), DefaultMaxSteps)
			cfg := extractConfig{targets: TargetLatex | TargetExpr, boxedPriority: prioBoxedDefault, alternatives: alternatives}
			ex := extract(s, cfg, b)
			if ex.node != nil && ex.raw == "" && len(s) > 0 {
				t.Fatalf("parsed an answer with no text: %q", s)
			}
		}
		extractLetterAnswer(s, extractConfig{targets: TargetLatex | TargetExpr, alternatives: true}, newBudget(context.Background(), DefaultMaxSteps))
		ExtractLetter(s, []string{"A", "B", "C", "D"})
	})
}
