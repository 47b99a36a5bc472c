package verify

import (
	"cmp"
	"math/big"
	"slices"
	"strings"
)

// Targets chooses what the extraction looks for, as Math-Verify's
// LatexExtractionConfig and ExprExtractionConfig do.
type Targets uint8

const (
	// TargetLatex finds LaTeX: \boxed{}, $...$, \(...\), \[...\], $$...$$.
	TargetLatex Targets = 1 << iota
	// TargetExpr finds plain numbers and expressions: 1,000.5, 28%, 2/3.
	TargetExpr
)

// Priorities of the places an answer is found, lowest first (Math-Verify's).
const (
	prioFinalAnswerHope = 0   // "final answer is $X$. I hope"
	prioFinalAnswer     = 50  // "final answer ... is X"
	prioBoxedDefault    = 50  // \boxed{X}
	prioAnswerColon     = 100 // "Answer: X"
	prioAnswer          = 200 // "the answer is X"
	prioLineStart       = 250 // a letter choice opening the text
	prioAnywhere        = 300 // the last $X$ or number in the text
)

// extractConfig says how answers are found in a text.
type extractConfig struct {
	targets       Targets
	boxedPriority int // < 0 disables \boxed
	strictCmd     bool
	noFallback    bool
	firstMatch    bool
	// alternatives keeps the answers written beside the one found ("3 or 5"):
	// on for predictions, where they are a hedge; a gold says what it says.
	alternatives bool
}

// candidate is one place an answer may be.
type candidate struct {
	prio       int
	start, end int
	aStart     int      // where the answer itself starts (start may be its anchor)
	parts      []string // LaTeX pieces joined by "and"/","; one for an expression
	latex      bool
	percent    []bool
	number     *big.Rat // an expr-number match, already read
	numInexact bool
	boxed      bool
}

// extraction is the answer found in a text.
type extraction struct {
	node *node  // nil when nothing parsed
	raw  string // the answer as written (or the first match when nothing parsed)
}

func extract(text string, cfg extractConfig, b *budget) extraction {
	text = fixDoubleBackslash(text)
	// A reasoning model answers after its thinking: look there first.
	if k := strings.LastIndex(text, "</think>"); k >= 0 {
		if rest := text[k+len("</think>"):]; strings.TrimSpace(rest) != "" {
			if ex := extract(rest, cfg, b); ex.node != nil {
				return ex
			}
		}
	}
	if cfg.targets&TargetLatex != 0 && isBare(text) {
		if n, err := parseAnswer(text, b, cfg.strictCmd); err == nil {
			return extraction{node: n, raw: strings.TrimSpace(text)}
		}
	}
	// Anchored places ("final answer is", \boxed, "Answer:") come first; the
	// numbers and formulas found anywhere are gathered only when those fail,
	// which keeps a long response cheap.
	var envs []mathEnv
	if cfg.targets&TargetLatex != 0 {
		envs = findEnvs(text, b)
	}
	var fallback string
	for _, anywhere := range []bool{false, true} {
		var cands []candidate
		if cfg.targets&TargetLatex != 0 {
			cands = append(cands, latexCandidates(text, envs, cfg, anywhere, b)...)
		}
		if cfg.targets&TargetExpr != 0 {
			cands = append(cands, exprCandidates(text, anywhere, b)...)
		}
		n, raw, stop := tryCandidates(text, cands, cfg, b, &fallback)
		if n != nil {
			return extraction{node: n, raw: raw}
		}
		if stop {
			break
		}
	}
	if cfg.noFallback {
		return extraction{}
	}
	return extraction{raw: fallback}
}

// tryCandidates parses candidates in priority order and returns the first
// that parses; stop says the search must end here (a final box that does not
// parse, or first-match mode after a match).
func tryCandidates(text string, cands []candidate, cfg extractConfig, b *budget, fallback *string) (*node, string, bool) {
	// Sort indices, not the candidates: moving large structs is most of the
	// cost on a long response with thousands of numbers.
	order := make([]int32, len(cands))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		x, y := &cands[i], &cands[j]
		if c := cmp.Compare(x.prio, y.prio); c != 0 {
			return c
		}
		if c := cmp.Compare(y.end, x.end); c != 0 {
			return c
		}
		if c := cmp.Compare(x.start, y.start); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	for _, idx := range order {
		if b.err != nil {
			return nil, "", true
		}
		c := &cands[idx]
		n, raw := c.parse(b, cfg.strictCmd)
		if *fallback == "" {
			*fallback = raw
		}
		if n != nil {
			if cfg.alternatives {
				n, raw = joinAlternatives(text, c.aStart, c.end, n, raw, false, b)
			}
			return n, raw, true
		}
		// A final \boxed{} that does not parse is still the final answer: it
		// is compared as written rather than replaced by a number from the
		// working above it.
		if c.boxed || cfg.firstMatch {
			return nil, "", true
		}
	}
	return nil, "", false
}

