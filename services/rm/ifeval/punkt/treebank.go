package punkt

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/internal/py"
)

// WordTokenize is nltk.word_tokenize(text): Punkt English sentences, each split
// by NLTKWordTokenizer (the improved Treebank tokenizer).
func WordTokenize(text string) []string {
	var out []string
	for _, s := range Sentences(text) {
		out = append(out, TreebankTokenize(s)...)
	}
	return out
}

// The substitutions of NLTKWordTokenizer (nltk/tokenize/destructive.py), in
// order. Go's regexp is slow on these unanchored patterns, so the frequent ones
// are hand-written scanners with the same leftmost, non-overlapping semantics;
// treebank_test.go checks each against the regex it replaces. The rest are
// skipped when their trigger characters are absent.
var (
	reOpenQuotes = regexp.MustCompile("([«“‘„]|[`]+)")
	reEllipsis   = regexp.MustCompile(`\.{2,}`)
	closeQuotes  = strings.NewReplacer("»", " » ", "”", " ” ", "’", " ’ ")
	punctSymbols = strings.NewReplacer(";", " ; ", "@", " @ ", "#", " # ", "$", " $ ", "%", " % ", "&", " & ")
	questionMark = strings.NewReplacer("?", " ? ", "!", " ! ")
	parens       = strings.NewReplacer("[", " [ ", "]", " ] ", "(", " ( ", ")", " ) ", "{", " { ", "}", " } ", "<", " < ", ">", " > ")
)

// contraction is one of MacIntyre's contractions, (?i)\b(first)(second)\b,
// split into " first second ".
type contraction struct {
	re *regexp.Regexp
	// leadingSpace: the pattern starts with a literal space instead of \b.
	leadingSpace bool
	// spaceAfter: the pattern ends with (?=\s) instead of \b.
	spaceAfter bool
	// literal is the letters the pattern needs, lowercased, for a quick pre-check.
	literal string
}

var contractions = []contraction{
	{re: regexp.MustCompile(`(?i)(can)(not)`), literal: "cannot"},
	{re: regexp.MustCompile(`(?i)(d)('ye)`), literal: "d'ye"},
	{re: regexp.MustCompile(`(?i)(gim)(me)`), literal: "gimme"},
	{re: regexp.MustCompile(`(?i)(gon)(na)`), literal: "gonna"},
	{re: regexp.MustCompile(`(?i)(got)(ta)`), literal: "gotta"},
	{re: regexp.MustCompile(`(?i)(lem)(me)`), literal: "lemme"},
	{re: regexp.MustCompile(`(?i)(more)('n)`), literal: "more'n"},
	{re: regexp.MustCompile(`(?i)(wan)(na)`), spaceAfter: true, literal: "wanna"},
	{re: regexp.MustCompile(`(?i) ('t)(is)`), leadingSpace: true, literal: "'tis"},
	{re: regexp.MustCompile(`(?i) ('t)(was)`), leadingSpace: true, literal: "'twas"},
}

// TreebankTokenize is NLTKWordTokenizer().tokenize(text).
func TreebankTokenize(text string) []string {
	// STARTING_QUOTES
	if strings.ContainsAny(text, "«“‘„`") {
		text = reOpenQuotes.ReplaceAllString(text, " $1 ")
	}
	if strings.HasPrefix(text, `"`) {
		text = "``" + text[1:]
	}
	text = strings.ReplaceAll(text, "``", " `` ")
	text = openingDoubleQuotes(text)
	text = splitQuoteBeforeLetter(text)
	// PUNCTUATION
	text = finalPeriod(text, `])}>"'»”’ `, true)
	text = splitColonComma(text)
	if n := len(text); n > 0 && (text[n-1] == ':' || text[n-1] == ',') {
		text = text[:n-1] + " " + text[n-1:] + " "
	}
	if strings.Contains(text, "..") {
		text = reEllipsis.ReplaceAllString(text, " $0 ")
	}
	text = punctSymbols.Replace(text)
	text = finalPeriod(text, `])}>"'`, false)
	text = questionMark.Replace(text)
	text = splitQuoteSpace(text)
	text = strings.ReplaceAll(text, "*", " * ")
	// PARENS_BRACKETS, DOUBLE_DASHES
	text = parens.Replace(text)
	text = strings.ReplaceAll(text, "--", " -- ")
	text = " " + text + " "
	// ENDING_QUOTES
	text = closeQuotes.Replace(text)
	text = strings.ReplaceAll(text, "''", " '' ")
	text = strings.ReplaceAll(text, `"`, " '' ")
	text = splitClitics(text, []string{"'s", "'S", "'m", "'M", "'d", "'D", "'"})
	text = splitClitics(text, []string{"'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"})
	// CONTRACTIONS2, CONTRACTIONS3, tried only when their letters occur (the
	// splits only add spaces, so they never create the letters).
	lower := strings.ToLower(text)
	// ſ and the Kelvin sign fold to s and k under (?i) but not under ToLower.
	folds := strings.ContainsAny(text, "\u017f\u212a")
	for _, c := range contractions {
		if folds || strings.Contains(lower, c.literal) {
			text = c.apply(text)
		}
	}
	return py.Fields(text)
}

