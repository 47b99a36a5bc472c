package verify

import "strings"

// A hedge is an answer that offers alternatives: "3 or 5", "either $3$ or
// possibly $5$", "maybe 3 or \boxed{5}", "\boxed{B} or \boxed{C}", "3, 5, or 7".
// Extraction keeps the alternatives beside the answer it found, so the
// prediction becomes the list of everything it offered; the comparison then
// rejects a list that offers more than the gold has (reason "hedge").

// orFillers may follow "or" before the alternative: "or possibly 5".
var orFillers = map[string]bool{
	"possibly": true, "maybe": true, "perhaps": true, "alternatively": true, "else": true,
	"potentially": true, "equivalently": true, "rather": true, "even": true, "also": true,
	"simply": true, "just": true, "it": true, "is": true, "could": true, "might": true, "be": true,
	"approximately": true, "about": true, "roughly": true, "around": true, "nearly": true, "exactly": true,
}

// maxAlternatives bounds the answers joined to one; a longer run is a list of
// data, not a hedge, and costs nothing more to scan.
const maxAlternatives = 8

// joinAlternatives widens the answer n (written at [start, end) of s) with the
// answers joined to it as alternatives. letters reads multiple-choice letters
// rather than numbers. It returns n and raw unchanged when there are none.
func joinAlternatives(s string, start, end int, n *node, raw string, letters bool, b *budget) (*node, string) {
	if letters && end < len(s) && s[end] == ')' && start > 0 && s[start-1] == '(' {
		start, end = start-1, end+1 // "(B)"
	}
	var before, after []*node
	var rawBefore, rawAfter []string
	add := func(text string, into *[]*node, raws *[]string) bool {
		if letters {
			*into, *raws = append(*into, &node{k: kSym, name: text}), append(*raws, text)
			return true
		}
		m, err := parseAnswer(text, b, false)
		if err != nil {
			if b.err != nil || !strings.ContainsAny(text, `\0123456789`) {
				return false
			}
			// Math that does not parse is still something offered.
			m = &node{k: kText, name: strings.TrimSpace(text)}
		}
		*into, *raws = append(*into, m), append(*raws, strings.TrimSpace(text))
		return true
	}
	// Forward: "3 or 5", "3, 5, or 7" (a chain of commas counts only with an "or"
	// in it, and each element must end its clause: "5, and 3 is wrong" is not one).
	sawOr := false
	for p := end; len(after) < maxAlternatives; {
		q, or, ok := connectiveAfter(s, p)
		if !ok {
			break
		}
		text, tend, ok := answerAt(s, q, letters)
		if !ok || !or && !endsClause(s, tend) || !add(text, &after, &rawAfter) {
			break
		}
		sawOr = sawOr || or
		p = tend
	}
	if !sawOr {
		after, rawAfter = nil, nil
	}
	// Backward: "maybe 3 or \boxed{5}", "x = 2 or x = -2" (joined by "or" only).
	for p := start; len(before) < maxAlternatives; {
		q, ok := connectiveBefore(s, p)
		if !ok {
			break
		}
		text, tstart, ok := answerEndingAt(s, q, letters)
		if !ok || !add(text, &before, &rawBefore) {
			break
		}
		p = tstart
	}
	if len(before) == 0 && len(after) == 0 {
		return n, raw
	}
	var elems []*node
	var raws []string
	for i := len(before) - 1; i >= 0; i-- {
		elems, raws = append(elems, before[i]), append(raws, rawBefore[i])
	}
	if n.k == kSet {
		elems = append(elems, n.args...)
	} else {
		elems = append(elems, n)
	}
	raws = append(raws, raw)
	elems, raws = append(elems, after...), append(raws, rawAfter...)
	return &node{k: kSet, args: elems}, strings.Join(raws, " or ")
}

// connectiveAfter reads what joins an answer ending at p to the next one: "or"
// (after an optional comma, period or opening parenthesis, with fillers such as
// "possibly" after it, or in \text{ or }), or a bare comma or "and". It returns
// where the next answer may start.
func connectiveAfter(s string, p int) (next int, or, ok bool) {
	p = skipBlank(s, p)
	punct := byte(0)
	if p < len(s) && strings.IndexByte(",;.(", s[p]) >= 0 {
		punct = s[p]
		p = skipBlank(s, p+1)
	}
	if words, e, ok := textArg(s, p); ok { // \text{ or }
		switch first, rest, _ := strings.Cut(words, " "); {
		case first == "or" && allFillers(rest):
			return skipBlank(s, e), true, true
		case first == "and" && rest == "":
			return skipBlank(s, e), false, true
		}
		return 0, false, false
	}
	if q, ok := wordAt(s, p, "or"); ok {
		return skipFillers(s, q), true, true
	}
	if q, ok := wordAt(s, p, "either"); ok && punct == 0 {
		return connectiveAfter(s, q)
	}
	if q, ok := wordAt(s, p, "and"); ok && (punct == 0 || punct == ',') {
		return skipBlank(s, q), false, true
	}
	if punct == ',' {
		return p, false, true
	}
	return 0, false, false
}