func (c *candidate) parse(b *budget, strictCmd bool) (*node, string) {
	if c.number != nil {
		n := numNode(c.number, c.numInexact)
		n.places = decimalPlaces(strings.ReplaceAll(strings.Split(c.parts[0], "%")[0], ",", "."))
		raw := c.parts[0]
		if len(c.percent) > 0 && c.percent[0] {
			n = &node{k: kPercent, args: []*node{n}}
		}
		return n, raw
	}
	raws := make([]string, len(c.parts))
	var nodes []*node
	ok := true
	for i, part := range c.parts {
		raws[i] = strings.TrimSpace(part)
		n, err := parseAnswer(part, b, strictCmd)
		if err != nil {
			ok = false
			continue
		}
		if i < len(c.percent) && c.percent[i] {
			n = &node{k: kPercent, args: []*node{n}}
		}
		nodes = append(nodes, n)
	}
	raw := strings.Join(raws, ", ")
	if !ok || len(nodes) == 0 {
		return nil, raw
	}
	if len(nodes) == 1 {
		return nodes[0], raw
	}
	var elems []*node
	for _, n := range nodes {
		if n.k == kSet {
			elems = append(elems, n.args...)
		} else {
			elems = append(elems, n)
		}
	}
	return &node{k: kSet, args: elems}, raw
}

// isBare reports whether text looks like an answer on its own ("x^2+2x+1",
// "\frac{1}{2}", "Evelyn") rather than a response to search: short, with no
// math delimiters or boxes, and at most one word that is not mathematics.
func isBare(text string) bool {
	if len(text) > 2000 || strings.Contains(strings.ReplaceAll(text, `\$`, ""), "$") || strings.Contains(text, `\(`) || strings.Contains(text, `\[`) ||
		strings.Contains(text, `\boxed`) || strings.Contains(text, `\fbox`) {
		return false
	}
	words := 0
	for i := 0; i < len(text); {
		if !isLetter(text[i]) {
			if text[i] == '\\' { // a command and, for \text{...}, its argument
				j := i + 1
				for j < len(text) && isLetter(text[j]) {
					j++
				}
				if cmd := text[i+1 : j]; textCommands[cmd] || cmd == "begin" || cmd == "end" {
					if _, next, ok := braceArg(text, j); ok {
						j = next
					}
				}
				i = max(j, i+1)
				continue
			}
			i++
			continue
		}
		j := i
		for j < len(text) && isLetter(text[j]) {
			j++
		}
		w := text[i:j]
		if _, fn := functions[w]; j-i >= 3 && !fn && !units[w] && w != "pi" && w != "and" && w != "infty" && w != "infinity" && w != "sqrt" && w != "percent" || shortWords[asciiLower(w)] {
			words++
		}
		i = j
	}
	// One word is an answer ("Evelyn"); a word beside numbers is prose
	// ("Answer 5"), to be searched rather than multiplied out.
	return words == 0 || words == 1 && !strings.ContainsAny(text, "0123456789")
}

// shortWords are two-letter English words: "So 5" is prose, while "xy" is a
// product.
var shortWords = map[string]bool{
	"so": true, "is": true, "it": true, "as": true, "be": true, "an": true, "to": true,
	"of": true, "we": true, "if": true, "at": true, "by": true, "on": true, "no": true,
	"am": true, "my": true, "he": true, "me": true, "us": true, "do": true, "ok": true,
}