// openingDoubleQuotes is ([ \(\[{<])(\"|\'{2}) -> "\1 “ ".
func openingDoubleQuotes(s string) string {
	if !strings.Contains(s, `"`) && !strings.Contains(s, "''") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(" ([{<", s[i]) >= 0 && i+1 < len(s) {
			n := 0
			switch {
			case s[i+1] == '"':
				n = 1
			case strings.HasPrefix(s[i+1:], "''"):
				n = 2
			}
			if n > 0 {
				b.WriteByte(s[i])
				b.WriteString(" `` ")
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// finalPeriod is ([^\.])(\.)([CLASS]*)\s*$ -> "\1 \2 \3 " (spaced) or
// "\1 \2\3 ": the text's last period, when only closing punctuation and
// whitespace follow it and no period precedes it.
func finalPeriod(s, class string, spaced bool) string {
	p := strings.LastIndexByte(s, '.')
	if p < 1 || s[p-1] == '.' {
		return s
	}
	suffix := s[p+1:]
	// The class run is greedy, then backs off until only whitespace is left.
	run := 0
	for run < len(suffix) {
		r, size := utf8.DecodeRuneInString(suffix[run:])
		if !strings.ContainsRune(class, r) {
			break
		}
		run += size
	}
	for strings.TrimFunc(suffix[run:], py.IsSpace) != "" {
		if run == 0 {
			return s
		}
		_, size := utf8.DecodeLastRuneInString(suffix[:run])
		run -= size
	}
	if spaced {
		return s[:p] + " . " + suffix[:run] + " "
	}
	return s[:p] + " ." + suffix[:run] + " "
}

// splitColonComma is ([:,])([^\d]) -> " \1 \2": a colon or comma not followed
// by a digit is split off (the character after it is consumed by the match).
func splitColonComma(s string) string {
	if !strings.ContainsAny(s, ":,") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if (c == ':' || c == ',') && i+1 < len(s) {
			r, size := utf8.DecodeRuneInString(s[i+1:])
			if !py.IsDigit(r) {
				b.WriteByte(' ')
				b.WriteByte(c)
				b.WriteByte(' ')
				b.WriteString(s[i+1 : i+1+size])
				i += 1 + size
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// splitQuoteSpace is ([^'])' -> "\1 ' ": the match consumes the character
// before the quote, so a character already consumed cannot start a match.
func splitQuoteSpace(s string) string {
	if !strings.Contains(s, "' ") {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is written
	for i := 0; i < len(s); {
		q := strings.Index(s[i:], "' ")
		if q < 0 {
			break
		}
		q += i
		if q > 0 {
			_, size := utf8.DecodeLastRuneInString(s[:q])
			if q-size >= last && s[q-1] != '\'' {
				b.WriteString(s[last:q])
				b.WriteString(" ' ")
				last = q + 2
				i = last
				continue
			}
		}
		i = q + 1
	}
	b.WriteString(s[last:])
	return b.String()
}

// splitClitics is ([^' ])(ALT1|ALT2|...)<space> -> "\1 \2 ": a clitic after a
// character that is neither a quote nor a space, and before a space, is split
// off; alternatives are tried in order.
func splitClitics(s string, alts []string) string {
	if !strings.Contains(s, "'") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\'' || r == ' ' {
			i += size
			continue
		}
		rest := s[i+size:]
		matched := ""
		for _, a := range alts {
			if strings.HasPrefix(rest, a+" ") {
				matched = a
				break
			}
		}
		if matched == "" {
			i += size
			continue
		}
		b.WriteString(s[last : i+size])
		b.WriteString(" " + matched + " ")
		last = i + size + len(matched) + 1
		i = last
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// splitQuoteBeforeLetter is (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2": a
// quote before a one-character word that is not a clitic gets a space.
func splitQuoteBeforeLetter(s string) string {
	if !strings.Contains(s, "'") {
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\'' && i+1 < len(rs) && py.IsWord(rs[i+1]) &&
			(i+2 == len(rs) || !py.IsWord(rs[i+2])) &&
			!strings.ContainsRune("mtsdnMTSDN", rs[i+1]) {
			b.WriteString("' ")
			b.WriteRune(rs[i+1])
			i++
			continue
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

// apply replaces every match whose ends satisfy the Unicode word-boundary (or
// following-space) condition with " first second ", scanning like re.sub.
func (c contraction) apply(s string) string {
	var b strings.Builder
	last := 0
	for pos := 0; pos < len(s); {
		m := c.re.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		for k := range m {
			m[k] += pos
		}
		start, end := m[0], m[1]
		ok := c.leadingSpace || wordBoundary(s, start)
		if ok {
			if c.spaceAfter {
				r, _ := utf8.DecodeRuneInString(s[end:])
				ok = end < len(s) && py.IsSpace(r)
			} else {
				ok = wordBoundary(s, end)
			}
		}
		if !ok {
			_, size := utf8.DecodeRuneInString(s[start:])
			pos = start + max(size, 1)
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(" " + s[m[2]:m[3]] + " " + s[m[4]:m[5]] + " ")
		last, pos = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// wordBoundary is Python's Unicode \b at byte offset i.
func wordBoundary(s string, i int) bool {
	before, after := false, false
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		before = py.IsWord(r)
	}
	if i < len(s) {
		r, _ := utf8.DecodeRuneInString(s[i:])
		after = py.IsWord(r)
	}
	return before != after
}
