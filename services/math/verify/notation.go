package verify

import (
	"math/big"
	"strings"
)

// Notation that says nothing about the value: ordinals (12^{\text{th}}),
// degrees with minutes and seconds (60^\circ 42'), words like "only".

// fillerWords before an answer add nothing to it: "\text{only } x = 0".
var fillerWords = map[string]bool{"only": true, "just": true, "exactly": true, "precisely": true, "simply": true}

func pmName(cmd string) string {
	if cmd == "mp" {
		return "mp" // ∓: the opposite sign of the ± beside it
	}
	return ""
}

// ordinalSuffix reports whether word is the English ordinal suffix of n, a
// whole number written as such: 1st, 22nd, 13th. With exact, only the right
// suffix counts ("2th" is not one).
func ordinalSuffix(n *node, word string, exact bool) bool {
	if n.k != kNum || n.inexact || !n.num.IsInt() || n.num.Sign() < 0 {
		return false
	}
	word = strings.ToLower(strings.TrimSpace(word))
	switch word {
	case "st", "nd", "rd", "th":
	default:
		return false
	}
	if !exact {
		return true
	}
	mod100 := new(big.Int).Mod(n.num.Num(), big.NewInt(100)).Int64()
	want := "th"
	if mod100 < 11 || mod100 > 13 {
		switch mod100 % 10 {
		case 1:
			want = "st"
		case 2:
			want = "nd"
		case 3:
			want = "rd"
		}
	}
	return word == want
}

// isOrdinal reports whether exp is an ordinal suffix raised on base:
// 12^{\text{th}} (any suffix in \text), 2^{nd} (letters: the right one only).
func isOrdinal(base, exp *node) bool {
	if exp.k == kText {
		return ordinalSuffix(base, exp.name, false)
	}
	letters := exp.args
	if exp.k != kMul {
		letters = []*node{exp}
	}
	var b strings.Builder
	for _, a := range letters {
		if a.k != kSym || len(a.name) != 1 {
			return false
		}
		b.WriteString(a.name)
	}
	return ordinalSuffix(base, b.String(), true)
}

// arcMinutes reads minutes and seconds after a degree mark: 60^\circ 42' is
// 60 + 42/60 degrees, 60^\circ 42' 30” adds 30/3600.
func (p *parser) arcMinutes(deg *node) *node {
	if deg.k != kNum {
		return deg
	}
	total := new(big.Rat).Set(deg.num)
	inexact := deg.inexact
	for i, per := range []int64{60, 3600} {
		t := p.peek()
		if t.k != tNum {
			break
		}
		marks, width := p.primesAfter(1)
		if marks != i+1 {
			break
		}
		v, ok := new(big.Rat).SetString(t.text)
		if !ok {
			break
		}
		p.pos += 1 + width
		inexact = inexact || strings.ContainsAny(t.text, ".eE")
		total.Add(total, v.Quo(v, big.NewRat(per, 1)))
	}
	if total.Cmp(deg.num) == 0 {
		return deg
	}
	return numNode(total, inexact)
}

// primesAfter counts the prime marks that follow the token at p.pos+off (',
// ”, ^\prime, ^{\prime\prime}) and how many tokens they take.
func (p *parser) primesAfter(off int) (marks, width int) {
	isPrime := func(t token) bool { return t.k == tCmd && t.text == "prime" }
	t := p.peekAt(off)
	switch {
	case t.k == tOp && t.text == "'":
		for p.peekAt(off+width).k == tOp && p.peekAt(off+width).text == "'" {
			width++
		}
		return width, width
	case t.k == tOp && t.text == "^" && isPrime(p.peekAt(off+1)):
		return 1, 2
	case t.k == tOp && t.text == "^" && p.peekAt(off+1).k == tOp && p.peekAt(off+1).text == "{":
		k := off + 2
		for isPrime(p.peekAt(k)) {
			marks++
			k++
		}
		if marks == 0 || p.peekAt(k).k != tOp || p.peekAt(k).text != "}" {
			return 0, 0
		}
		return marks, k + 1 - off
	}
	return 0, 0
}

// isRealLine reports whether n is ℝ: \mathbb{R} or (-\infty, \infty).
func isRealLine(n *node) bool {
	return n.k == kInterval && n.lopen && n.ropen && infSign(n.args[0]) < 0 && infSign(n.args[1]) > 0
}

// infSign is 1 for ∞, -1 for -∞, 0 for anything else.
func infSign(n *node) int {
	switch {
	case n.k == kConst && n.name == "inf":
		return 1
	case n.k == kNeg && n.args[0].k == kConst && n.args[0].name == "inf":
		return -1
	}
	return 0
}
