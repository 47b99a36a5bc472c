package verify

import (
	"context"
	"testing"
)

// TestVerifyHardPairs holds pairs the conformance files do not cover: forms a
// model writes and traps a loose checker falls into.
func TestVerifyHardPairs(t *testing.T) {
	for _, c := range []struct {
		g, p string
		want bool
	}{
		// Reward hacks found by an audit: each was scored correct once.
		{`5`, `e^{100}-e^{100}`, false}, // cancellation made the tolerance 10^34
		{`x+1`, `e^{100}-e^{100}`, false},
		{`\frac{3}{7}`, `\pi^{40}-\pi^{40}`, false},
		{`x^2+1`, `(e^{50}-e^{50})x`, false},
		{`5`, `10^{12}\sqrt{2}-10^{12}\sqrt{2}+7`, false},
		{`5`, `\sqrt{10^{40}+1}-10^{20}`, false},
		{`\pi^{20}`, `\pi^{20}+1`, false},
		{`x=1, y=5`, `y=1, x=5`, false}, // names were dropped and values compared in order
		{`a=2, b=3`, `b=2, a=3`, false},
		{`x=1, y=5`, `x=1, x=5`, false},
		{`(x, y) = (1, 5)`, `y = 1, x = 5`, false},
		{`x=1, y=5`, `y=5, x=1`, true},
		{`x=1, x=5`, `x=5, x=1`, true},
		{`(x, y) = (1, 5)`, `x = 1, y = 5`, true},
		{`0.01`, `0.005`, false}, // a one-digit gold took anything that rounds to it
		{`0.05`, `0.045`, false},
		{`0.01`, `\frac{1}{199}`, false},
		{`0.29`, `0.290243`, true},
		{`1`, `1000001-1000000`, true},
		{`\frac{\sqrt{3}}{2}`, `\frac{1}{2}\sqrt{3}`, true},
		{`2\sqrt{2}`, `\sqrt{8}`, true},
		{`\dfrac{3}{4}`, `0.75`, true},
		{`x^2-1`, `(x-1)(x+1)`, true},
		{`\frac{1}{x}`, `x^{-1}`, true},
		{`3`, `3.0001`, false},
		{`1/3`, `0.3333333`, true},
		{`1000`, `\$1,000`, true},
		{`10^{10}`, `10000000000`, true},
		{`(-\infty, 2) \cup (3, \infty)`, `x<2 \text{ or } x>3`, true},
		{`a = 2, b = 3`, `(2, 3)`, true},
		{`5\%`, `0.05`, true},
		{`\frac{1}{4}`, `25\%`, true},
		{`3+4i`, `4i+3`, true},
		{`3+4i`, `3-4i`, false},
		{`e^{i\pi}`, `-1`, true},
		{`\log_2 8`, `3`, true},
		{`\frac{\sqrt{2}}{2}`, `\frac{1}{\sqrt{2}}`, true},
		{`-\infty`, `-\infty`, true},
		{`\infty`, `-\infty`, false},
		{`(0, 1]`, `0 < x \le 1`, true},
		{`y = 2x + 3`, `2x+3`, true},
		{`y = 2x+3`, `y = 3 + 2x`, true},
		{`5`, `The answer is 5.`, true},
		{`5`, "**Final Answer**\n\n\\boxed{5}", true},
		{`5`, "<think>maybe 4</think> so \\boxed{5}", true},
		{`5`, "<think>maybe 4</think> so \\boxed{4}", false},
		{`\frac{3}{2}`, `1.5`, true},
		{`\frac{3}{2}`, `3/2`, true},
		{`\frac{3}{2}`, `\frac32`, true},
		{`2`, `\frac{4}{2}`, true},
		{`-3`, `- 3`, true},
		{`x=3`, `x = -3`, false},
		{`\{1, 2\}`, `\{1, 2, 3\}`, false},
		{`(1,2)`, `[1,2]`, false},
		{`\text{(B)}`, `B`, true},
		{`B`, `The correct option is **B**`, true},
		{`2\pi`, `6.283185`, true},
		{`2\pi`, `6.28`, false},
		{`\sqrt{2}`, `1.41421356`, true},
		{`\frac{1}{2^{100}}`, `0`, false},
		{`0`, `\frac{1}{2^{100}}`, false},
		{`10`, `10.0`, true},
		{`10`, `\boxed{10}\text{ cm}`, true},
		{`\$5.50`, `5.5`, true},
		{`6`, `3!`, true},
		{`1/2`, `2/4`, true},
		{`12`, `\boxed{12} \text{ apples}`, true},
		{`\frac{a}{b}`, `a/b`, true},
		{`\frac{a}{b}`, `b/a`, false},
		{`\sin(2x)`, `2\sin x \cos x`, true},
		{`\sin(2x)`, `2\sin x`, false},
		{`x^2`, `x \cdot x`, true},
		{`f(x) = x^2`, `x^2`, true},
		{`\{x | x > 0\}`, `(0, \infty)`, true},
		{`1.5`, `\frac{3}{2} = 1.5`, true},
		{`90`, `\angle A = 90^{\circ}`, true},
		{`4`, `x = 4 \text{ or } x = -4`, false},
		{`\pm 4`, `x = 4 \text{ or } x = -4`, true},
		{`100`, `100\%`, true},
		{`0.2`, `20\%`, true},
		{`20`, `0.2`, false},
		{`\frac{7}{2}`, `3\frac{1}{2}`, true},
		{`\frac{7}{2}`, `3 \frac{1}{2}`, true},
		{`x+y`, `y+x`, true},
		{`2`, `2 + 0i`, true},
		{`\begin{pmatrix} 1 \\ 2 \end{pmatrix}`, `(1, 2)`, true},
		{`5`, `5.`, true},
		{`1,000,000`, `10^6`, true},
		{`\frac{1}{1000000}`, `10^{-6}`, true},
		{`1.2 \times 10^{-5}`, `0.000012`, true},
		{`1.2 \times 10^{-5}`, `0.000013`, false},
		{`\sqrt[3]{2}`, `2^{1/3}`, true},
		{`8`, `2^3`, true},
		{`(2, 3)`, `(x, y) = (2, 3)`, true},
		{`-1`, `\cos \pi`, true},
		{`\text{Monday}`, `monday`, true},
		{`\text{Monday}`, `Tuesday`, false},
		{`2 \le x \le 5`, `[2, 5]`, true},
		{`x \ne 3`, `x \neq 3`, true},
	} {
		t.Run(c.g+" vs "+c.p, func(t *testing.T) {
			r := Verify(context.Background(), c.g, c.p, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s; extracted %q and %q)", c.g, c.p, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}

func TestVerifyResponses(t *testing.T) {
	for _, c := range []struct {
		name, gold, pred string
		want             bool
	}{
		{"word beside a number", "5", "Answer 5", true},
		{"after thinking", "7", "<think>It might be \\boxed{3}.</think>The answer is $7$.", true},
		{"unclosed thinking", "3", "<think>It might be \\boxed{3}.", true},
		{"truncated", "42", "Let me compute: 6 times 7 is", false},
		{"sentence answer", `\text{no solution}`, "There is no solution.", false},
		{"assignment in prose", "12", "Therefore $x = 12$.", true},
		{"percent in prose", `40\%`, "So the discount is 40%.", true},
		{"money in prose", "12.50", "She pays $12.50 in total.", true},
		{"minerva format", `\frac{2}{3}`, "Final Answer: The final answer is $\\frac{2}{3}$. I hope it is correct.", true},
		{"boxed beats later prose", "5", "So \\boxed{5}. Check: 2+3=5, and 10 is not it.", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s; extracted %q and %q)", c.gold, c.pred, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}

func TestVerifyVariableDomains(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`|x-1|`, `x-1`, false},
		{`\sqrt{x^2}`, `|x|`, true},
		{`2\ln x`, `\ln(x^2)`, true},
		{`\sqrt{x}\cdot\sqrt{x}`, `x`, true},
		{`(x^{1/3})^3`, `x`, true},
		{`\frac{x^2-1}{x-1}`, `x+1`, true},
		{`e^{\ln x}`, `x`, true},
		{`\frac{1}{x}`, `\frac{1}{|x|}`, false},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s)", c.gold, c.pred, r.Correct, c.want, r.Reason)
			}
		})
	}
}

