package verify

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVerifyPairs(t *testing.T) {
	strict := Options{Strict: true}
	for _, tc := range []struct {
		name       string
		gold, pred string
		want       bool
		opts       Options
	}{
		// The trainer's demo: tuples are ordered, sets are not.
		{"tuple spacing", "(1,2,3)", "(1, 2, 3)", true, strict},
		{"tuple order", "(1,2,3)", "(1,3,2)", false, strict},
		{"set order", `\{1,2,3\}`, `\{3,1,2\}`, true, strict},
		{"bare list order", "1, 2, 3", "3, 2, 1", true, strict},

		// Numbers.
		{"int", "42", "42", true, strict},
		{"int wrong", "42", "43", false, strict},
		{"decimal vs fraction", "0.5", `\frac{1}{2}`, true, strict},
		{"mixed number", `3\frac{1}{4}`, "13/4", true, strict},
		{"negative mixed number", `-3\frac{1}{4}`, "-3.25", true, strict},
		{"scientific e", "1200", "1.2e3", true, strict},
		{"scientific times", "1200", `1.2\times10^{3}`, true, strict},
		{"thousands comma", "1234567", "1,234,567", true, strict},
		{"thousands thin space", "10000", `10\,000`, true, strict},
		{"thousands space", "10000", "10 000", true, strict},
		{"tiny powers differ", `\frac{1}{2^{99}}`, `\frac{1}{2^{98}}`, false, strict},
		{"tiny powers equal", `2^{-99}`, `\frac{1}{2^{99}}`, true, strict},
		{"tiny irrational differ", `\frac{\sqrt{2}}{2^{60}}`, `\frac{\sqrt{2}}{2^{61}}`, false, strict},
		{"huge exact", `2^{200}+1`, `2^{200}`, false, strict},
		{"float precision default", `\frac{1}{3}`, "0.333333", true, strict},
		{"float precision too short", `\frac{1}{3}`, "0.33", false, strict},
		{"float precision option", `\frac{1}{3}`, "0.33", true, Options{Strict: true, Precision: 2}},
		{"dollar", `\$10`, "10", true, strict},
		{"percent vs fraction", `50\%`, "0.5", true, strict},
		{"percent vs bare", `50\%`, "50", true, strict},
		{"bare vs fraction", "50", "0.5", false, strict},
		{"degrees", `90^\circ`, "90", true, strict},
		{"degrees unicode", "90°", "90", true, strict},
		{"units text", `5\text{ cm}`, "5", true, strict},
		{"units word", "125 miles", "125", true, strict},

		// Expressions.
		{"sqrt", `\sqrt{12}`, `2\sqrt{3}`, true, strict},
		{"sqrt wrong", `\sqrt{12}`, `3\sqrt{2}`, false, strict},
		{"nth root", `\sqrt[3]{8}`, "2", true, strict},
		{"pi", `\frac{\pi}{2}`, `0.5\pi`, true, strict},
		{"unicode pi sqrt", "2π", `2\pi`, true, strict},
		{"unicode sqrt", "√2", `\sqrt{2}`, true, strict},
		{"euler", `e^{2}`, `\mathrm{e}^2`, true, strict},
		{"trig identity", `\sin^2 x + \cos^2 x`, "1", true, strict},
		{"log", `\ln(e^3)`, "3", true, strict},
		{"implicit multiplication", "2x(x+1)", "2x^2+2x", true, strict},
		{"left right cdot", `\left(2\cdot 3\right)`, "6", true, strict},
		{"div", `6 \div 4`, "3/2", true, strict},
		{"python power", "x**2 + 1", "x^2+1", true, strict},
		{"dfrac tfrac", `\dfrac{1}{3}+\tfrac{1}{3}`, `\frac{2}{3}`, true, strict},
		{"polynomial wrong", "x^2+2x+1", "x^2+2x+2", false, strict},
		{"variables strict", "f(x)", "f(y)", false, strict},
		{"variables non-strict", "x+1", "y+1", true, Options{}},
		{"binomial", `\binom{5}{2}`, "10", true, strict},
		{"factorial", "5!", "120", true, strict},
		{"infinity", `\infty`, "∞", true, strict},

		// Structures.
		{"interval", "[0,1)", "[0, 1)", true, strict},
		{"interval open ends differ", "[0,1)", "(0,1)", false, strict},
		{"interval infinite", `(-\infty, 3]`, `(-∞,3]`, true, strict},
		{"interval union order", `(-\infty,0)\cup(1,\infty)`, `(1,\infty)\cup(-\infty,0)`, true, strict},
		{"inequality as interval", "1<x<2", "(1,2)", true, strict},
		{"inequality flipped", `x \ge 5`, `5 \le x`, true, strict},
		{"inequality scaled", "x < 1", "-x > -1", true, strict},
		{"inequality wrong direction", "x > 5", "x < 5", false, strict},
		{"equation vs value", "x = 5", "5", true, strict},
		{"value vs equation", "5", "x = 5", true, strict},
		{"equation proportional", "2x+4y-3=0", `y=-\frac{1}{2}x+\frac{3}{4}`, true, strict},
		{"matrix", `\begin{pmatrix}1&2\\3&4\end{pmatrix}`, `\begin{bmatrix}1 & 2 \\ 3 & 4\end{bmatrix}`, true, strict},
		{"matrix wrong", `\begin{pmatrix}1&2\\3&4\end{pmatrix}`, `\begin{pmatrix}1&2\\4&3\end{pmatrix}`, false, strict},
		{"matrix product", `\begin{pmatrix}2&0\\0&2\end{pmatrix}`, `2\begin{pmatrix}1&0\\0&1\end{pmatrix}`, true, strict},
		{"plus minus", `1 \pm \sqrt{2}`, `1+\sqrt{2}, 1-\sqrt{2}`, true, strict},
		{"plus minus is two", `\pm 2`, "2", false, strict},
		{"solutions any order", "x = 2, x = -3", "-3, 2", true, strict},
		{"named solutions", "a = 1, b = 2", "b = 2, a = 1", true, strict},
		{"point", "(3, -1)", "(3,-1)", true, strict},
		{"point wrong order", "(3, -1)", "(-1, 3)", false, strict},

		// Words and letters.
		{"choice", "C", "The answer is (C).", true, strict},
		{"choice boxed", "C", `so \boxed{\text{(C)}}`, true, strict},
		{"choice wrong", "C", "The answer is B.", false, strict},
		{"text answer", `\text{Evelyn}`, "Evelyn", true, strict},
		{"text answer case", `\text{even}`, "Even", true, strict},
		{"text wrong", "odd", `\text{oddd}`, false, strict},

		// Extraction from whole responses.
		{"last boxed", "7", `First \boxed{3}. Then finally \boxed{7}.`, true, strict},
		{"nested braces", `\frac{1}{2}`, `So the answer is \boxed{\frac{1}{2}}.`, true, strict},
		{"fbox", "4", `\fbox{4}`, true, strict},
		{"boxed without braces", "5", `The answer is \boxed 5.`, true, strict},
		{"final answer is", "12", "Final Answer: The final answer is $12$. I hope it is correct.", true, strict},
		{"answer colon", "12", "We compute things like 3 and 4.\nAnswer: 12", true, strict},
		{"bold answer", "12", "so we get **12**", true, strict},
		{"last number", "12", "adding 5 and 7 gives 12", true, strict},
		{"gold in dollars", "$12$", "12", true, strict},
		{"gold in parens", `\(12\)`, "12", true, strict},
		{"gold in brackets", `\[12\]`, "12", true, strict},
		{"no answer", "12", "I do not know.", false, strict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Verify(context.Background(), tc.gold, tc.pred, tc.opts)
			if got.Correct != tc.want {
				t.Errorf("Verify(%q, %q) = %+v, want correct=%v", tc.gold, tc.pred, got, tc.want)
			}
			if got.Correct != (got.Reward == 1) {
				t.Errorf("reward %d does not match correct %v", got.Reward, got.Correct)
			}
		})
	}
}

