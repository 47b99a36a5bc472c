package verify

import (
	"cmp"
	"math"
	"slices"
)

// Sets of real numbers written as intervals, unions, set builders or lists of
// points are compared in one canonical form: the disjoint intervals they cover,
// in order. So (-\infty, 2] \cup [2, 5) is (-\infty, 5), and
// \{x \mid x > 1 \text{ and } x < 3\} is (1, 3).

// span is one interval with numeric ends (±Inf allowed); lo and hi are the ends
// as written, for an exact comparison.
type span struct {
	lo, hi       *node
	loV, hiV     float64
	lopen, ropen bool
}

// endValue evaluates an end of an interval to a real number or ±Inf.
func endValue(n *node, b *budget) (float64, bool) {
	switch infSign(n) {
	case 1:
		return math.Inf(1), true
	case -1:
		return math.Inf(-1), true
	}
	v, s, err := evalC(n, nil, b)
	if err != nil || !finite(v, s) || !isReal(v, s) || cancelled(v, s) {
		return 0, false
	}
	return real(v), true
}

// spansOf reads n as a union of intervals: an interval, a union, a pair (a, b)
// read as the open interval, a set of numbers read as points. ok is false for
// anything else, or ends that are not numbers.
func spansOf(n *node, b *budget) ([]span, bool) {
	switch n.k {
	case kInterval, kTuple:
		if n.k == kTuple && (!n.paren || len(n.args) != 2) {
			return nil, false
		}
		lo, ok1 := endValue(n.args[0], b)
		hi, ok2 := endValue(n.args[1], b)
		if !ok1 || !ok2 {
			return nil, false
		}
		open := n.k == kTuple
		return []span{{n.args[0], n.args[1], lo, hi, open || n.lopen || math.IsInf(lo, 0), open || n.ropen || math.IsInf(hi, 0)}}, true
	case kUnion, kSet:
		var out []span
		for _, a := range n.args {
			if n.k == kSet && !a.isCollection() {
				v, ok := endValue(a, b)
				if !ok || math.IsInf(v, 0) {
					return nil, false
				}
				out = append(out, span{a, a, v, v, false, false})
				continue
			}
			s, ok := spansOf(a, b)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	}
	return nil, false
}

// normalizeSpans drops empty intervals and merges those that overlap or touch.
func normalizeSpans(in []span) []span {
	var s []span
	for _, x := range in {
		if x.loV < x.hiV || x.loV == x.hiV && !x.lopen && !x.ropen {
			s = append(s, x)
		}
	}
	slices.SortFunc(s, func(a, b span) int {
		if c := cmp.Compare(a.loV, b.loV); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.lopen), boolInt(b.lopen))
	})
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if x.loV < last.hiV || x.loV == last.hiV && !(last.ropen && x.lopen) {
				if x.hiV > last.hiV || x.hiV == last.hiV && !x.ropen {
					last.hi, last.hiV, last.ropen = x.hi, x.hiV, x.ropen
				}
				continue
			}
		}
		out = append(out, x)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// intersectSpans is the set of points in both a and b.
func intersectSpans(a, b []span) []span {
	var out []span
	for _, x := range a {
		for _, y := range b {
			z := x
			if y.loV > z.loV || y.loV == z.loV && y.lopen {
				z.lo, z.loV, z.lopen = y.lo, y.loV, y.lopen
			}
			if y.hiV < z.hiV || y.hiV == z.hiV && y.ropen {
				z.hi, z.hiV, z.ropen = y.hi, y.hiV, y.ropen
			}
			out = append(out, z)
		}
	}
	return normalizeSpans(out)
}

// complementSpans is the real line less s (s normalized).
func complementSpans(s []span) []span {
	inf := &node{k: kConst, name: "inf"}
	lo, loV, lopen := &node{k: kNeg, args: []*node{inf}}, math.Inf(-1), true
	var out []span
	for _, x := range s {
		out = append(out, span{lo, x.lo, loV, x.loV, lopen, !x.lopen})
		lo, loV, lopen = x.hi, x.hiV, !x.ropen
	}
	out = append(out, span{lo, inf, loV, math.Inf(1), lopen, true})
	return normalizeSpans(out)
}

// spansNode writes canonical spans back as a tree: a union of intervals (a
// point is the set that holds it, nothing is the empty set).
func spansNode(s []span) *node {
	parts := make([]*node, len(s))
	for i, x := range s {
		if x.loV == x.hiV {
			parts[i] = &node{k: kSet, args: []*node{x.lo}}
		} else {
			parts[i] = &node{k: kInterval, args: []*node{x.lo, x.hi}, lopen: x.lopen, ropen: x.ropen}
		}
	}
	switch len(parts) {
	case 0:
		return &node{k: kSet}
	case 1:
		return parts[0]
	}
	return &node{k: kUnion, args: parts}
}

// intersectAll is the set in all of sets, or nil when an end is not a number
// (one set is returned as it is).
func intersectAll(sets []*node, b *budget) *node {
	if len(sets) == 1 {
		return sets[0]
	}
	var acc []span
	for i, n := range sets {
		s, ok := spansOf(n, b)
		if !ok {
			return nil
		}
		if i == 0 {
			acc = normalizeSpans(s)
		} else {
			acc = intersectSpans(acc, normalizeSpans(s))
		}
	}
	return spansNode(acc)
}

// setDifference is a \setminus b, or nil when either is not a set of numbers.
func setDifference(a, b *node, bg *budget) *node {
	as, ok1 := spansOf(a, bg)
	bs, ok2 := spansOf(b, bg)
	if !ok1 || !ok2 {
		return nil
	}
	return spansNode(intersectSpans(normalizeSpans(as), complementSpans(normalizeSpans(bs))))
}

// sameSpans reports whether g and p cover the same real numbers, their ends
// compared exactly where they can be.
func (c *comparer) sameSpans(g, p *node) bool {
	gs, ok1 := spansOf(g, c.b)
	ps, ok2 := spansOf(p, c.b)
	if !ok1 || !ok2 {
		return false
	}
	gs, ps = normalizeSpans(gs), normalizeSpans(ps)
	if len(gs) != len(ps) {
		return false
	}
	end := func(a, b *node, av, bv float64) bool {
		if math.IsInf(av, 0) || math.IsInf(bv, 0) {
			return av == bv
		}
		return c.equal(a, b)
	}
	for i := range gs {
		x, y := gs[i], ps[i]
		if x.lopen != y.lopen || x.ropen != y.ropen || !end(x.lo, y.lo, x.loV, y.loV) || !end(x.hi, y.hi, x.hiV, y.hiV) {
			return false
		}
	}
	return true
}
