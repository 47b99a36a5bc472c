package verify

import (
	"hash/fnv"
	"math"
	"math/big"
	"math/cmplx"
	"slices"
	"strings"
)

// comparer decides whether a predicted tree equals a gold tree.
type comparer struct {
	b      *budget
	prec   int
	strict bool
}

// numPoints is how many points an expression with variables is checked at.
const numPoints = 6

// equalTop compares two answers, trying a percentage both as a fraction and
// as its bare number ("28%" equals 0.28 and 28).
func (c *comparer) equalTop(g, p *node) bool {
	if c.equal(g, p) {
		return true
	}
	if g.k == kPercent && p.k != kPercent {
		return c.equal(g.args[0], p)
	}
	if p.k == kPercent && g.k != kPercent {
		return c.equal(g, p.args[0])
	}
	return false
}

func (c *comparer) equal(g, p *node) bool {
	if c.b.step(1) != nil {
		return false
	}
	if m := reduceMatrix(g); m != nil {
		g = m
	}
	if m := reduceMatrix(p); m != nil {
		p = m
	}
	// Values given by name are compared by name: "x = 1, y = 5" is not "y = 1, x = 5".
	if gn, pn := namedValues(g), namedValues(p); gn != nil && pn != nil {
		return c.namedEqual(gn, pn)
	}
	gRel, pRel := g.k == kRel, p.k == kRel
	switch {
	case gRel && pRel:
		return c.relEqual(g, p)
	case gRel:
		if isAssignment(g) {
			return c.equal(lastRHS(g), p)
		}
		if p.isCollection() {
			if s := relToSet(g); s != nil {
				return c.equal(s, p)
			}
		}
		return false
	case pRel:
		if isAssignment(p) || allOps(p, "=") {
			if c.equal(g, lastRHS(p)) {
				return true
			}
			// "f(t) = 2t + 1" for "2x + 1": a function's parameter is any name.
			if m := c.parameterFor(g, p); m != nil {
				return c.equal(g, renameVars(lastRHS(p), m))
			}
			return false
		}
		if g.isCollection() {
			if s := relToSet(p); s != nil {
				return c.equal(g, s)
			}
		}
		return false
	}
	if g.isCollection() || p.isCollection() {
		return c.collectionEqual(g, p)
	}
	return c.scalarEqual(g, p)
}

func allOps(rel *node, op string) bool {
	for _, o := range rel.ops {
		if o != op {
			return false
		}
	}
	return true
}

// isAssignment reports whether rel is "x = ...", "f(x) = ...", "(p,q) = ...",
// possibly a chain "x = 5+5+1 = 11".
func isAssignment(rel *node) bool {
	return rel.k == kRel && allOps(rel, "=") && isAssignTarget(rel.args[0])
}

func lastRHS(rel *node) *node { return rel.args[len(rel.args)-1] }

// namedValues reads an answer that names its values, "x = 1, y = 5" or
// "(x, y) = (1, 5)", as each value under its name (a name may repeat: "x = 1, x = 5"
// lists two solutions), or returns nil.
func namedValues(n *node) map[string][]*node {
	m := map[string][]*node{}
	switch {
	case n.k == kSet && len(n.args) >= 2:
		for _, a := range n.args {
			if a.k != kRel || !isAssignment(a) {
				return nil
			}
			name := targetKey(a.args[0])
			m[name] = append(m[name], lastRHS(a))
		}
	case n.k == kRel && isAssignment(n) && n.args[0].k == kTuple:
		names, vals := n.args[0], lastRHS(n)
		if vals.k != kTuple || len(vals.args) != len(names.args) || len(names.args) < 2 {
			return nil
		}
		for i, v := range names.args {
			if v.k != kSym {
				return nil
			}
			m[v.String()] = append(m[v.String()], vals.args[i])
		}
	default:
		return nil
	}
	return m
}

// namedEqual: the same names, each with the same values (in any order where a name
// repeats).
func (c *comparer) namedEqual(g, p map[string][]*node) bool {
	if len(g) != len(p) {
		return false
	}
	for name, gv := range g {
		pv, ok := p[name]
		if !ok || len(pv) != len(gv) {
			return false
		}
		if len(gv) == 1 {
			if !c.equal(gv[0], pv[0]) {
				return false
			}
		} else if !c.unordered(gv, pv) {
			return false
		}
	}
	return true
}