// connectiveBefore reads "or" (with fillers after it, a comma before it, or in
// \text{ or }) ending where an answer starts at p, and an assignment "x ="
// between them; it returns where the previous answer must end.
func connectiveBefore(s string, p int) (int, bool) {
	p = skipBlankBack(s, p)
	// "x = 2 or x = -2": the name and "=" before the answer belong to it.
	if p > 0 && s[p-1] == '=' {
		q := skipBlankBack(s, p-1)
		k := q
		for k > 0 && q-k < 4 && (isLetter(s[k-1]) || isDigit(s[k-1]) || s[k-1] == '_') {
			k--
		}
		if k < q && isLetter(s[k]) && (k == 0 || !isLetter(s[k-1])) {
			p = skipBlankBack(s, k)
		}
	}
	if p > 0 && s[p-1] == '}' {
		if k := strings.LastIndex(s[max(0, p-40):p], `\text{`); k >= 0 {
			k += max(0, p-40)
			if words, e, ok := textArg(s, k); ok && e == p {
				if first, rest, _ := strings.Cut(words, " "); first == "or" && allFillers(rest) {
					return commaBefore(s, k), true
				}
				return 0, false
			}
		}
	}
	for range 3 { // "or possibly", "or it could be"
		start := wordStart(s, p)
		if !orFillers[asciiLower(s[start:p])] {
			break
		}
		p = skipBlankBack(s, start)
	}
	if p < 2 || !strings.EqualFold(s[p-2:p], "or") || p > 2 && isLetter(s[p-3]) {
		return 0, false
	}
	return commaBefore(s, p-2), true
}

// commaBefore steps back over blanks and a comma or semicolon before p.
func commaBefore(s string, p int) int {
	p = skipBlankBack(s, p)
	if p > 0 && (s[p-1] == ',' || s[p-1] == ';') {
		p = skipBlankBack(s, p-1)
	}
	return p
}

// textArg reads \text{...} (or \textrm, \mbox) at p holding only words: its
// words lowercased and single-spaced, and where it ends.
func textArg(s string, p int) (string, int, bool) {
	for _, cmd := range []string{`\text`, `\textrm`, `\mbox`} {
		if !strings.HasPrefix(s[p:], cmd+"{") {
			continue
		}
		arg, e, ok := braceArg(s, p+len(cmd))
		if !ok {
			return "", 0, false
		}
		for i := 0; i < len(arg); i++ {
			if !isLetter(arg[i]) && arg[i] != ' ' && arg[i] != ',' {
				return "", 0, false
			}
		}
		return strings.Join(strings.Fields(strings.ReplaceAll(asciiLower(arg), ",", " ")), " "), e, true
	}
	return "", 0, false
}

func allFillers(words string) bool {
	for _, w := range strings.Fields(words) {
		if !orFillers[w] {
			return false
		}
	}
	return true
}

// wordStart is where the word ending at p starts (p when none does).
func wordStart(s string, p int) int {
	k := p
	for k > 0 && isLetter(s[k-1]) {
		k--
	}
	return k
}

// wordAt reports whether the word w (any case) stands at p, and where it ends.
func wordAt(s string, p int, w string) (int, bool) {
	e := p + len(w)
	if e > len(s) || !strings.EqualFold(s[p:e], w) || e < len(s) && isLetter(s[e]) {
		return 0, false
	}
	return e, true
}

func skipFillers(s string, p int) int {
	p = skipBlank(s, p)
	for range 3 {
		e := p
		for e < len(s) && isLetter(s[e]) {
			e++
		}
		if e == p || !orFillers[asciiLower(s[p:e])] {
			break
		}
		p = skipBlank(s, e)
		if p < len(s) && s[p] == ',' {
			p = skipBlank(s, p+1)
		}
	}
	return p
}

// skipBlank skips spaces and the typesetting that carries no value between two
// answers in prose (\quad, \text{ }, "**").
func skipBlank(s string, p int) int {
	for p < len(s) {
		switch {
		case s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r':
			p++
		case strings.HasPrefix(s[p:], "**"):
			p += 2
		case strings.HasPrefix(s[p:], `\quad`):
			p += len(`\quad`)
		case strings.HasPrefix(s[p:], `\,`) || strings.HasPrefix(s[p:], `\ `):
			p += 2
		default:
			return p
		}
	}
	return p
}

