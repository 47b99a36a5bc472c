package verify

import (
	"context"
	"testing"
)

// ruleCase is an answer in another form than its gold's: want says whether it
// is the same answer. Every category holds near misses it must still reject.
type ruleCase struct {
	gold, pred string
	want       bool
	question   string
}

func checkRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true, Question: c.question})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q, question %q) = %v, want %v (%s; extracted %q and %q)",
					c.gold, c.pred, c.question, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}

func TestRuleFunctionParameters(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `f(x) = 2x+1`, pred: `f(t) = 2t + 1`, want: true},
		{gold: `f(x) = x^2 - 1`, pred: `\boxed{f(u) = (u-1)(u+1)}`, want: true},
		{gold: `g(x, y) = x + 2y`, pred: `g(a, b) = a + 2b`, want: true},
		{gold: `2x+1`, pred: `f(t) = 2t + 1`, want: true},
		{gold: `f(x) = 2x+1`, pred: `f(t) = 2x + 1`, want: false}, // the parameter is t: 2x + 1 is a constant in t
		{gold: `f(x) = 2x+1`, pred: `f(t) = 2t - 1`, want: false},
		{gold: `f(x) = 2x+1`, pred: `g(t) = 2t + 1`, want: false}, // another function
		{gold: `g(x, y) = x + 2y`, pred: `g(b, a) = a + 2b`, want: false},
		{gold: `f(x) = 2x+1`, pred: `2t + 1`, want: false}, // t is not declared
		{gold: `2x+1`, pred: `f(t) = 2s + 1`, want: false},
	})
}

func TestRuleLabelledValues(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `2, 5`, pred: `\max = 5, \min = 2`, want: true},
		{gold: `(2, 5)`, pred: `\text{maximum} = 5, \text{minimum} = 2`, want: true},
		{gold: `5, 2`, pred: `\text{min} = 2, \text{max} = 5`, want: true},
		{gold: `(1, 3)`, pred: `a = 1, b = 3`, want: true},
		{gold: `(1, 3)`, pred: `a = 1 \text{ and } b = 3`, want: true},
		{gold: `(-1, 4)`, pred: `x = -1, y = 4`, want: true},
		{gold: `(x, y) = (-1, 4)`, pred: `y = 4, x = -1`, want: true},
		{gold: `(1, 3)`, pred: `b = 3, a = 1`, want: false},     // (3, 1) as written, (1, 3) as (a, b): ambiguous, so no
		{gold: `2, 5`, pred: `\max = 2, \min = 5`, want: false}, // the labels contradict the values
		{gold: `2, 5`, pred: `\max = 5, \min = 3`, want: false},
		{gold: `2, 5`, pred: `\max = 5, \text{mean} = 2`, want: false},
		{gold: `(1, 3)`, pred: `b = 1, a = 3`, want: false},
		{gold: `(-1, 4)`, pred: `x = 4, y = -1`, want: false},
	})
}

func TestRuleOrdinalsAndAngles(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `12`, pred: `12^{\text{th}}`, want: true},
		{gold: `12`, pred: `\boxed{12th}`, want: true},
		{gold: `1`, pred: `1^{\text{st}}`, want: true},
		{gold: `2`, pred: `2^{nd}`, want: true},
		{gold: `23`, pred: `23rd`, want: true},
		{gold: `60.7`, pred: `60^\circ 42'`, want: true},
		{gold: `60.7^\circ`, pred: `60°42′`, want: true},
		{gold: `60.71`, pred: `60^\circ 42' 36''`, want: true},
		{gold: `30.25`, pred: `30^{\circ}15^{\prime}`, want: true},
		{gold: `12`, pred: `13^{\text{th}}`, want: false},
		{gold: `2`, pred: `2^{th}`, want: false}, // not an ordinal: 2 to the power t·h
		{gold: `12`, pred: `12^{\text{nd}} + 1`, want: false},
		{gold: `60.42`, pred: `60^\circ 42'`, want: false},
		{gold: `60.7`, pred: `60^\circ 24'`, want: false},
		{gold: `60.7`, pred: `60^\circ 42''`, want: false}, // seconds are not minutes
	})
}