// parseAnswer parses one extracted answer; when it does not parse and is a
// chain a = b = c, its last part is tried (Math-Verify does the same).
func parseAnswer(s string, b *budget, strictCmd bool) (*node, error) {
	s = unboxAll(s)
	n, err := parseMath(s, b, strictCmd)
	if err == nil || b.err != nil {
		return n, err
	}
	if !strings.ContainsAny(s, ",;") && strings.Count(s, "=") >= 2 {
		if last := s[strings.LastIndex(s, "=")+1:]; strings.TrimSpace(last) != "" {
			if n, err2 := parseMath(last, b, strictCmd); err2 == nil {
				return n, nil
			}
		}
	}
	return nil, err
}

// unboxAll replaces a text holding several \boxed{} by their contents joined as
// a list: "$\boxed{1}\boxed{2}$" is 1, 2.
func unboxAll(s string) string {
	boxes := findBoxes(s)
	if len(boxes) < 2 {
		return s
	}
	parts := make([]string, len(boxes))
	for i, bx := range boxes {
		parts[i] = bx.content
	}
	return strings.Join(parts, ", ")
}

// fixDoubleBackslash undoes an escaping accident: "\\frac" written for "\frac".
func fixDoubleBackslash(s string) string {
	if !strings.Contains(s, `\\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		// Exactly two backslashes before a letter were one; three are a row
		// break and a command.
		if j-i == 2 && j < len(s) && isLetter(s[j]) {
			b.WriteByte('\\')
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}

type box struct {
	start, end int // of \boxed ... }
	content    string
}

// findBoxes finds \boxed{...}, \fbox{...} and \boxed 5, braces balanced; an
// unclosed box runs to the end of the text.
func findBoxes(s string) []box {
	var out []box
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], `\boxed`)
		k := strings.Index(s[i:], `\fbox`)
		if j < 0 && k < 0 {
			break
		}
		var at, width int
		if j >= 0 && (k < 0 || j < k) {
			at, width = i+j, len(`\boxed`)
		} else {
			at, width = i+k, len(`\fbox`)
		}
		p := at + width
		for p < len(s) && s[p] == ' ' {
			p++
		}
		switch {
		case p < len(s) && s[p] == '{':
			depth, q := 0, p
			for ; q < len(s); q++ {
				if s[q] == '\\' {
					q++
					continue
				}
				if s[q] == '{' {
					depth++
				} else if s[q] == '}' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if q >= len(s) {
				out = append(out, box{at, len(s), s[p+1:]})
				return out
			}
			out = append(out, box{at, q + 1, s[p+1 : q]})
			i = q + 1
		case p > at+width && p < len(s): // \boxed 5
			q := p
			for q < len(s) && !strings.ContainsRune(" \n\t$.,;", rune(s[q])) {
				q++
			}
			if q > p {
				out = append(out, box{at, q, s[p:q]})
			}
			i = q
		default:
			i = p
		}
	}
	return out
}

// boxJoins reports whether the text between two boxes joins them into one
// answer: "\boxed{1}, \boxed{2}", "\boxed{6} \text{ and } \boxed{8}", but not
// "\boxed{1} no no no \boxed{2}".
func boxJoins(gap string) bool {
	if len(gap) > 60 || strings.Contains(gap, "\n\n") {
		return false
	}
	r := strings.NewReplacer(`\(`, " ", `\)`, " ", `\[`, " ", `\]`, " ", `\quad`, " ", `\qquad`, " ",
		`\text{`, " ", `\,`, " ", `\ `, " ", `\\`, " ", "$", " ", "}", " ", "{", " ", ",", " , ", ";", " , ")
	words := strings.Fields(r.Replace(gap))
	if len(words) == 0 {
		return true
	}
	connective, other := false, 0
	for _, w := range words {
		if w == "," || w == "and" || w == "or" {
			connective = true
		} else {
			other++
		}
	}
	return connective && other <= 3
}

type mathEnv struct {
	start, end int // of the delimiters
	content    string
	percent    bool
}

// findEnvs finds math environments left to right: $$...$$ and \[...\] may span
// lines; $...$ and \(...\) may not.
func findEnvs(s string, b *budget) []mathEnv {
	var out []mathEnv
	for i := 0; i < len(s); {
		if i%64 == 0 && b.step(1) != nil {
			return out
		}
		c := s[i]
		var e mathEnv
		found := false
		switch {
		case c == '$' && (i == 0 || s[i-1] != '\\') && i+1 < len(s) && s[i+1] == '$':
			if k := indexUnescaped(s, i+2, "$$", false); k > i+2 {
				e, found = mathEnv{i, k + 2, s[i+2 : k], false}, true
			}
		case c == '$' && (i == 0 || s[i-1] != '\\' && !isDigit(s[i-1])):
			if k := indexUnescaped(s, i+1, "$", true); k > i+1 {
				e, found = mathEnv{i, k + 1, s[i+1 : k], false}, true
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '[' && (i == 0 || s[i-1] != '\\'):
			if k := strings.Index(s[i+2:], `\]`); k > 0 {
				e, found = mathEnv{i, i + 2 + k + 2, s[i+2 : i+2+k], false}, true
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '(' && (i == 0 || s[i-1] != '\\'):
			if k := strings.Index(s[i+2:], `\)`); k > 0 && !strings.Contains(s[i+2:i+2+k], "\n") {
				e, found = mathEnv{i, i + 2 + k + 2, s[i+2 : i+2+k], false}, true
			}
		}
		if !found {
			i++
			continue
		}
		e.end, e.percent = percentSuffix(s, e.end)
		out = append(out, e)
		i = e.end
	}
	return out
}

// indexUnescaped finds delim after from, skipping \$; singleLine stops at a newline.
func indexUnescaped(s string, from int, delim string, singleLine bool) int {
	for k := from; k < len(s); k++ {
		if s[k] == '\\' {
			k++
			continue
		}
		if singleLine && s[k] == '\n' {
			return -1
		}
		if strings.HasPrefix(s[k:], delim) {
			return k
		}
	}
	return -1
}

// percentSuffix reads "%", "\%", "percent", "pct" after an answer.
func percentSuffix(s string, at int) (int, bool) {
	k := at
	for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
		k++
	}
	for _, w := range []string{`\%`, "%", "percentage", "percent", "pct", "Percent", "Percentage"} {
		if strings.HasPrefix(s[k:], w) {
			return k + len(w), true
		}
	}
	return at, false
}

// envGroups joins environments written as one answer: "$1$, $2$ and $3$"
// (up to six, as Math-Verify does).
func envGroups(s string, envs []mathEnv, from int) (parts []string, pct []bool, end int) {
	e := envs[from]
	parts, pct, end = []string{e.content}, []bool{e.percent}, e.end
	for j := from + 1; j < len(envs) && j-from < 6; j++ {
		gap := strings.Join(strings.Fields(s[end:envs[j].start]), " ")
		switch gap {
		case ",", "and", "or", ",and", ", and", ",or", ", or":
		default:
			return parts, pct, end
		}
		parts, pct, end = append(parts, envs[j].content), append(pct, envs[j].percent), envs[j].end
	}
	return parts, pct, end
}

func latexCandidates(s string, envs []mathEnv, cfg extractConfig, anywhere bool, b *budget) []candidate {
	var out []candidate
	groupAt := func(i, prio, start int) candidate {
		parts, pct, end := envGroups(s, envs, i)
		return candidate{prio: prio, start: start, aStart: envs[i].start, end: end, parts: parts, percent: pct, latex: true}
	}
	if anywhere {
		return plainLatexCandidates(s, envs, b)
	}
	// Anchored: the first environment that starts within reach of an anchor.
	envStartingIn := func(lo, hi int) int {
		for i, e := range envs {
			if e.start >= lo && e.start <= hi {
				return i
			}
			if e.start > hi {
				break
			}
		}
		return -1
	}
	lower := asciiLower(s)
	for _, at := range allIndex(lower, "final answer", b) {
		if p, ok := afterIs(s, at+len("final answer"), 100); ok {
			if i := envStartingIn(p, p+skipSpace(s, p)); i >= 0 {
				c := groupAt(i, prioFinalAnswer, at)
				if rest := strings.TrimLeft(s[c.end:], "."); strings.HasPrefix(strings.TrimLeft(rest, " "), "I hope") {
					c.prio = prioFinalAnswerHope
				}
				out = append(out, c)
			}
		}
	}
	for _, at := range allIndex(lower, "answer", b) {
		p := at + len("answer")
		prio := prioAnswer
		if p < len(s) && s[p] == ':' {
			prio = prioAnswerColon
		}
		if i := envStartingIn(p, p+50); i >= 0 {
			out = append(out, groupAt(i, prio, at))
		}
	}
	if cfg.boxedPriority >= 0 {
		// Environments that hold \boxed, joined by "and"/",": all their boxes.
		for i := 0; i < len(envs); i++ {
			if !strings.Contains(envs[i].content, `\boxed`) {
				continue
			}
			c := candidate{prio: cfg.boxedPriority, start: envs[i].start, aStart: envs[i].start, end: envs[i].end, latex: true,
				parts: []string{envs[i].content}, percent: []bool{envs[i].percent}}
			for j := i + 1; j < len(envs) && strings.Contains(envs[j].content, `\boxed`); j++ {
				switch strings.Join(strings.Fields(s[c.end:envs[j].start]), " ") {
				case ",", "and", "or", ",and", ", and", ",or", ", or":
				default:
					j = len(envs)
					continue
				}
				c.parts, c.percent, c.end = append(c.parts, envs[j].content), append(c.percent, envs[j].percent), envs[j].end
				i = j
			}
			out = append(out, c)
		}
		boxes := findBoxes(s)
		if len(boxes) > 0 {
			last := len(boxes) - 1
			first := last
			for first > 0 && boxJoins(s[boxes[first-1].end:boxes[first].start]) {
				first--
			}
			var parts []string
			for _, bx := range boxes[first:] {
				parts = append(parts, bx.content)
			}
			end, pct := percentSuffix(s, boxes[last].end)
			pcts := make([]bool, len(parts))
			pcts[len(pcts)-1] = pct
			out = append(out, candidate{prio: cfg.boxedPriority, start: boxes[first].start, aStart: boxes[first].start, end: end, parts: parts, percent: pcts, latex: true, boxed: true})
		}
	}
	return out
}

// plainLatexCandidates are the environments found anywhere, each starting a
// group, and bare \frac{1}{2}s outside them.
func plainLatexCandidates(s string, envs []mathEnv, b *budget) []candidate {
	var out []candidate
	for i := 0; i < len(envs); {
		parts, pct, end := envGroups(s, envs, i)
		out = append(out, candidate{prio: prioAnywhere, start: envs[i].start, aStart: envs[i].start, end: end, parts: parts, percent: pct, latex: true})
		j := i + 1
		for j < len(envs) && envs[j].start < end {
			j++
		}
		i = j
	}
	// Plain \frac{1}{2} outside any environment.
	for _, at := range allIndex(s, `\frac{`, b) {
		if insideEnv(envs, at) {
			continue
		}
		if end, ok := simpleFrac(s, at); ok {
			start := at
			if start > 0 && s[start-1] == '-' {
				start--
			}
			out = append(out, candidate{prio: prioAnywhere, start: start, aStart: start, end: end, parts: []string{s[start:end]}, latex: true})
		}
	}
	return out
}

func insideEnv(envs []mathEnv, at int) bool {
	for _, e := range envs {
		if at >= e.start && at < e.end {
			return true
		}
	}
	return false
}

// simpleFrac matches \frac{n}{m} with plain numbers.
func simpleFrac(s string, at int) (int, bool) {
	p := at + len(`\frac`)
	for range 2 {
		if p >= len(s) || s[p] != '{' {
			return 0, false
		}
		q := p + 1
		if q < len(s) && s[q] == '-' {
			q++
		}
		d := q
		for q < len(s) && (isDigit(s[q]) || s[q] == '.' || s[q] == ',') {
			q++
		}
		if q == d || q >= len(s) || s[q] != '}' {
			return 0, false
		}
		p = q + 1
	}
	return p, true
}

// afterIs finds "is" (after whitespace) within reach of p and returns where the
// answer may start, after an optional colon.
func afterIs(s string, p, reach int) (int, bool) {
	limit := min(len(s), p+reach+4)
	for k := p; k+3 <= limit; k++ {
		if (s[k] == ' ' || s[k] == '\n' || s[k] == '\t') && strings.HasPrefix(s[k+1:], "is") {
			q := k + 3
			if q < len(s) && isLetter(s[q]) {
				continue
			}
			if q < len(s) && s[q] == ':' {
				q++
			}
			return q, true
		}
	}
	return 0, false
}

func skipSpace(s string, p int) int {
	n := 0
	for p+n < len(s) && (s[p+n] == ' ' || s[p+n] == '\n' || s[p+n] == '\t') {
		n++
	}
	return n
}

func allIndex(s, sub string, b *budget) []int {
	var out []int
	for i := 0; ; {
		k := strings.Index(s[i:], sub)
		if k < 0 || b.step(1) != nil || len(out) > 1000 {
			return out
		}
		out = append(out, i+k)
		i += k + len(sub)
	}
}

// numberAt reads a number at p in Math-Verify's formats: 1,234.5 and 1 234
// (thousands), 12,5 (decimal comma), .5, 12; and a percent after it.
func numberAt(s string, p int) (r *big.Rat, inexact bool, end int, pct bool, ok bool) {
	q := p
	neg := false
	if q < len(s) && s[q] == '-' {
		neg = true
		q++
	}
	ds := q
	for q < len(s) && isDigit(s[q]) {
		q++
	}
	intPart := s[ds:q]
	var digits strings.Builder
	digits.WriteString(intPart)
	if len(intPart) >= 1 && len(intPart) <= 3 && intPart[0] != '0' {
		k := q
		grouped := false
		for k+4 <= len(s) && (s[k] == ',' || s[k] == ' ') && isDigit(s[k+1]) && isDigit(s[k+2]) && isDigit(s[k+3]) && (k+4 == len(s) || !isDigit(s[k+4])) {
			digits.WriteString(s[k+1 : k+4])
			k += 4
			grouped = true
		}
		if grouped {
			q = k
		}
	}
	frac := ""
	if q+1 < len(s) && (s[q] == '.' || s[q] == ',' && !strings.ContainsRune(digits.String(), ',')) && isDigit(s[q+1]) {
		k := q + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		frac = s[q+1 : k]
		q = k
	}
	if digits.Len() == 0 && frac == "" {
		return nil, false, 0, false, false
	}
	str := digits.String()
	if str == "" {
		str = "0"
	}
	if frac != "" {
		str += "." + frac
	}
	if neg {
		str = "-" + str
	}
	r, ok = new(big.Rat).SetString(str)
	if !ok {
		return nil, false, 0, false, false
	}
	end, pct = percentSuffix(s, q)
	return r, frac != "", end, pct, true
}

// numberStart reports whether a number may start at p: at the start, after
// whitespace, "=" or "**", optionally after a currency sign (so "$100" and
// "100m2" are found but "XDY2K" is not).
func numberStart(s string, p int) (int, bool) {
	if p >= len(s) {
		return 0, false
	}
	if p > 0 {
		switch prev := s[p-1]; {
		case prev == ' ' || prev == '\n' || prev == '\t' || prev == '=':
		case prev == '*' && p >= 2 && s[p-2] == '*':
		default:
			return 0, false
		}
	}
	if c := s[p]; !(isDigit(c) || c == '-' || c == '.' || c == '(' || c == '$' || c >= 0x80) {
		return 0, false
	}
	q := p
	for _, c := range []string{"$", "€", "£", "¥", "₹", "₽", "₩"} {
		if strings.HasPrefix(s[q:], c) {
			q += len(c)
			break
		}
	}
	if q >= len(s) || !(isDigit(s[q]) || s[q] == '-' || s[q] == '.' || s[q] == '(') {
		return 0, false
	}
	return q, true
}

const exprChars = "0123456789. +-*×/^()÷"

// exprAt reads an arithmetic expression with at least one operator at p:
// "2/3", "(1/2) * (4/3)".
//
// scanned is where the scan for expression characters stopped. When the expression
// fails for want of an operator, every start inside [p, scanned) fails the same way
// (its text is a suffix of this one), which lets a caller skip them: a long run of
// numbers and spaces is then scanned once, not once per number.
func exprAt(s string, p int) (e string, end int, ok bool, scanned int, noOp bool) {
	q := p
	for q < len(s) {
		if s[q] < 0x80 {
			if !strings.ContainsRune(exprChars, rune(s[q])) || s[q] == '\n' {
				break
			}
			q++
			continue
		}
		if strings.HasPrefix(s[q:], "×") || strings.HasPrefix(s[q:], "÷") {
			q += 2
			continue
		}
		break
	}
	scanned = q
	e = strings.TrimRight(s[p:q], " .+-*/^(×÷")
	for strings.Count(e, ")") > strings.Count(e, "(") && strings.HasSuffix(e, ")") {
		e = e[:len(e)-1]
	}
	if e == "" || !isDigit(e[len(e)-1]) && !strings.HasSuffix(e, ")") {
		return "", 0, false, scanned, false
	}
	hasOp := false
	for i := 1; i < len(e); i++ {
		if strings.ContainsRune("+-*/^×÷", rune(e[i])) {
			hasOp = true
		}
	}
	if !hasOp {
		return "", 0, false, scanned, true
	}
	if !strings.ContainsAny(e, "0123456789") {
		return "", 0, false, scanned, false
	}
	return e, p + len(e), true, scanned, false
}

func exprCandidates(s string, anywhere bool, b *budget) []candidate {
	var out []candidate
	noExprFrom, noExprBefore := 0, 0 // starts in [from, before) have no expression: see exprAt
	add := func(p, prio, start int) (candidate, bool) {
		q, ok := numberStart(s, p)
		if !ok {
			return candidate{}, false
		}
		e, end, ok := "", 0, false
		if q < noExprFrom || q >= noExprBefore {
			var scanned int
			var noOp bool
			if e, end, ok, scanned, noOp = exprAt(s, q); noOp {
				noExprFrom, noExprBefore = q, scanned
			}
		}
		if ok {
			if r, inexact, nend, pct, ok := numberAt(s, q); ok && nend >= end {
				return candidate{prio: prio, start: start, aStart: q, end: nend, parts: []string{s[q:nend]}, number: r, numInexact: inexact, percent: []bool{pct}}, true
			}
			return candidate{prio: prio, start: start, aStart: q, end: end, parts: []string{e}}, true
		}
		if r, inexact, end, pct, ok := numberAt(s, q); ok {
			return candidate{prio: prio, start: start, aStart: q, end: end, parts: []string{strings.TrimSpace(s[q:end])}, number: r, numInexact: inexact, percent: []bool{pct}}, true
		}
		return candidate{}, false
	}
	if anywhere { // every position a number may start at
		for p := 0; p < len(s); p++ {
			if p%16 == 0 && b.step(1) != nil {
				return out
			}
			if c, ok := add(p, prioAnywhere, p); ok {
				out = append(out, c)
				if c.end > p {
					p = c.end - 1
				}
			}
		}
		return out
	}
	lower := asciiLower(s)
	lineEnd := func(p, reach int) int {
		e := min(len(s), p+reach)
		if k := strings.IndexByte(s[p:e], '\n'); k >= 0 {
			return p + k
		}
		return e
	}
	for _, at := range allIndex(lower, "final answer", b) {
		p := at + len("final answer")
		limit := lineEnd(p, 104)
		for k := p; k < limit; k++ {
			if s[k] == ' ' && strings.HasPrefix(s[k+1:], "is") {
				q := k + 3
				if q < len(s) && s[q] == ':' {
					q++
				}
				for q < len(s) && s[q] == ' ' && q+1 < len(s) && s[q+1] == ' ' {
					q++
				}
				if c, ok := add(q, prioFinalAnswer, at); ok {
					if rest := strings.TrimLeft(strings.TrimPrefix(s[c.end:], "."), " "); strings.HasPrefix(rest, "I hope") {
						c.prio = prioFinalAnswerHope
					}
					out = append(out, c)
					break
				}
			}
		}
	}
	for _, at := range allIndex(lower, "answer", b) {
		p := at + len("answer")
		prio := prioAnswer
		if p < len(s) && s[p] == ':' {
			prio = prioAnswerColon
			p++
		}
		// After the last "=" within reach, else the first number.
		limit := lineEnd(p, 100)
		found := false
		if k := strings.LastIndexByte(s[p:limit], '='); k >= 0 {
			q := p + k + 1
			for q < len(s) && s[q] == ' ' {
				q++
			}
			if q > p+k+1 {
				q--
			}
			if c, ok := add(q, prio, at); ok && !followedByEquals(s, c.end) {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			for q := p; q < lineEnd(p, 51); q++ {
				if c, ok := add(q, prio, at); ok && !followedByEquals(s, c.end) {
					out = append(out, c)
					break
				}
			}
		}
	}
	return out
}

func followedByEquals(s string, p int) bool {
	return strings.HasPrefix(strings.TrimLeft(s[p:], " "), "=")
}

// asciiLower lowercases ASCII letters only, so that byte offsets found in the
// result are offsets in s (strings.ToLower may change lengths).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