func (c *comparer) relEqual(g, p *node) bool {
	if isAssignment(g) && isAssignment(p) {
		if targetKey(g.args[0]) == targetKey(p.args[0]) {
			return c.equal(lastRHS(g), lastRHS(p))
		}
		// f(t) = 2t + 1 is f(x) = 2x + 1.
		if m := renameParameters(g.args[0], p.args[0]); m != nil {
			return c.equal(lastRHS(g), renameVars(lastRHS(p), m))
		}
	}
	// A chain "1 = y = x = 0" said nothing but its last value when compared
	// to an assignment.
	if len(g.ops) != len(p.ops) {
		if isAssignment(g) && allOps(p, "=") {
			return c.equal(lastRHS(g), lastRHS(p))
		}
		if gs, ps := relToSet(g), relToSet(p); gs != nil && ps != nil {
			return c.equal(gs, ps)
		}
		return false
	}
	if c.linksEqual(g.args, g.ops, p.args, p.ops) {
		return true
	}
	// 3 > x > 1 is 1 < x < 3.
	rArgs := slices.Clone(p.args)
	slices.Reverse(rArgs)
	rOps := make([]string, len(p.ops))
	for i, op := range p.ops {
		rOps[len(p.ops)-1-i] = flipOp(op)
	}
	return c.linksEqual(g.args, g.ops, rArgs, rOps)
}

func flipOp(op string) string {
	switch op {
	case "<":
		return ">"
	case ">":
		return "<"
	case "<=":
		return ">="
	case ">=":
		return "<="
	}
	return op
}

func (c *comparer) linksEqual(gArgs []*node, gOps []string, pArgs []*node, pOps []string) bool {
	for i := range gOps {
		if !c.linkEqual(gArgs[i], gOps[i], gArgs[i+1], pArgs[i], pOps[i], pArgs[i+1]) {
			return false
		}
	}
	return true
}

// linkEqual compares a1 op1 b1 with a2 op2 b2: the same sides, or (for
// scalars) proportional differences: x < 1 is -x > -1, and 2x+4y-3=0 is
// y = -x/2 + 3/4.
func (c *comparer) linkEqual(a1 *node, op1 string, b1 *node, a2 *node, op2 string, b2 *node) bool {
	if op1 == ">" || op1 == ">=" {
		a1, b1, op1 = b1, a1, flipOp(op1)
	}
	if op2 == ">" || op2 == ">=" {
		a2, b2, op2 = b2, a2, flipOp(op2)
	}
	if op1 != op2 {
		return false
	}
	if c.equal(a1, a2) && c.equal(b1, b2) {
		return true
	}
	if op1 == "=" || op1 == "!=" {
		if c.equal(a1, b2) && c.equal(b1, a2) {
			return true
		}
	}
	if op1 == "in" || a1.isCollection() || b1.isCollection() || a2.isCollection() || b2.isCollection() {
		return false
	}
	d1 := &node{k: kAdd, args: []*node{b1, {k: kNeg, args: []*node{a1}}}}
	d2 := &node{k: kAdd, args: []*node{b2, {k: kNeg, args: []*node{a2}}}}
	return c.proportional(d1, d2, op1 == "<" || op1 == "<=")
}

// proportional reports whether d1 = k·d2 for a constant k (k > 0 when
// positive), checked at several points.
func (c *comparer) proportional(d1, d2 *node, positive bool) bool {
	names := c.varNames(d1, d2)
	if len(names) == 0 {
		return false
	}
	var ratio complex128
	valid := 0
	for i := range numPoints {
		e := pointEnv(names, i)
		v1, s1, err1 := evalC(d1, e, c.b)
		v2, s2, err2 := evalC(d2, e, c.b)
		if err1 != nil || err2 != nil || !finite(v1, s1) || !finite(v2, s2) || negativePoint(i) && (!isReal(v1, s1) || !isReal(v2, s2)) ||
			cancelled(v1, s1) || cancelled(v2, s2) {
			continue
		}
		z1, z2 := cmplx.Abs(v1) <= 1e-9*s1, cmplx.Abs(v2) <= 1e-9*s2
		if z1 && z2 {
			continue
		}
		if z1 != z2 {
			return false
		}
		r := v1 / v2
		if valid == 0 {
			ratio = r
			if positive && (real(r) <= 0 || math.Abs(imag(r)) > 1e-9*cmplx.Abs(r)) {
				return false
			}
		} else if cmplx.Abs(r-ratio) > 1e-7*cmplx.Abs(ratio) {
			return false
		}
		valid++
	}
	return valid >= 2
}

