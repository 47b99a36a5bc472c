// Package verify decides whether a model's final answer to a math problem is
// equivalent to the ground truth. It extracts the answer from a whole response
// (\boxed{}, "final answer is", "Answer:", the last number), parses LaTeX and
// plain math into an expression tree, and compares exactly (big.Rat) where it
// can and numerically at several points where the answer has variables.
//
// Every call runs under a budget of steps and the context's deadline: it never
// hangs and never panics, and it is safe from any number of goroutines.
// It imports only the standard library.
package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for Options' zero values.
const (
	DefaultPrecision     = 6
	DefaultMaxSteps      = 100_000
	DefaultMaxInputBytes = 64 << 10
)

// Options tune one verification.
type Options struct {
	// Precision is the number of decimal places two numbers are rounded to
	// when either was written as a decimal (0.333333 = 1/3 at 6). Zero means
	// DefaultPrecision.
	Precision int
	// Strict mirrors Math-Verify's strict: variables are compared by name
	// (f(x) ≠ f(y)) and a tuple is never compared to a set as unordered.
	// Without it, variables are matched by position.
	Strict bool
	// Targets chooses what extraction looks for; zero means both LaTeX and
	// plain expressions.
	Targets Targets
	// MaxSteps bounds the work of one verification; zero means DefaultMaxSteps.
	MaxSteps int
	// MaxInputBytes rejects a longer gold or prediction with reason
	// "too_large"; zero means DefaultMaxInputBytes (64 KiB).
	MaxInputBytes int
	// Timeout bounds one verification besides ctx; zero means none.
	Timeout time.Duration
	// Question is the problem's text, when known. A question that asks for a
	// percentage makes a bare gold a percentage ("what percent ...?": 25 is
	// 25%, so 0.25 and 25 both match it), and "how many" lets a count carry its
	// noun ("12 triangles").
	Question string
}

// Result is a verdict, in the JSON shape of the API.
type Result struct {
	Correct    bool   `json:"correct"`
	Reward     int    `json:"reward"`
	GoldAnswer string `json:"gold_answer"`
	PredAnswer string `json:"pred_answer"`
	Reason     string `json:"reason,omitempty"`
}

// Reasons a Result carries.
const (
	ReasonMismatch   = "mismatch"        // both parsed; not equivalent
	ReasonHedge      = "hedge"           // the prediction offers more answers than the gold has
	ReasonNoAnswer   = "no_answer"       // nothing found in the prediction
	ReasonNoGold     = "no_gold"         // nothing found in the gold
	ReasonUnparsable = "unparsable"      // one side parsed, the other did not
	ReasonTooLarge   = "too_large"       // an input is over MaxInputBytes
	ReasonBudget     = "budget_exceeded" // MaxSteps ran out
	ReasonTimeout    = "timeout"         // ctx or Timeout expired
	ReasonInternal   = "internal"        // a bug, recovered
)

var errBudget = errors.New("budget exceeded")

// budget counts steps and watches the deadline; the first failure sticks.
type budget struct {
	ctx  context.Context
	left int
	tick int
	err  error
}

func newBudget(ctx context.Context, steps int) *budget {
	return &budget{ctx: ctx, left: steps}
}

func (b *budget) step(k int) error {
	if b.err != nil {
		return b.err
	}
	b.left -= k
	if b.left < 0 {
		b.err = errBudget
		return b.err
	}
	b.tick += k
	if b.tick >= 512 {
		b.tick = 0
		if err := b.ctx.Err(); err != nil {
			b.err = err
		}
	}
	return b.err
}

type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func errf(format string, args ...any) error {
	return &parseError{fmt.Sprintf(format, args...)}
}