func TestVerifyDecimals(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`\frac{1}{3}`, `0.333`, false},
		{`\frac{1}{3}`, `0.3333`, true},
		{`\frac{8}{3}`, `2.6667`, true},
		{`0.33`, `\frac{1}{3}`, true},
		{`0.29`, `0.290243531`, true},
		{`0.29`, `0.31`, false},
		{`2.5`, `2.54`, false},
		{`\pi`, `3.14`, false},
		{`\pi`, `3.1416`, true},
		{`16386.17`, `16386.16`, false},
		{`1e-7`, `2e-7`, false},
		{`1.5e-7`, `1.5 \times 10^{-7}`, true},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s)", c.gold, c.pred, r.Correct, c.want, r.Reason)
			}
		})
	}
}

func TestVerifyNotation(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`\mathbb{R}`, `(-\infty, \infty)`, true},
		{`12`, `\operatorname{lcm}(4, 6)`, false}, // lcm is not evaluated: compared as written
		{`\lfloor 2.5 \rfloor`, `2`, true},
		{`\ln|x|`, `\ln|x|`, true},
		{`\sin^{-1}(1)`, `\frac{\pi}{2}`, true},
		{`\log_{10} 1000`, `3`, true},
		{`\frac{3}{4}`, `{3 \over 4}`, false}, // \over is not read
		{`x^{2}`, `x²`, true},
		{`2\times 3`, `6`, true},
		{`−5`, `-5`, true},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s)", c.gold, c.pred, r.Correct, c.want, r.Reason)
			}
		})
	}
}

