package verify

import (
	"math/big"
	"slices"
	"strings"
)

// kind is what a node of the expression tree stands for.
type kind uint8

const (
	kNum      kind = iota // num (exact rational); inexact when written as a decimal
	kSym                  // a variable: name
	kConst                // name: "pi", "e", "i", "inf"
	kAdd                  // args summed
	kMul                  // args multiplied
	kDiv                  // args[0] / args[1]
	kPow                  // args[0] ^ args[1]
	kNeg                  // -args[0]
	kFunc                 // name(args...): known functions and undefined ones (f(x), F_{n-1})
	kPM                   // args[0] ± args[1]
	kPercent              // args[0] %
	kTuple                // (a, b, ...): ordered
	kSet                  // {a, b, ...} or a bare list a, b: unordered
	kInterval             // args[0], args[1] with lopen/ropen
	kUnion                // args are sets or intervals
	kMatrix               // rows × cols, args row-major
	kRel                  // a chain args[0] ops[0] args[1] ops[1] args[2] ...
	kText                 // a word or a sentence: name
	kSum                  // name = bound variable; args: lo, hi, body
	kProd                 // like kSum
)

// node is one node of a parsed answer. Trees are immutable once built: the
// comparison rewrites by building new nodes, so a tree may be shared.
type node struct {
	k       kind
	num     *big.Rat
	inexact bool // a decimal literal: compared to Options.Precision places
	places  int  // a decimal literal's digits after the point
	name    string
	args    []*node
	ops     []string // kRel: "=", "<", "<=", ">", ">=", "!=", "in", "approx"
	lopen   bool
	ropen   bool
	paren   bool // kTuple written with parentheses and two elements: maybe an open interval
	rows    int
	cols    int
	text    bool // kSym that came from \text{}: compared as a word
}

func numNode(r *big.Rat, inexact bool) *node { return &node{k: kNum, num: r, inexact: inexact} }
func intNode(i int64) *node                  { return numNode(new(big.Rat).SetInt64(i), false) }

func (n *node) isNum(v int64) bool {
	return n != nil && n.k == kNum && n.num.IsInt() && n.num.Num().IsInt64() && n.num.Num().Int64() == v
}

// isCollection reports whether n is a set-like or sequence-like value.
func (n *node) isCollection() bool {
	switch n.k {
	case kTuple, kSet, kInterval, kUnion, kMatrix:
		return true
	}
	return false
}

// hasInexact reports whether a decimal literal appears anywhere in n.
func (n *node) hasInexact() bool {
	if n.k == kNum {
		return n.inexact
	}
	return slices.ContainsFunc(n.args, (*node).hasInexact)
}

// vars collects the free variables of n (bound sum variables excluded).
func (n *node) vars(into map[string]bool) {
	switch n.k {
	case kSym:
		into[n.name] = true
	case kSum, kProd:
		inner := map[string]bool{}
		for _, a := range n.args {
			a.vars(inner)
		}
		delete(inner, n.name)
		for v := range inner {
			into[v] = true
		}
	default:
		for _, a := range n.args {
			a.vars(into)
		}
	}
}

// String renders n canonically: commutative arguments are sorted, so two trees
// that differ only in the order of a sum or a product render the same. It is
// the comparison of last resort, for what cannot be evaluated.
func (n *node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.k {
	case kNum:
		b.WriteString(n.num.RatString())
	case kSym, kConst:
		b.WriteString(n.name)
	case kText:
		b.WriteString("\"" + n.name + "\"")
	case kAdd, kMul:
		parts := make([]string, len(n.args))
		for i, a := range n.args {
			parts[i] = a.String()
		}
		slices.Sort(parts)
		op := "+"
		if n.k == kMul {
			op = "*"
		}
		b.WriteString("(" + strings.Join(parts, op) + ")")
	case kSet, kUnion:
		parts := make([]string, len(n.args))
		for i, a := range n.args {
			parts[i] = a.String()
		}
		slices.Sort(parts)
		open := "{"
		if n.k == kUnion {
			open = "U{"
		}
		b.WriteString(open + strings.Join(parts, ",") + "}")
	default:
		b.WriteString(kindNames[n.k])
		if n.name != "" {
			b.WriteString(":" + n.name)
		}
		if n.k == kInterval {
			if n.lopen {
				b.WriteString("(")
			} else {
				b.WriteString("[")
			}
		} else {
			b.WriteString("(")
		}
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(",")
				if n.k == kRel && i-1 < len(n.ops) {
					b.WriteString(n.ops[i-1] + ",")
				}
			}
			a.write(b)
		}
		if n.k == kInterval && !n.ropen {
			b.WriteString("]")
		} else {
			b.WriteString(")")
		}
	}
}

var kindNames = map[kind]string{
	kDiv: "div", kPow: "pow", kNeg: "neg", kFunc: "f", kPM: "pm", kPercent: "pct",
	kTuple: "tuple", kInterval: "iv", kMatrix: "mat", kRel: "rel", kSum: "sum", kProd: "prod",
}