func skipBlankBack(s string, p int) int {
	for p > 0 {
		switch {
		case s[p-1] == ' ' || s[p-1] == '\t' || s[p-1] == '\n' || s[p-1] == '\r':
			p--
		case p >= 2 && s[p-2:p] == "**":
			p -= 2
		default:
			return p
		}
	}
	return p
}

// endsClause reports whether an element of a comma list ends its clause at p:
// the end, a line, punctuation or the next connective, not more words.
func endsClause(s string, p int) bool {
	p = skipBlank(s, p)
	if p >= len(s) || strings.IndexByte(",;.!?)", s[p]) >= 0 {
		return true
	}
	_, or := wordAt(s, p, "or")
	_, and := wordAt(s, p, "and")
	return or || and
}

// answerAt reads an answer starting at p: a box, a math environment, a
// multiple-choice letter (letters), or a number or arithmetic in prose, after
// an optional "x =". It returns the answer's text and where it ends.
func answerAt(s string, p int, letters bool) (string, int, bool) {
	if p >= len(s) {
		return "", 0, false
	}
	if letters {
		q := p
		if s[q] == '(' {
			q++
		}
		if q < len(s) && s[q] >= 'A' && s[q] <= 'J' {
			e := q + 1
			if e < len(s) && s[e] == ')' {
				e++
			}
			// "or I think": I and A are words when more words follow.
			if e < len(s) && isLetter(s[e]) || (s[q] == 'I' || s[q] == 'A') && !endsClause(s, e) {
				return "", 0, false
			}
			return s[q : q+1], e, true
		}
		if strings.HasPrefix(s[p:], `\boxed`) || strings.HasPrefix(s[p:], `\fbox`) {
			if bx := findBoxes(s[p:]); len(bx) > 0 && bx[0].start == 0 {
				if l := letterAnswer(stripTextCommand(bx[0].content)); l != "" && l[0] >= 'A' && l[0] <= 'J' {
					return l, p + bx[0].end, true
				}
			}
		}
		return "", 0, false
	}
	switch {
	case strings.HasPrefix(s[p:], `\boxed`) || strings.HasPrefix(s[p:], `\fbox`):
		if bx := findBoxes(s[p:]); len(bx) > 0 && bx[0].start == 0 {
			return bx[0].content, p + bx[0].end, true
		}
		return "", 0, false
	case strings.HasPrefix(s[p:], "$$"):
		if k := indexUnescaped(s, p+2, "$$", false); k > p+2 {
			return s[p+2 : k], k + 2, true
		}
		return "", 0, false
	case s[p] == '$':
		if k := indexUnescaped(s, p+1, "$", true); k > p+1 {
			return s[p+1 : k], k + 1, true
		}
		return "", 0, false
	case strings.HasPrefix(s[p:], `\(`):
		if k := strings.Index(s[p+2:], `\)`); k > 0 && !strings.Contains(s[p+2:p+2+k], "\n") {
			return s[p+2 : p+2+k], p + 2 + k + 2, true
		}
		return "", 0, false
	case s[p] == '\\' || s[p] == '(':
		// \sqrt{2}, (1, 2): to the end of the clause, brackets balanced.
		if e := clauseEnd(s, p); e > p {
			return s[p:e], e, true
		}
		return "", 0, false
	}
	if v, e, ok := numberWordAt(s, p); ok { // "3 or five"
		return v, e, true
	}
	if isLetter(s[p]) && (p+1 == len(s) || !isLetter(s[p+1])) && endsClause(s, p+1) && s[p] != 'a' && s[p] != 'A' && s[p] != 'I' {
		return s[p : p+1], p + 1, true // "3 or n"
	}
	// "x = 5": the name goes with the value.
	q := p
	for q < len(s) && q-p < 4 && (isLetter(s[q]) || q > p && (isDigit(s[q]) || s[q] == '_')) {
		q++
	}
	if q > p && q-p < 4 {
		if r := skipBlank(s, q); r < len(s) && s[r] == '=' {
			p = skipBlank(s, r+1)
		}
	}
	if p >= len(s) || !(isDigit(s[p]) || s[p] == '-' || s[p] == '.' && p+1 < len(s) && isDigit(s[p+1])) {
		return "", 0, false
	}
	e, end, ok, _, _ := exprAt(s, p)
	_, _, nend, _, numOK := numberAt(s, p)
	switch {
	case numOK && nend >= end:
		return strings.TrimSpace(s[p:nend]), nend, true
	case ok:
		return e, end, true
	}
	return "", 0, false
}

