package verify

import "strings"

// What the question says about its answer, when the caller passes it.

// percentAsks are the phrases of a question that asks for a percentage.
var percentAsks = []string{
	"what percent", "how many percent", "how much percent", "by what percent", "as a percent",
	"as percent", "in percent", "find the percent", "compute the percent", "calculate the percent",
	"determine the percent", "what is the percent",
}

// asksPercent reports whether a question asks for its answer as a percentage.
func asksPercent(question string) bool {
	q := strings.Join(strings.Fields(asciiLower(question)), " ")
	for _, a := range percentAsks {
		if strings.Contains(q, a) {
			return true
		}
	}
	return false
}

// asksHowMany reports whether a question asks for a count.
func asksHowMany(question string) bool {
	return strings.Contains(strings.Join(strings.Fields(asciiLower(question)), " "), "how many")
}

// questionRules reads gold and prediction in the light of the question: a bare
// number answering "what percent" is a percentage, and a count answering "how
// many" may name what it counts ("12 triangles" is 12).
func questionRules(question string, g, p *node) (*node, *node) {
	if asksPercent(question) && g.k == kNum {
		g = &node{k: kPercent, args: []*node{g}}
	}
	if asksHowMany(question) {
		p = countOf(p)
	}
	return g, p
}

// countOf returns the number of "12 triangles" (a whole number times words),
// or n.
func countOf(n *node) *node {
	if n.k != kMul || len(n.args) < 2 || n.args[0].k != kNum || !n.args[0].num.IsInt() {
		return n
	}
	for _, a := range n.args[1:] {
		if w, isWord := word(a); !isWord || len(w) < 3 || a.k == kConst {
			return n
		}
	}
	return n.args[0]
}
