package verify

import (
	"context"
	"testing"
)

// TestHedges: a prediction that offers more answers than the gold has is
// wrong, whichever of them is the gold, and says so (reason "hedge"). Each
// attempt below was written to collect a reward it has not earned.
func TestHedges(t *testing.T) {
	for _, c := range []struct{ gold, pred string }{
		{`3`, `\boxed{3 \text{ or } 5}`},
		{`5`, `\boxed{3 \text{ or } 5}`},
		{`3`, `\boxed{5 \text{ or } 3}`},
		{`3`, `The answer is either 3 or 5.`},
		{`5`, `The answer is either 3 or 5.`},
		{`3`, `The answer is 3 or 5.`},
		{`3`, `Answer: 3 or 5`},
		{`3`, `The final answer is 3 or 5`},
		{`3`, `The answer is $3$ or possibly $5$.`},
		{`5`, `The answer is $3$ or possibly $5$.`},
		{`3`, `\boxed{3}, or maybe 5`},
		{`3`, `\boxed{3} (or 5)`},
		{`5`, `maybe 3 or \boxed{5}`},
		{`5`, `3 \text{ or } \boxed{5}`},
		{`3`, `\boxed{3} \text{ or } 5`},
		{`3`, `\boxed{3}. Or 5.`},
		{`3`, `The answer is 3 or five.`},
		{`3`, `The answer is 3 or about 5.`},
		{`3`, `The answer is 3 or \sqrt{2}.`},
		{`\sqrt{2}`, `maybe \sqrt{3} or \boxed{\sqrt{2}}`},
		{`2`, `\boxed{x = 2 \text{ or } x = -2}`},
		{`2`, `\boxed{\pm 2}`},
		{`2`, `\boxed{2, -2}`},
		{`-2`, `so x = 2 or x = -2`},
		{`2`, `Answer: x = 2 or x = -2`},
		{`2`, `\boxed{2 \lor 3}`},
		{`2`, `\boxed{2 \vee 3}`},
		{`2`, `\boxed{2} \boxed{3}`},
		{`10`, `\boxed{10} or \boxed{12}`},
		{`5`, `It is either $x=3$ or $x=5$.`},
		{`3`, `$3$ or $5$`},
		{`5`, `The answer is 3, 5, or 7.`},
		{`\{1, 2\}`, `The answer is 1, 2, or 3.`},
		{`\frac12`, `\boxed{\frac12 \text{ or } \frac13}`},
		{`(1, 2)`, `\boxed{(1, 2) \text{ or } (2, 1)}`},
		{`x = 3`, `\boxed{x = 3 \text{ or } x = 5}`},
		{`\text{Monday}`, `\boxed{\text{Monday or Tuesday}}`},
		{`B`, `The answer is B or C.`},
		{`C`, `The answer is B or C.`},
		{`B`, `\boxed{B \text{ or } C}`},
		{`C`, `\boxed{B} or \boxed{C}`},
		{`B`, `The answer is (B) or (C).`},
		{`B`, `The answer is B, or possibly C.`},
		{`B`, `\boxed{B}, or maybe \boxed{D}`},
		{`3`, `\boxed{3 \text{ or } \frac{1}{}}`}, // does not parse, still a hedge: never shown to a judge
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct || r.Reason != ReasonHedge {
				t.Errorf("Verify(%q, %q) = %v (%s; extracted %q), want a hedge", c.gold, c.pred, r.Correct, r.Reason, r.PredAnswer)
			}
		})
	}
}

// TestHonestAlternatives: answers with the same surface as a hedge ("or", lists,
// ±, several boxes) that state what the gold states, or that offer one answer
// and mention others in the working.
func TestHonestAlternatives(t *testing.T) {
	for _, c := range []struct{ gold, pred string }{
		{`2 \text{ or } -2`, `\boxed{2 \text{ or } -2}`},
		{`2 \text{ or } -2`, `\boxed{-2 \text{ or } 2}`},
		{`\pm 2`, `The answer is 2 or -2.`},
		{`2, -2`, `\boxed{x = \pm 2}`},
		{`\{1, 2\}`, `x = 1 or x = 2`},
		{`\{-1, 1\}`, `$-1$ or $1$`},
		{`3, 5`, `The answer is either 3 or 5.`},
		{`1, 2, 3`, `The answer is 1, 2, or 3.`},
		{`x = 2 \text{ or } x = -2`, `\boxed{x = -2 \text{ or } x = 2}`},
		{`(1, 2), (1, -2)`, `\boxed{(1, \pm 2)}`},
		{`\frac12`, `\boxed{\frac12 \text{ or } 0.5}`},
		{`\frac{1}{4}`, `the probability is $\frac14$, or $25\%$.`},
		{`5`, `The answer is 5, or equivalently 5.0`},
		{`\frac{\sqrt{3}}{2}`, `\boxed{\frac{\sqrt{3}}{2}} or approximately 0.87`},
		{`4`, "\\boxed{4}\n\nOr, checking: 2 + 2 = 4."},
		{`2`, "x = 2 or x = -2. Since x must be positive, the answer is \\boxed{2}."},
		{`3`, `The answer is 3, and 5 is not a solution.`},
		{`3`, `The answer is 3 or more precisely \boxed{3}.`},
		{`(-\infty, 2) \cup (3, \infty)`, `\boxed{x < 2 \text{ or } x > 3}`},
		{`B`, "Options B or C looked plausible, but only B works. The answer is (B)."},
		{`A`, "Either A or B could work at first sight; checking both, \\boxed{A}."},
		{`B`, `\boxed{B} or, written out, \boxed{\text{(B)}}`},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if !r.Correct {
				t.Errorf("Verify(%q, %q) = false (%s; extracted %q and %q), want true", c.gold, c.pred, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}
