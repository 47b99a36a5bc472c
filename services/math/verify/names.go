package verify

import (
	"math"
	"strings"
)

// Names on values: the parameters of a function, the letters of a point, the
// labels "max" and "min".

// targetKey is the name an assignment gives its value: "max" for \max,
// \text{max} and max alike.
func targetKey(n *node) string {
	if n.k == kText || n.k == kSym {
		return strings.ToLower(strings.TrimSpace(n.name))
	}
	return n.String()
}

// renameParameters maps the parameters of the function p (f(t)) to those of g
// (f(x)), swapping names so that nothing is captured: f(t) = 2x + 1 is not
// f(x) = 2x + 1. It returns nil unless both are the same function of distinct
// plain variables.
func renameParameters(g, p *node) map[string]string {
	if g.k != kFunc || p.k != kFunc || g.name != p.name || len(g.args) != len(p.args) {
		return nil
	}
	gv, pv := parameters(g), parameters(p)
	if gv == nil || pv == nil {
		return nil
	}
	return swapNames(gv, pv)
}

// parameters returns the names of f(x, y), or nil when an argument is not a
// distinct variable.
func parameters(f *node) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range f.args {
		if a.k != kSym || seen[a.name] {
			return nil
		}
		seen[a.name] = true
		out = append(out, a.name)
	}
	return out
}

// swapNames renames from[i] to to[i], and to[i] to from[i] where to[i] is not
// itself renamed, or returns nil when nothing changes.
func swapNames(to, from []string) map[string]string {
	m := map[string]string{}
	for i := range from {
		if from[i] != to[i] {
			m[from[i]] = to[i]
		}
	}
	if len(m) == 0 {
		return nil
	}
	for i := range to {
		if _, renamed := m[to[i]]; !renamed && to[i] != from[i] {
			m[to[i]] = from[i]
		}
	}
	return m
}

// parameterFor renames the one parameter of an assignment "f(t) = ..." to the
// one variable of a bare gold ("2x + 1"), or returns nil.
func (c *comparer) parameterFor(g, p *node) map[string]string {
	target := p.args[0]
	if target.k != kFunc || len(target.args) != 1 || len(p.args) != 2 {
		return nil
	}
	pv := parameters(target)
	gv := c.varNames(g)
	if pv == nil || len(gv) != 1 || hasUndefinedFunc(g) {
		return nil
	}
	rhs := c.varNames(lastRHS(p))
	if len(rhs) > 1 || len(rhs) == 1 && rhs[0] != pv[0] {
		return nil
	}
	return swapNames(gv, pv)
}

// letterNames reports whether a list of assignments names single letters:
// the coordinates of a point.
func letterNames(assignments []*node) bool {
	for _, a := range assignments {
		t := a.args[0]
		if t.k != kSym || len(t.name) != 1 || !isLetter(t.name[0]) {
			return false
		}
	}
	return true
}

// extremeLabel is -1 for a name that says "least" (min, minimum, smallest),
// 1 for one that says "greatest", 0 for any other.
func extremeLabel(name string) int {
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		switch w {
		case "min", "minimum", "smallest", "least", "lowest":
			return -1
		case "max", "maximum", "largest", "greatest", "highest":
			return 1
		}
	}
	return 0
}

// extremesEqual compares "max = 5, min = 2" with a list of bare values ("2, 5"
// or (5, 2)): in any order, when the labels agree with the values (the one
// called max is not below the one called min). decided is false when p is not
// such a list.
func (c *comparer) extremesEqual(g, p *node) (equal, decided bool) {
	pm := assignmentMap(p)
	if pm == nil || assignmentMap(g) != nil || !(g.k == kSet || g.k == kTuple) {
		return false, false
	}
	lows, highs := math.Inf(-1), math.Inf(1)
	var vals []*node
	seen := map[int]bool{}
	for name, v := range pm {
		label := extremeLabel(name)
		if label == 0 {
			return false, false
		}
		seen[label] = true
		x, ok := endValue(v, c.b)
		if !ok {
			return false, false
		}
		if label < 0 {
			lows = math.Max(lows, x)
		} else {
			highs = math.Min(highs, x)
		}
		vals = append(vals, v)
	}
	if !seen[-1] || !seen[1] {
		return false, false
	}
	if lows > highs {
		return false, true // "max = 2, min = 5": the labels contradict the values
	}
	return c.unordered(g.args, vals), true
}

// lettersInOrder reports whether assignments to letters are written in the
// letters' order (a before b, x before y).
func lettersInOrder(assignments []*node) bool {
	for i := 1; i < len(assignments); i++ {
		if assignments[i-1].args[0].name > assignments[i].args[0].name {
			return false
		}
	}
	return true
}