func TestVerifyBadInput(t *testing.T) {
	huge := strings.Repeat("(", 10<<20)
	for _, tc := range []struct {
		name, gold, pred, reason string
	}{
		{"unbalanced braces", "1", `\boxed{\frac{1}{2`, ""},
		{"10 MB", "1", huge, ReasonTooLarge},
		{"binary junk", "1", "\x00\xff\xfe$\x01\\boxed{\x02", ""},
		{"empty gold", "", "1", ReasonNoGold},
		{"empty pred", "1", "", ReasonNoAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Verify(context.Background(), tc.gold, tc.pred, Options{})
			if got.Correct {
				t.Errorf("Verify = correct, want incorrect")
			}
			if got.Reason == "" {
				t.Errorf("no reason given: %+v", got)
			}
			if tc.reason != "" && got.Reason != tc.reason {
				t.Errorf("reason %q, want %q", got.Reason, tc.reason)
			}
		})
	}
}

// TestVerifyBudget shows that the step budget, not luck, bounds pathological
// inputs: a 64 KiB input built to be expensive ends with a verdict, and a
// tiny budget is reported as such.
func TestVerifyBudget(t *testing.T) {
	inputs := map[string]string{
		"nested parens":  strings.Repeat("(", 32<<10) + "1" + strings.Repeat(")", 32<<10-10),
		"many boxes":     strings.Repeat(`\boxed{1}, `, 6000),
		"many dollars":   strings.Repeat("$1$ and ", 8000),
		"many answers":   strings.Repeat("answer: final answer is ", 2700),
		"long power":     strings.Repeat("2^", 30000) + "2",
		"long sum":       strings.Repeat("x+", 30000) + "1",
		"many braces":    strings.Repeat("{", 30000) + strings.Repeat("}", 30000),
		"many fracs":     strings.Repeat(`\frac{1}{`, 6000) + strings.Repeat("}", 6000),
		"digits":         strings.Repeat("9", 64<<10),
		"factorial bomb": "((((9!)!)!)!)!",
		"power bomb":     "9^{9^{9^{9^{9}}}}",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if len(in) > DefaultMaxInputBytes {
				in = in[:DefaultMaxInputBytes]
			}
			res := Verify(context.Background(), "1", in, Options{})
			if res.Correct && name != "digits" {
				t.Logf("verdict %+v", res)
			}
		})
	}
	t.Run("tiny budget", func(t *testing.T) {
		res := Verify(context.Background(), `\frac{1}{2}+\frac{1}{3}`, `\frac{5}{6}`, Options{MaxSteps: 5})
		if res.Correct || res.Reason != ReasonBudget {
			t.Errorf("Verify with 5 steps = %+v, want reason %q", res, ReasonBudget)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := Verify(ctx, "1", strings.Repeat("1 + ", 5000)+"1", Options{})
		if res.Correct || res.Reason != ReasonTimeout {
			t.Errorf("Verify with a cancelled context = %+v, want reason %q", res, ReasonTimeout)
		}
	})
}

func TestVerifyConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 50 {
				r := Verify(context.Background(), `\frac{1}{2}`, `\boxed{0.5}`, Options{Strict: i%2 == 0})
				if !r.Correct {
					t.Errorf("concurrent Verify = %+v", r)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Verify(context.Background(), "2", `\boxed{2}`, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"correct":true,"reward":1,"gold_answer":"2","pred_answer":"2"}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
	b, _ = json.Marshal(Verify(context.Background(), "2", `\boxed{3}`, Options{}))
	if got, want := string(b), `{"correct":false,"reward":0,"gold_answer":"2","pred_answer":"3","reason":"mismatch"}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}

func TestVerifyTimeoutOption(t *testing.T) {
	res := Verify(context.Background(), "1", "1", Options{Timeout: time.Nanosecond})
	_ = res // a verdict or a timeout: both are answers, and neither hangs
}