// relToSet turns "x ∈ S", "a < x ≤ b", "x ≥ 5" and "1 ≤ |z| ≤ 2" into the set
// they describe, or nil.
func relToSet(rel *node) *node {
	if len(rel.ops) == 1 && rel.ops[0] == "in" && rel.args[1].isCollection() {
		return rel.args[1]
	}
	hasVars := func(n *node) bool { m := map[string]bool{}; n.vars(m); return len(m) > 0 || hasUndefinedFunc(n) }
	inf := &node{k: kConst, name: "inf"}
	negInf := &node{k: kNeg, args: []*node{inf}}
	switch len(rel.ops) {
	case 1:
		a, op, b := rel.args[0], rel.ops[0], rel.args[1]
		if hasVars(b) && !hasVars(a) {
			a, b, op = b, a, flipOp(op)
		}
		if !hasVars(a) || hasVars(b) {
			return nil
		}
		switch op {
		case "<", "<=":
			return &node{k: kInterval, args: []*node{negInf, b}, lopen: true, ropen: op == "<"}
		case ">", ">=":
			return &node{k: kInterval, args: []*node{b, inf}, lopen: op == ">", ropen: true}
		case "=":
			return &node{k: kSet, args: []*node{b}}
		case "!=":
			return &node{k: kUnion, args: []*node{
				{k: kInterval, args: []*node{negInf, b}, lopen: true, ropen: true},
				{k: kInterval, args: []*node{b, inf}, lopen: true, ropen: true},
			}}
		}
	case 2:
		lo, op1, mid, op2, hi := rel.args[0], rel.ops[0], rel.args[1], rel.ops[1], rel.args[2]
		if (op1 == ">" || op1 == ">=") && (op2 == ">" || op2 == ">=") {
			lo, hi, op1, op2 = hi, lo, flipOp(op2), flipOp(op1)
		}
		if !(op1 == "<" || op1 == "<=") || !(op2 == "<" || op2 == "<=") || hasVars(lo) || hasVars(hi) || !hasVars(mid) {
			return nil
		}
		iv := &node{k: kInterval, args: []*node{lo, hi}, lopen: op1 == "<", ropen: op2 == "<"}
		if mid.k == kFunc && mid.name == "abs" {
			neg := &node{k: kInterval, args: []*node{{k: kNeg, args: []*node{hi}}, {k: kNeg, args: []*node{lo}}}, lopen: op2 == "<", ropen: op1 == "<"}
			return &node{k: kUnion, args: []*node{neg, iv}}
		}
		return iv
	}
	return nil
}

func hasUndefinedFunc(n *node) bool {
	if n.k == kFunc && (len(n.name) == 1 || strings.HasSuffix(n.name, "_")) {
		return true
	}
	return slices.ContainsFunc(n.args, hasUndefinedFunc)
}

// unwrapAssignments turns a list of assignments "x = 1, y = 2" into the tuple
// of their values when the names differ, and unwraps "x = 1" elsewhere in a
// list to 1.
func unwrapAssignments(n *node) *node {
	if n.k != kSet || len(n.args) == 0 {
		return n
	}
	allAssign := len(n.args) >= 2
	names := map[string]bool{}
	for _, a := range n.args {
		if a.k != kRel || !isAssignment(a) {
			allAssign = false
			break
		}
		names[a.args[0].String()] = true
	}
	out := make([]*node, len(n.args))
	for i, a := range n.args {
		if a.k == kRel && isAssignment(a) {
			out[i] = lastRHS(a)
		} else {
			out[i] = unwrapAssignments(a)
		}
	}
	if allAssign && len(names) == len(n.args) {
		return &node{k: kTuple, args: out}
	}
	return &node{k: kSet, args: out}
}