// answerEndingAt reads an answer that ends at p: a box, a math environment, a
// letter (letters), or a number in prose. It returns its text and start.
func answerEndingAt(s string, p int, letters bool) (string, int, bool) {
	if p <= 0 {
		return "", 0, false
	}
	switch c := s[p-1]; {
	case c == '}':
		depth := 0
		for k := p - 1; k >= 0; k-- {
			switch s[k] {
			case '}':
				depth++
			case '{':
				depth--
			}
			if depth != 0 {
				continue
			}
			head := strings.TrimRight(s[:k], " ")
			for _, cmd := range []string{`\boxed`, `\fbox`} {
				if strings.HasSuffix(head, cmd) {
					content := s[k+1 : p-1]
					if letters {
						l := letterAnswer(stripTextCommand(content))
						if l == "" || l[0] < 'A' || l[0] > 'J' {
							return "", 0, false
						}
						return l, len(head) - len(cmd), true
					}
					return content, len(head) - len(cmd), true
				}
			}
			break
		}
		if letters {
			return "", 0, false
		}
		return mathRunEndingAt(s, p)
	case c == '$' && !letters:
		if p >= 2 && s[p-2] == '$' {
			if k := strings.LastIndex(s[:p-2], "$$"); k >= 0 && k+2 < p-2 {
				return s[k+2 : p-2], k, true
			}
			return "", 0, false
		}
		k := strings.LastIndexByte(s[:p-1], '$')
		if k < 0 || k+1 >= p-1 || strings.Contains(s[k:p], "\n") {
			return "", 0, false
		}
		return s[k+1 : p-1], k, true
	case c == ')' && p >= 2 && s[p-2] == '\\' && !letters:
		k := strings.LastIndex(s[:p-2], `\(`)
		if k < 0 || strings.Contains(s[k:p], "\n") {
			return "", 0, false
		}
		return s[k+2 : p-2], k, true
	case c == ')' && !letters:
		return mathRunEndingAt(s, p)
	case letters:
		q := p
		if c == ')' {
			q--
		}
		if q < 1 || s[q-1] < 'A' || s[q-1] > 'J' || q >= 2 && isLetter(s[q-2]) {
			return "", 0, false
		}
		start := q - 1
		if c == ')' {
			if start < 1 || s[start-1] != '(' {
				return "", 0, false
			}
			start--
		}
		return s[q-1 : q], start, true
	case isDigit(c) || c == '.':
		k := p
		for k > 0 && (isDigit(s[k-1]) || s[k-1] == '.' || s[k-1] == '/' || s[k-1] == ',' && k >= 2 && isDigit(s[k-2])) {
			k--
		}
		if k > 0 && s[k-1] == '-' {
			k--
		}
		if k > 0 && (isLetter(s[k-1]) || s[k-1] == '^' || s[k-1] == '_' || s[k-1] == '\\') {
			return "", 0, false // a subscript, an exponent, "x2"
		}
		return s[k:p], k, true
	}
	return "", 0, false
}

// clauseEnd is where the math that starts at p ends: at a blank line, a "$",
// or a period, comma or semicolon outside brackets followed by a blank or the
// end (at most 200 bytes on).
func clauseEnd(s string, p int) int {
	depth := 0
	e := p
	for ; e < len(s) && e-p < 200; e++ {
		switch c := s[e]; c {
		case '{', '(', '[':
			depth++
		case '}', ')', ']':
			depth--
			if depth < 0 {
				return e
			}
		case '\n', '$':
			return e
		case '.', ',', ';':
			if depth == 0 && (e+1 == len(s) || s[e+1] == ' ' || s[e+1] == '\n') {
				return e
			}
		case '\\':
			e++
		}
	}
	if depth != 0 {
		return p
	}
	return min(e, len(s))
}

// mathRunEndingAt reads the math that ends at p without blanks in it
// (\sqrt{2}, 2\sqrt{3}, (1,2)): from the blank or "$" before it.
func mathRunEndingAt(s string, p int) (string, int, bool) {
	k := p
	for k > 0 && p-k < 200 && !strings.ContainsRune(" \t\n$", rune(s[k-1])) {
		k--
	}
	run := s[k:p]
	if !strings.ContainsAny(run, "0123456789\\") {
		return "", 0, false
	}
	return run, k, true
}

// numberWords are the numbers an alternative may be spelled as.
var numberWords = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
	"thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
	"eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
	"fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100",
}

// numberWordAt reads a number spelled as a word at p ("five").
func numberWordAt(s string, p int) (string, int, bool) {
	e := p
	for e < len(s) && isLetter(s[e]) {
		e++
	}
	v, ok := numberWords[asciiLower(s[p:e])]
	return v, e, ok
}
