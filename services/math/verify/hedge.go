package verify

import (
	"slices"
	"strings"
)

// offered counts the answers a prediction offers: the elements of a list
// ("3 or 5", "x = 2, x = -2", "2, -2"), one for anything else. A list of
// conditions on a variable ("x < 2 or x > 3") is one answer, a region, and so
// is a list of values given under distinct names ("a = 1, b = 3"): a point.
func offered(p *node) int {
	if p.k != kSet || len(p.args) < 2 {
		return 1
	}
	if namedValues(p) != nil && assignmentMap(p) != nil {
		return 1
	}
	seen := map[string]bool{}
	for _, a := range p.args {
		if a.k == kRel && !isAssignment(a) || a.k == kInterval || a.k == kUnion {
			return 1
		}
		if a.k == kRel {
			a = lastRHS(a)
		}
		seen[a.String()] = true
	}
	return len(seen)
}

// holds counts the values a gold answer holds, generously: where a gold holds
// as many values as a prediction offers, it is a mismatch, not a hedge. A
// region (an interval, a union, an inequality) holds any number. Where the
// prediction offers collections ("(1, 2) or (2, 1)"), a gold that is one
// collection holds one.
func holds(g *node, collections bool) int {
	const many = 1 << 20
	switch g.k {
	case kSet, kTuple:
		if collections {
			if g.k == kTuple || !slices.ContainsFunc(g.args, (*node).isCollection) {
				return 1
			}
			return len(g.args)
		}
		n := 0
		for _, a := range g.args {
			n += holds(a, false)
		}
		return max(n, len(g.args))
	case kMatrix:
		if collections {
			return 1
		}
		return len(g.args)
	case kInterval, kUnion:
		return many
	case kRel:
		if isAssignment(g) {
			return holds(lastRHS(g), collections)
		}
		if len(g.ops) == 1 && g.ops[0] == "in" {
			return holds(g.args[1], collections)
		}
		return many
	}
	return 1
}

// isHedge reports whether a prediction that did not match offers more answers
// than its gold holds: "3 or 5" for 3, "\pm 2" for 2, "B or C" for B.
func isHedge(g, p *node) bool {
	n := offered(p)
	return n > 1 && n > holds(g, slices.ContainsFunc(p.args, (*node).isCollection))
}

// sameAlternatives returns the one answer a list states in several forms
// ("\frac12 or 0.5", "\frac{\sqrt3}{2} or approximately 0.87"), or nil when its
// elements differ. A decimal beside an exact value is the same answer when the
// exact value rounds to it.
func (c *comparer) sameAlternatives(p *node) *node {
	if p.k != kSet || len(p.args) < 2 {
		return nil
	}
	exact := p.args[0]
	for _, a := range p.args {
		if literalPlaces(a) < 0 {
			exact = a
			break
		}
	}
	for _, a := range p.args {
		if a != exact && !c.equal(exact, a) && !c.roundsTo(exact, a) {
			return nil
		}
	}
	return exact
}

// roundsTo reports whether x, rounded to the places of the decimal d, is d.
func (c *comparer) roundsTo(x, d *node) bool {
	places := literalPlaces(d)
	if places < 1 || literalPlaces(x) >= 0 {
		return false
	}
	v, s, err := evalC(x, nil, c.b)
	if err != nil || !finite(v, s) || !isReal(v, s) || cancelled(v, s) {
		return false
	}
	dv, _ := evalRat(d, c.b)
	if dv == nil {
		return false
	}
	want, _ := dv.Float64()
	return roundEqualFloat(real(v), want, places)
}

// offersAlternatives reports whether an answer's text joins alternatives: the
// word "or" (in prose or \text), \lor, \vee. It judges what did not parse.
func offersAlternatives(raw string) bool {
	if strings.Contains(raw, `\lor`) || strings.Contains(raw, `\vee`) {
		return true
	}
	for _, w := range strings.FieldsFunc(asciiLower(raw), func(r rune) bool { return r < 'a' || r > 'z' }) {
		if w == "or" || w == "either" {
			return true
		}
	}
	return false
}