// assignmentMap returns name → value for a list made only of assignments to
// distinct names.
func assignmentMap(n *node) map[string]*node {
	if n.k != kSet || len(n.args) < 2 {
		return nil
	}
	m := map[string]*node{}
	for _, a := range n.args {
		if a.k != kRel || !isAssignment(a) {
			return nil
		}
		m[targetKey(a.args[0])] = lastRHS(a)
	}
	if len(m) != len(n.args) {
		return nil
	}
	return m
}

// relationsToUnion reads "x < 2 or x > 3" (a list of conditions on one
// variable) as the union of the sets they describe, or returns n.
func relationsToUnion(n *node) *node {
	if n.k != kSet || len(n.args) < 2 {
		return n
	}
	parts := make([]*node, len(n.args))
	for i, a := range n.args {
		if a.k != kRel || isAssignment(a) {
			return n
		}
		if parts[i] = relToSet(a); parts[i] == nil {
			return n
		}
	}
	return &node{k: kUnion, args: parts}
}

func (c *comparer) collectionEqual(g, p *node) bool {
	g, p = relationsToUnion(g), relationsToUnion(p)
	if gm, pm := assignmentMap(g), assignmentMap(p); gm != nil && pm != nil && len(gm) == len(pm) {
		same := true
		for k, gv := range gm {
			pv, ok := pm[k]
			if !ok || !c.equal(gv, pv) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	if equal, decided := c.extremesEqual(g, p); decided {
		return equal
	}
	// "b = 3, a = 1" for the point (1, 3): in the order written it is (3, 1), in
	// the letters' order (1, 3). Which one the question meant is not known here.
	if assignmentMap(g) == nil && assignmentMap(p) != nil && letterNames(p.args) && !lettersInOrder(p.args) {
		return false
	}
	g, p = dedupe(unwrapAssignments(g)), dedupe(unwrapAssignments(p))
	// A lone value equals the set or tuple that holds only it.
	if !g.isCollection() {
		g, p = p, g
	}
	if !p.isCollection() {
		if (g.k == kSet || g.k == kTuple) && len(g.args) == 1 {
			return c.equal(g.args[0], p)
		}
		return false
	}
	if c.shapesEqual(g, p) {
		return true
	}
	// The same real numbers written otherwise: [1, 2] \cup [2, 3] is [1, 3].
	if g.k == kInterval || g.k == kUnion || p.k == kInterval || p.k == kUnion {
		return c.sameSpans(g, p)
	}
	return false
}

// shapesEqual compares two collections of the same shape element by element.
func (c *comparer) shapesEqual(g, p *node) bool {
	switch {
	case g.k == kSet && p.k == kSet:
		return c.unordered(g.args, p.args)
	case g.k == kTuple && p.k == kTuple:
		return c.ordered(g.args, p.args)
	case g.k == kTuple && p.k == kSet || g.k == kSet && p.k == kTuple:
		if c.ordered(g.args, p.args) {
			return true
		}
		return !c.strict && c.unordered(g.args, p.args)
	case g.k == kInterval && p.k == kInterval:
		return g.lopen == p.lopen && g.ropen == p.ropen && c.ordered(g.args, p.args)
	case g.k == kInterval && p.k == kTuple && p.paren:
		return g.lopen && g.ropen && c.ordered(g.args, p.args)
	case p.k == kInterval && g.k == kTuple && g.paren:
		return p.lopen && p.ropen && c.ordered(g.args, p.args)
	case g.k == kUnion && p.k == kUnion:
		return c.unordered(g.args, p.args)
	case g.k == kMatrix && p.k == kMatrix:
		return g.rows == p.rows && g.cols == p.cols && c.ordered(g.args, p.args)
	case g.k == kMatrix && p.k == kTuple && (g.rows == 1 || g.cols == 1):
		return c.ordered(g.args, p.args)
	case p.k == kMatrix && g.k == kTuple && (p.rows == 1 || p.cols == 1):
		return c.ordered(g.args, p.args)
	case (g.k == kSet || g.k == kTuple) && len(g.args) == 1:
		return c.equal(g.args[0], p)
	case (p.k == kSet || p.k == kTuple) && len(p.args) == 1:
		return c.equal(g, p.args[0])
	}
	return false
}

// dedupe drops repeated elements of a set, as written: {840, 840} is {840}.
func dedupe(n *node) *node {
	if n.k != kSet || len(n.args) < 2 {
		return n
	}
	seen := map[string]bool{}
	var out []*node
	for _, a := range n.args {
		if k := a.String(); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	if len(out) == len(n.args) {
		return n
	}
	return &node{k: kSet, args: out}
}

func (c *comparer) ordered(g, p []*node) bool {
	if len(g) != len(p) {
		return false
	}
	for i := range g {
		if !c.equal(g[i], p[i]) {
			return false
		}
	}
	return true
}

// unordered matches the elements of two lists one to one, in any order.
func (c *comparer) unordered(g, p []*node) bool {
	if len(g) != len(p) {
		return false
	}
	used := make([]bool, len(p))
	for _, ge := range g {
		found := false
		for j, pe := range p {
			if !used[j] && c.equal(ge, pe) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// reduceMatrix evaluates sums and products of matrices into one matrix of
// expressions, or returns nil when n holds no matrix arithmetic.
func reduceMatrix(n *node) *node {
	switch n.k {
	case kMatrix:
		return nil
	case kNeg:
		m := asMatrix(n.args[0])
		if m == nil {
			return nil
		}
		cells := make([]*node, len(m.args))
		for i, a := range m.args {
			cells[i] = &node{k: kNeg, args: []*node{a}}
		}
		return &node{k: kMatrix, args: cells, rows: m.rows, cols: m.cols}
	case kAdd:
		var acc *node
		for _, a := range n.args {
			m := asMatrix(a)
			if m == nil {
				return nil
			}
			if acc == nil {
				acc = m
				continue
			}
			if m.rows != acc.rows || m.cols != acc.cols {
				return nil
			}
			cells := make([]*node, len(m.args))
			for i := range cells {
				cells[i] = &node{k: kAdd, args: []*node{acc.args[i], m.args[i]}}
			}
			acc = &node{k: kMatrix, args: cells, rows: m.rows, cols: m.cols}
		}
		return acc
	case kMul:
		hasMatrix := slices.ContainsFunc(n.args, func(a *node) bool { return asMatrix(a) != nil })
		if !hasMatrix {
			return nil
		}
		var acc *node // a matrix
		var scalars []*node
		for _, a := range n.args {
			m := asMatrix(a)
			if m == nil {
				if a.isCollection() || a.k == kRel {
					return nil
				}
				scalars = append(scalars, a)
				continue
			}
			if acc == nil {
				acc = m
				continue
			}
			if acc.cols != m.rows || acc.rows*m.cols > 400 {
				return nil
			}
			cells := make([]*node, acc.rows*m.cols)
			for i := range acc.rows {
				for j := range m.cols {
					sum := &node{k: kAdd}
					for k := range acc.cols {
						sum.args = append(sum.args, &node{k: kMul, args: []*node{acc.args[i*acc.cols+k], m.args[k*m.cols+j]}})
					}
					cells[i*m.cols+j] = sum
				}
			}
			acc = &node{k: kMatrix, args: cells, rows: acc.rows, cols: m.cols}
		}
		if len(scalars) > 0 {
			cells := make([]*node, len(acc.args))
			for i, a := range acc.args {
				cells[i] = &node{k: kMul, args: append(slices.Clone(scalars), a)}
			}
			acc = &node{k: kMatrix, args: cells, rows: acc.rows, cols: acc.cols}
		}
		return acc
	}
	return nil
}

func asMatrix(n *node) *node {
	if n.k == kMatrix {
		return n
	}
	return reduceMatrix(n)
}

// word returns n as a word when it reads as one: text, a named answer
// ("Evelyn"), a letter choice, or Euler's e written as a letter.
func word(n *node) (string, bool) {
	switch n.k {
	case kText:
		return n.name, true
	case kSym:
		return n.name, n.text || len(n.name) >= 3
	case kConst:
		return n.name, n.name == "e"
	case kMul:
		var b strings.Builder
		for _, a := range n.args {
			switch {
			case a.k == kSym && len(a.name) == 1:
				b.WriteString(a.name)
			case a.k == kConst && a.name == "e":
				b.WriteString("e")
			default:
				return "", false
			}
		}
		return b.String(), false
	}
	return "", false
}

func normalizeWords(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	return strings.TrimRight(s, ".")
}

func (c *comparer) scalarEqual(g, p *node) bool {
	gw, gIsWord := word(g)
	pw, pIsWord := word(p)
	if gIsWord || pIsWord {
		if gw == "" || pw == "" {
			return false
		}
		if len(gw) == 1 && len(pw) == 1 {
			return gw == pw
		}
		return normalizeWords(gw) == normalizeWords(pw)
	}
	if g.k == kText || p.k == kText {
		return false
	}
	inexact := g.hasInexact() || p.hasInexact()
	names := c.varNames(g, p)
	if len(names) == 0 {
		gPlaces, pPlaces := literalPlaces(g), literalPlaces(p)
		if rg, ok := evalRat(g, c.b); ok {
			if rp, ok := evalRat(p, c.b); ok {
				if !inexact {
					return rg.Cmp(rp) == 0
				}
				if roundEqualRat(rg, rp, c.prec) {
					return true
				}
				// A gold given to 2+ places governs: 0.29 accepts 0.290243. Not
				// one of a single significant digit: 0.01 would take 0.005.
				if gPlaces >= 2 && gPlaces < c.prec && roundedTo(rg, gPlaces) && sigDigits(rg, gPlaces) >= 2 && roundEqualRat(rg, rp, gPlaces) {
					return true
				}
				// A decimal to 4+ places is read as rounded: 2.6667 for 8/3.
				return pPlaces >= 4 && !g.hasInexact() && roundEqualRat(rg, rp, min(pPlaces, c.prec))
			}
		}
		vg, sg, err1 := evalC(g, nil, c.b)
		vp, sp, err2 := evalC(p, nil, c.b)
		if err1 != nil || err2 != nil || !finite(vg, sg) || !finite(vp, sp) || cancelled(vg, sg) || cancelled(vp, sp) {
			// Past float64's range (e^{1000}), not a number, or lost to
			// cancellation (e^{100} - e^{100}): as written.
			return g.String() == p.String()
		}
		if c.close(vg, vp, sg, sp, inexact) {
			return true
		}
		if gPlaces >= 2 && gPlaces < c.prec && imag(vp) == 0 && roundEqualFloat(real(vg), real(vp), gPlaces) &&
			math.Abs(real(vg))*math.Pow(10, float64(gPlaces)) >= 9.5 { // two significant digits, as above
			return true
		}
		return pPlaces >= 4 && !g.hasInexact() && imag(vg) == 0 && roundEqualFloat(real(vg), real(vp), min(pPlaces, c.prec))
	}
	valid := 0
	for i := range numPoints {
		e := pointEnv(names, i)
		vg, sg, err1 := evalC(g, e, c.b)
		vp, sp, err2 := evalC(p, e, c.b)
		if err1 != nil || err2 != nil || !finite(vg, sg) || !finite(vp, sp) {
			if c.b.err != nil {
				return false
			}
			continue
		}
		if negativePoint(i) && (!isReal(vg, sg) || !isReal(vp, sp)) || cancelled(vg, sg) || cancelled(vp, sp) {
			continue
		}
		if !c.closeRel(vg, vp, sg, sp, inexact) {
			return false
		}
		valid++
	}
	if valid >= 3 {
		return true
	}
	return valid == 0 && g.String() == p.String()
}

// literalPlaces returns the decimal places of a lone decimal literal (or its
// negation), or -1.
func literalPlaces(n *node) int {
	if n.k == kNeg {
		n = n.args[0]
	}
	if n.k == kNum && n.inexact {
		return n.places
	}
	return -1
}

// sigDigits counts the significant digits of r written to places decimal places
// (0.01 has one, 0.29 two, 2.50 three).
func sigDigits(r *big.Rat, places int) int {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	n := roundRat(new(big.Rat).Mul(r, scale))
	n.Abs(n)
	if n.Sign() == 0 {
		return 0
	}
	return len(n.String())
}

// roundedTo reports whether r has at most places decimal places.
func roundedTo(r *big.Rat, places int) bool {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	return new(big.Rat).Mul(r, scale).IsInt()
}

func (c *comparer) varNames(ns ...*node) []string {
	m := map[string]bool{}
	for _, n := range ns {
		n.vars(m)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// negativePoint reports whether the i-th check point is negative. Negative
// points catch |x-1| ≠ x-1; they count only where both sides are real there,
// so identities that hold for positive variables (ln x² = 2 ln x) are not
// failed on them.
func negativePoint(i int) bool { return i%2 == 1 }

// finite reports whether a numeric value and its scale are usable.
func finite(v complex128, scale float64) bool {
	return !cmplx.IsInf(v) && !cmplx.IsNaN(v) && !math.IsInf(scale, 0) && !math.IsNaN(scale)
}

func isReal(v complex128, scale float64) bool {
	return math.Abs(imag(v)) <= 1e-9*math.Max(scale, cmplx.Abs(v))
}

// pointEnv gives every variable a value for the i-th check: pseudo-random,
// fixed by the variable's name so runs are reproducible, away from the
// integers, with magnitude in [1.1, 3.4] and the sign of negativePoint.
func pointEnv(names []string, i int) env {
	e := make(env, len(names))
	for _, name := range names {
		h := fnv.New64a()
		h.Write([]byte(name))
		h.Write([]byte{byte(i), 0x5a})
		u := float64(h.Sum64()>>11) / float64(1<<53)
		v := 1.1 + 2.3*u
		if negativePoint(i) {
			v = -v
		}
		e[name] = complex(v, 0)
	}
	return e
}

// cancelled reports a value computed from terms so much larger than itself that
// float64 no longer sees it: in e^{100} - e^{100} + 5 the 5 is lost, and the error
// bound, drawn from the largest term, would call it equal to anything. Such a value
// is not compared as a number.
func cancelled(v complex128, scale float64) bool {
	return scale > 1e6*math.Max(1, cmplx.Abs(v))
}

// close compares two constants: to Options.Precision decimal places when
// either was written as a decimal, else to a relative 1e-11 of the largest
// intermediate.
func (c *comparer) close(a, b complex128, sa, sb float64, inexact bool) bool {
	if inexact {
		return roundEqualFloat(real(a), real(b), c.prec) && roundEqualFloat(imag(a), imag(b), c.prec)
	}
	return cmplx.Abs(a-b) <= 1e-11*math.Max(sa, sb)
}

func (c *comparer) closeRel(a, b complex128, sa, sb float64, inexact bool) bool {
	tol := 1e-8
	if inexact {
		tol = math.Max(tol, math.Pow(10, -float64(c.prec)))
	}
	return cmplx.Abs(a-b) <= tol*math.Max(math.Max(sa, sb), 1e-300)
}

// roundEqualRat rounds both to prec decimal places and compares exactly; when
// both round to zero it asks for agreement to prec significant digits
// instead, so that tiny values are not all equal.
func roundEqualRat(a, b *big.Rat, prec int) bool {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(prec)), nil))
	ra, rb := roundRat(new(big.Rat).Mul(a, scale)), roundRat(new(big.Rat).Mul(b, scale))
	if ra.Sign() == 0 && rb.Sign() == 0 && (a.Sign() != 0 || b.Sign() != 0) {
		fa, _ := a.Float64()
		fb, _ := b.Float64()
		return math.Abs(fa-fb) <= math.Pow(10, -float64(prec))*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return ra.Cmp(rb) == 0
}

func roundRat(r *big.Rat) *big.Int {
	// round half away from zero
	num := new(big.Int).Abs(r.Num())
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	if new(big.Int).Lsh(m, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return q
}

func roundEqualFloat(a, b float64, prec int) bool {
	if a == b {
		return true
	}
	m := math.Max(math.Abs(a), math.Abs(b))
	if m > 1e12 || m < math.Pow(10, -float64(prec)) {
		return math.Abs(a-b) <= math.Max(1e-12, math.Pow(10, -float64(prec)))*m
	}
	p := math.Pow(10, float64(prec))
	return math.Round(a*p) == math.Round(b*p) || math.Abs(a-b) <= 1e-12*m
}

// expandPM replaces a ± b by the set {a+b, a-b}: "1 ± √5" is two answers.
func expandPM(n *node, b *budget) *node {
	if !containsPM(n) || b.step(1) != nil {
		return n
	}
	switch n.k {
	case kSet:
		var out []*node
		for _, a := range n.args {
			e := expandPM(a, b)
			if e.k == kSet && containsPMShallow(a) {
				out = append(out, e.args...)
			} else {
				out = append(out, e)
			}
		}
		return &node{k: kSet, args: out}
	case kTuple:
		// (1, \pm 2) is the two points (1, 2) and (1, -2); the signs of several
		// ± in one tuple go together (∓ takes the other one).
		return &node{k: kSet, args: []*node{withSign(n, 1), withSign(n, -1)}}
	case kInterval, kUnion, kMatrix, kRel:
		return mapArgs(n, func(a *node) *node { return expandPM(a, b) })
	}
	variants := pmVariants(n, 0)
	if len(variants) == 0 {
		return n
	}
	return &node{k: kSet, args: variants}
}

func containsPM(n *node) bool {
	return n.k == kPM || slices.ContainsFunc(n.args, containsPM)
}

func containsPMShallow(n *node) bool { return n.k != kSet && containsPM(n) }

// pmVariants lists the trees with each ± chosen as + or −, at most 16.
func pmVariants(n *node, depth int) []*node {
	if depth > 50 {
		return nil
	}
	if n.k == kPM {
		var out []*node
		for _, a := range pmVariants(n.args[0], depth+1) {
			for _, b := range pmVariants(n.args[1], depth+1) {
				out = append(out, &node{k: kAdd, args: []*node{a, b}}, &node{k: kAdd, args: []*node{a, {k: kNeg, args: []*node{b}}}})
			}
		}
		if len(out) > 16 {
			out = out[:16]
		}
		return out
	}
	if !containsPM(n) {
		return []*node{n}
	}
	out := []*node{{k: n.k, name: n.name, num: n.num, inexact: n.inexact, ops: n.ops, lopen: n.lopen, ropen: n.ropen, paren: n.paren, rows: n.rows, cols: n.cols, text: n.text}}
	for _, a := range n.args {
		vs := pmVariants(a, depth+1)
		var next []*node
		for _, o := range out {
			for _, v := range vs {
				cp := *o
				cp.args = append(slices.Clone(o.args), v)
				next = append(next, &cp)
				if len(next) >= 16 {
					break
				}
			}
		}
		out = next
	}
	return out
}

// renameVars rewrites the variables of n by m (non-strict comparison matches
// variables by position: f(x) = f(y)).
func renameVars(n *node, m map[string]string) *node {
	if n.k == kSym {
		if to, ok := m[n.name]; ok {
			cp := *n
			cp.name = to
			return &cp
		}
		return n
	}
	return mapArgs(n, func(a *node) *node { return renameVars(a, m) })
}

// mapArgs is n with f applied to each of its arguments (n itself when it has none).
func mapArgs(n *node, f func(*node) *node) *node {
	if len(n.args) == 0 {
		return n
	}
	cp := *n
	cp.args = make([]*node, len(n.args))
	for i, a := range n.args {
		cp.args[i] = f(a)
	}
	return &cp
}

// withSign chooses sign for every ± in n (and the other sign for every ∓).
func withSign(n *node, sign int) *node {
	if n.k == kPM {
		s := sign
		if n.name == "mp" {
			s = -s
		}
		a, b := withSign(n.args[0], sign), withSign(n.args[1], sign)
		if s < 0 {
			b = &node{k: kNeg, args: []*node{b}}
		}
		return &node{k: kAdd, args: []*node{a, b}}
	}
	if !containsPM(n) {
		return n
	}
	return mapArgs(n, func(a *node) *node { return withSign(a, sign) })
}