func (o Options) normalized() Options {
	if o.Precision <= 0 {
		o.Precision = DefaultPrecision
	}
	if o.Precision > 30 {
		o.Precision = 30
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxInputBytes <= 0 {
		o.MaxInputBytes = DefaultMaxInputBytes
	}
	if o.Targets == 0 {
		o.Targets = TargetLatex | TargetExpr
	}
	return o
}

// Verify reports whether pred (a whole response or a bare answer) gives the
// answer gold (bare, or LaTeX in $...$, \(...\), \[...\]).
func Verify(ctx context.Context, gold, pred string, opts Options) (res Result) {
	// A bug must cost one verdict, never the trainer: the fuzz tests call
	// verify directly, so they still see any panic.
	defer func() {
		if r := recover(); r != nil {
			res = Result{Reason: fmt.Sprintf("%s: %v", ReasonInternal, r)}
		}
	}()
	return verify(ctx, gold, pred, opts)
}

func verify(ctx context.Context, gold, pred string, opts Options) (res Result) {
	opts = opts.normalized()
	if len(gold) > opts.MaxInputBytes || len(pred) > opts.MaxInputBytes {
		return Result{Reason: ReasonTooLarge}
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	gold = strings.ToValidUTF8(gold, "")
	pred = strings.ToValidUTF8(pred, "")
	b := newBudget(ctx, opts.MaxSteps)
	cfg := extractConfig{targets: opts.Targets, boxedPriority: prioBoxedDefault}
	ge := extract(gold, cfg, b)
	cfg.alternatives = true
	var pe extraction
	if letter := letterOf(ge.node); letter != "" {
		pe = extractLetterAnswer(pred, cfg, b)
	} else {
		pe = extract(pred, cfg, b)
	}
	res = Result{GoldAnswer: ge.raw, PredAnswer: pe.raw}
	correct, reason := compareExtractions(ge, pe, opts, b)
	if b.err != nil && !correct {
		if errors.Is(b.err, errBudget) {
			reason = ReasonBudget
		} else {
			reason = ReasonTimeout
		}
	}
	res.Correct = correct
	if correct {
		res.Reward = 1
	} else {
		res.Reason = reason
	}
	return res
}

func compareExtractions(ge, pe extraction, opts Options, b *budget) (bool, string) {
	switch {
	case ge.raw == "" && ge.node == nil:
		return false, ReasonNoGold
	case pe.raw == "" && pe.node == nil:
		return false, ReasonNoAnswer
	}
	// The same text is the same answer, parsed or not ("12:00" = "12:00").
	if sameText(ge.raw, pe.raw) {
		return true, ""
	}
	if ge.node == nil || pe.node == nil {
		// "3 or \foo" is a hedge before it is anything else, parsed or not.
		if pe.node == nil && offersAlternatives(pe.raw) && !offersAlternatives(ge.raw) {
			return false, ReasonHedge
		}
		return false, ReasonUnparsable
	}
	g, p := expandPM(ge.node, b), expandPM(pe.node, b)
	c := &comparer{b: b, prec: opts.Precision, strict: opts.Strict}
	if !opts.Strict {
		p = matchVariables(g, p, c)
	}
	if opts.Question != "" {
		g, p = questionRules(opts.Question, g, p)
	}
	if c.equalTop(g, p) {
		return true, ""
	}
	// "\frac12 or 0.5" states one answer twice; "3 or 5" is a hedge.
	if one := c.sameAlternatives(p); one != nil && c.equalTop(g, one) {
		return true, ""
	}
	if isHedge(g, p) {
		return false, ReasonHedge
	}
	return false, ReasonMismatch
}

func sameText(a, b string) bool {
	a, b = strings.Join(strings.Fields(a), ""), strings.Join(strings.Fields(b), "")
	return a != "" && a == b
}

// matchVariables renames pred's variables to gold's, in sorted order, when
// both have the same number of them (non-strict mode).
func matchVariables(g, p *node, c *comparer) *node {
	gv, pv := c.varNames(g), c.varNames(p)
	if len(gv) != len(pv) || len(gv) == 0 {
		return p
	}
	if m := swapNames(gv, pv); m != nil {
		return renameVars(p, m)
	}
	return p
}

// letterOf returns the choice letter when gold is one (A-J).
func letterOf(n *node) string {
	if n == nil || n.k != kSym || len(n.name) != 1 || n.name[0] < 'A' || n.name[0] > 'J' {
		return ""
	}
	return n.name
}

// extractLetterAnswer finds a multiple-choice letter: a boxed letter first,
// then Math-Verify's letter patterns.
func extractLetterAnswer(pred string, cfg extractConfig, b *budget) extraction {
	if boxes := findBoxes(pred); len(boxes) > 0 {
		last := boxes[len(boxes)-1]
		if l := letterAnswer(stripTextCommand(last.content)); l != "" && l[0] >= 'A' && l[0] <= 'J' {
			n, raw := joinAlternatives(pred, last.start, last.end, &node{k: kSym, name: l}, l, true, b)
			return extraction{node: n, raw: raw}
		}
	}
	if key, start, end := letterSpan(pred, []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"}); key != "" {
		n, raw := joinAlternatives(pred, start, end, &node{k: kSym, name: key}, key, true, b)
		return extraction{node: n, raw: raw}
	}
	return extract(pred, cfg, b)
}

func stripTextCommand(s string) string {
	s = strings.TrimSpace(s)
	for _, cmd := range []string{`\text{`, `\textbf{`, `\mathrm{`, `\mathbf{`} {
		if strings.HasPrefix(s, cmd) && strings.HasSuffix(s, "}") {
			return s[len(cmd) : len(s)-1]
		}
	}
	return s
}

// ExtractLetter finds which of keys (choice letters, or any literal strings)
// a response answers, with Math-Verify's StringExtractionConfig priorities:
// "final answer is X", "Answer: X", "answer ... X", X opening the response,
// then the last X standing alone. It returns the key lowercased and as found,
// or "" when there is none.
func ExtractLetter(text string, keys []string) (lower, found string) {
	key, _, _ := letterSpan(text, keys)
	return strings.ToLower(key), key
}

// letterSpan is ExtractLetter, with where the key it found starts and ends.
func letterSpan(text string, keys []string) (key string, start, end int) {
	if len(text) > DefaultMaxInputBytes || !utf8.ValidString(text) {
		return "", 0, 0
	}
	type hit struct{ prio, start, end int }
	var best *hit
	var bestKey string
	consider := func(prio, start, end int, key string) {
		if best == nil || prio < best.prio || prio == best.prio && end > best.end {
			best, bestKey = &hit{prio, start, end}, key
		}
	}
	// keyAt reports whether a key stands alone at p: after start or space (or
	// "(" or "**"), before punctuation, space, ")" or the end.
	keyAt := func(p int) (string, int, int) {
		q := p
		if strings.HasPrefix(text[q:], "**") {
			q += 2
		} else if q < len(text) && text[q] == '(' {
			q++
		}
		for _, k := range keys {
			if !strings.HasPrefix(text[q:], k) {
				continue
			}
			e := q + len(k)
			if strings.HasPrefix(text[e:], "**") {
				e += 2
			}
			if e == len(text) || strings.ContainsRune(".,: )\n\t", rune(text[e])) {
				return k, q, e
			}
		}
		return "", 0, 0
	}
	standalone := func(p int) bool { return p == 0 || strings.ContainsRune(" \n\t", rune(text[p-1])) }
	lowerText := asciiLower(text)
	for at := 0; ; {
		k := strings.Index(lowerText[at:], "final answer")
		if k < 0 {
			break
		}
		p := at + k + len("final answer")
		if q, ok := afterIs(text, p, 100); ok {
			for q < len(text) && text[q] == ' ' {
				q++
			}
			if key, s, e := keyAt(q); key != "" {
				prio := prioFinalAnswer
				if rest := strings.TrimLeft(strings.TrimPrefix(text[e:], "."), " "); strings.HasPrefix(rest, "I hope") {
					prio = prioFinalAnswerHope
				}
				consider(prio, s, e, key)
			}
		}
		at = p
	}
	for at := 0; ; {
		k := strings.Index(lowerText[at:], "answer")
		if k < 0 {
			break
		}
		p := at + k + len("answer")
		prio := prioAnswer
		if p < len(text) && text[p] == ':' {
			prio = prioAnswerColon
		}
		for q := p; q <= min(len(text)-1, p+51); q++ {
			if text[q] == ' ' || text[q] == '\n' {
				if key, s, e := keyAt(q + 1); key != "" {
					consider(prio, s, e, key)
					break
				}
			}
		}
		at = p
	}
	if key, s, e := keyAt(0); key != "" {
		consider(prioLineStart, s, e, key)
	}
	for p := 0; p < len(text); p++ {
		if standalone(p) {
			if key, s, e := keyAt(p); key != "" {
				consider(prioAnywhere, s, e, key)
			}
		}
	}
	if best == nil {
		return "", 0, 0
	}
	return bestKey, best.start, best.end
}