func TestVerifyMoreStructures(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`(-\infty, -2) \cup (-2, \infty)`, `x \neq -2`, true},
		{`(2, 3)`, `$x=2$ and $y=3$`, true},
		{`\{2, 3\}`, `$2$ and $3$`, true},
		{`\frac{1}{2}`, `$\frac{1}{2}$ and $\frac{1}{3}$`, false},
		{`1, 2`, `$x \in \{1, 2\}$`, true},
		{`1, 2`, `x = 1 \text{ or } x = 2`, true},
		{`(1, 2), (3, 4)`, `(3, 4), (1, 2)`, true},
		{`(1, 2), (3, 4)`, `(2, 1), (3, 4)`, false},
		{`\begin{pmatrix}1\\2\end{pmatrix}`, `\begin{pmatrix}1&2\end{pmatrix}`, false},
		{`x \in [1, 2]`, `[1, 2]`, true},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s; extracted %q and %q)", c.gold, c.pred, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}

func TestVerifyHugeValues(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`9^{9^{9^{9}}}`, `1`, false},
		{`10^{400}`, `10^{401}`, false},
		{`(10^{300})^2`, `10^{600}`, true},
		{`e^{1000}`, `e^{1001}`, false},
		{`e^{1000}`, `e^{1000}`, true},
		{`x^{10000}`, `x^{10001}`, false},
		{`\frac{1}{10^{400}}`, `0`, false},
		{`100!`, `100!`, true},
		{`100!`, `99!`, false},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s)", c.gold, c.pred, r.Correct, c.want, r.Reason)
			}
		})
	}
}

func TestVerifyShortProse(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`5`, `So 5`, true},
		{`5`, `It is 5.`, true},
		{`2xy`, `2yx`, true},
		{`ab`, `ba`, true},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s; extracted %q and %q)", c.gold, c.pred, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}

func TestVerifyPercentPolicy(t *testing.T) {
	for _, c := range []struct {
		gold, pred string
		want       bool
	}{
		{`$28\%$`, `28`, true},
		{`$28\%$`, `0.28`, true},
		{`$0.28$`, `28`, false},
		{`$28/100$`, `28`, false},
		{`$28$`, `28/100`, false},
		{`$28\%$`, `0.28\%`, false},
		{`$[-36,104]$`, `k \in \boxed{[-36,104]}.`, true},
	} {
		t.Run(c.gold+" vs "+c.pred, func(t *testing.T) {
			r := Verify(context.Background(), c.gold, c.pred, Options{Strict: true})
			if r.Correct != c.want {
				t.Errorf("Verify(%q, %q) = %v, want %v (%s; extracted %q and %q)", c.gold, c.pred, r.Correct, c.want, r.Reason, r.GoldAnswer, r.PredAnswer)
			}
		})
	}
}