func TestRuleSetsOfReals(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `(-\infty, 2) \cup (3, \infty)`, pred: `\{x \mid x < 2 \text{ or } x > 3\}`, want: true},
		{gold: `(1, 3)`, pred: `\{x \in \mathbb{R} : x > 1 \text{ and } x < 3\}`, want: true},
		{gold: `(-\infty, 2) \cup (2, \infty)`, pred: `\mathbb{R} \setminus \{2\}`, want: true},
		{gold: `[1, 3]`, pred: `[1, 2] \cup [2, 3]`, want: true},
		{gold: `(-\infty, 5]`, pred: `(-\infty, 0) \cup [0, 5]`, want: true},
		{gold: `(-\infty, 2) \cup (3, \infty)`, pred: `x \in (-\infty, 2) \cup (3, \infty)`, want: true},
		{gold: `[2, 3]`, pred: `\{x \mid x \ge 2, x \le 3\}`, want: true},
		{gold: `(-\infty, 2) \cup (3, \infty)`, pred: `\{x \mid x \le 2 \text{ or } x > 3\}`, want: false},
		{gold: `[1, 3]`, pred: `[1, 2) \cup (2, 3]`, want: false},
		{gold: `(1, 3)`, pred: `\{x \mid x > 1 \text{ and } x < 4\}`, want: false},
		{gold: `[1, 3]`, pred: `\{1, 2, 3\}`, want: false},
		{gold: `(-\infty, 2) \cup (2, \infty)`, pred: `\mathbb{R} \setminus \{3\}`, want: false},
		{gold: `(-\infty, 2) \cup (3, \infty)`, pred: `\{x \mid x < 2 \text{ and } x > 3\}`, want: false},
	})
}

func TestRuleFillerWords(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `0`, pred: `\text{only } x = 0`, want: true},
		{gold: `5`, pred: `\boxed{\text{only } 5}`, want: true},
		{gold: `0`, pred: `x = 0 \text{ only}`, want: true},
		{gold: `-3`, pred: `\text{exactly } -3`, want: true},
		{gold: `0`, pred: `\text{only } x = 1`, want: false},
		{gold: `0`, pred: `\text{not } 0`, want: false},
		{gold: `5`, pred: `\text{only } 5 \text{ or } 6`, want: false},
	})
}

func TestRuleQuestion(t *testing.T) {
	percent := "What percent of 80 is 20?"
	statement := "A shirt costs $50 and is sold at a 20% discount. What is the sale price?"
	howMany := "How many triangles are in the figure?"
	checkRules(t, []ruleCase{
		{gold: `25`, pred: `0.25`, want: true, question: percent},
		{gold: `25`, pred: `\boxed{\frac{1}{4}}`, want: true, question: percent},
		{gold: `25`, pred: `25`, want: true, question: percent},
		{gold: `25`, pred: `25\%`, want: true, question: percent},
		{gold: `25`, pred: `0.25`, want: false},                     // no question: 25 is not 0.25
		{gold: `25`, pred: `2.5`, want: false, question: percent},   // 2.5% or 250%, not 25%
		{gold: `25`, pred: `0.025`, want: false, question: percent}, // 2.5%
		{gold: `25`, pred: `0.25\%`, want: false, question: percent},
		{gold: `40`, pred: `0.4`, want: false, question: statement}, // the question asks a price, not a percentage
		{gold: `12`, pred: `12 triangles`, want: true, question: howMany},
		{gold: `12`, pred: `\boxed{12 \text{ triangles}}`, want: true, question: howMany},
		{gold: `12`, pred: `13 triangles`, want: false, question: howMany},
		{gold: `12`, pred: `12x`, want: false, question: howMany},
		{gold: `12`, pred: `12 or 13 triangles`, want: false, question: howMany},
	})
}

func TestRulePlusMinusTuples(t *testing.T) {
	checkRules(t, []ruleCase{
		{gold: `(1, 2), (1, -2)`, pred: `(1, \pm 2)`, want: true},
		{gold: `(1, \pm 2)`, pred: `(1, -2), (1, 2)`, want: true},
		{gold: `(\pm 1, \mp 2)`, pred: `(1, -2), (-1, 2)`, want: true},
		{gold: `(\sqrt{2}, \sqrt{2}), (-\sqrt{2}, -\sqrt{2})`, pred: `(\pm\sqrt{2}, \pm\sqrt{2})`, want: true},
		{gold: `x = \pm 3`, pred: `x = 3, x = -3`, want: true},
		{gold: `(1, \pm 2)`, pred: `(1, 2), (-1, -2)`, want: false},
		{gold: `(\pm 1, \mp 2)`, pred: `(1, 2), (-1, -2)`, want: false},
		{gold: `(1, 2)`, pred: `(1, \pm 2)`, want: false}, // a hedge
		{gold: `(1, 2), (1, -2)`, pred: `(1, 2)`, want: false},
	})
}
