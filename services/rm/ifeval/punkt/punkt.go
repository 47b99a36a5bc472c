// Package punkt ports NLTK 3.8's Punkt sentence tokenizer, with the English
// parameters NLTK ships (tokenizers/punkt english.pickle, whose contents equal
// the punkt_tab/english files embedded in data/), and NLTK's word_tokenize
// (Punkt sentences, then the improved Treebank word tokenizer).
//
// IFEval counts sentences with the Punkt English tokenizer and capital words
// with word_tokenize, so both must split exactly as NLTK does. The port follows
// nltk/tokenize/punkt.py: the same word-splitting and period-context rules
// (written as scanners, since they use lookahead that Go's regexp lacks), the
// same two annotation passes and the same boundary realignment.
package punkt

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/internal/py"
)

//go:embed data/*.txt data/*.tab
var dataFS embed.FS

// Orthographic context flags, as in punkt.py.
const (
	orthoBegUC = 1 << 1
	orthoMidUC = 1 << 2
	orthoUnkUC = 1 << 3
	orthoBegLC = 1 << 4
	orthoMidLC = 1 << 5
	orthoUnkLC = 1 << 6
	orthoUC    = orthoBegUC + orthoMidUC + orthoUnkUC
	orthoLC    = orthoBegLC + orthoMidLC + orthoUnkLC
)

// Params are a trained Punkt model's parameters.
type Params struct {
	AbbrevTypes  map[string]bool
	Collocations map[[2]string]bool
	SentStarters map[string]bool
	OrthoContext map[string]int
}

var (
	englishOnce   sync.Once
	englishParams *Params
	englishErr    error
)

// English returns NLTK's English Punkt parameters.
func English() *Params {
	englishOnce.Do(func() { englishParams, englishErr = loadEnglish() })
	if englishErr != nil {
		// The data is embedded at build time; failing to parse it is a build defect.
		panic(fmt.Sprintf("punkt: embedded English parameters: %v", englishErr))
	}
	return englishParams
}

func loadEnglish() (*Params, error) {
	p := &Params{
		AbbrevTypes:  map[string]bool{},
		Collocations: map[[2]string]bool{},
		SentStarters: map[string]bool{},
		OrthoContext: map[string]int{},
	}
	lines := func(name string, each func(line string) error) error {
		b, err := dataFS.ReadFile("data/" + name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if sc.Text() == "" {
				continue
			}
			if err := each(sc.Text()); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return sc.Err()
	}
	if err := lines("abbrev_types.txt", func(l string) error { p.AbbrevTypes[l] = true; return nil }); err != nil {
		return nil, err
	}
	if err := lines("sent_starters.txt", func(l string) error { p.SentStarters[l] = true; return nil }); err != nil {
		return nil, err
	}
	if err := lines("collocations.tab", func(l string) error {
		a, b, ok := strings.Cut(l, "\t")
		if !ok {
			return fmt.Errorf("line %q: want two tab-separated types", l)
		}
		p.Collocations[[2]string{a, b}] = true
		return nil
	}); err != nil {
		return nil, err
	}
	if err := lines("ortho_context.tab", func(l string) error {
		typ, v, ok := strings.Cut(l, "\t")
		if !ok {
			return fmt.Errorf("line %q: want type and flags", l)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("line %q: %w", l, err)
		}
		p.OrthoContext[typ] = n
		return nil
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// token is a PunktToken with its annotations.
type token struct {
	tok         string
	typ         string
	periodFinal bool
	parastart   bool
	linestart   bool
	sentbreak   bool
	abbr        bool
	ellipsis    bool
}

func newToken(tok string) *token {
	return &token{tok: tok, typ: tokenType(tok), periodFinal: strings.HasSuffix(tok, ".")}
}

// tokenType is _get_type: lowercased, with numbers collapsed to ##number##
// (_RE_NUMERIC = ^-?[\.,]?\d[\d,\.-]*\.?$ replaces the whole token).
func tokenType(tok string) string {
	if isNumeric(tok) {
		return "##number##"
	}
	return py.Lower(tok)
}

func isNumeric(tok string) bool {
	rs := []rune(tok)
	i := 0
	if i < len(rs) && rs[i] == '-' {
		i++
	}
	if i < len(rs) && (rs[i] == '.' || rs[i] == ',') {
		i++
	}
	if i >= len(rs) || !py.IsDigit(rs[i]) {
		return false
	}
	i++
	for i < len(rs) && (py.IsDigit(rs[i]) || rs[i] == ',' || rs[i] == '.' || rs[i] == '-') {
		i++
	}
	// [\d,\.-]* already consumed any final '.', so the optional \.? adds nothing.
	return i == len(rs)
}

func (t *token) typeNoPeriod() string {
	if len([]rune(t.typ)) > 1 && strings.HasSuffix(t.typ, ".") {
		return t.typ[:len(t.typ)-1]
	}
	return t.typ
}

func (t *token) typeNoSentPeriod() string {
	if t.sentbreak {
		return t.typeNoPeriod()
	}
	return t.typ
}

func firstRune(s string) rune {
	for _, r := range s {
		return r
	}
	return 0
}

func (t *token) firstUpper() bool { return py.IsUpper(string(firstRune(t.tok))) }
func (t *token) firstLower() bool { return py.IsLower(string(firstRune(t.tok))) }

// isEllipsis is _RE_ELLIPSIS (\.\.+$) matched at the start.
func (t *token) isEllipsis() bool {
	return len(t.tok) >= 2 && strings.Trim(t.tok, ".") == ""
}

// isInitial is _RE_INITIAL ([^\W\d]\.$): one non-digit word character and a period.
func (t *token) isInitial() bool {
	rs := []rune(t.tok)
	return len(rs) == 2 && rs[1] == '.' && py.IsWord(rs[0]) && !py.IsDigit(rs[0])
}

// Tokenizer splits text into sentences with a Punkt model.
type Tokenizer struct {
	params *Params
}

// NewTokenizer returns a sentence tokenizer for params.
func NewTokenizer(p *Params) *Tokenizer { return &Tokenizer{params: p} }

var (
	defaultOnce sync.Once
	defaultTok  *Tokenizer
)

func english() *Tokenizer {
	defaultOnce.Do(func() { defaultTok = NewTokenizer(English()) })
	return defaultTok
}

// Sentences is nltk.sent_tokenize(text) with the English model.
func Sentences(text string) []string { return english().Tokenize(text) }

// CountSentences is len(nltk.sent_tokenize(text)), IFEval's count_sentences.
func CountSentences(text string) int { return len(english().Tokenize(text)) }

// Tokenize is PunktSentenceTokenizer.tokenize(text) with realigned boundaries.
func (tk *Tokenizer) Tokenize(text string) []string {
	rs := []rune(text)
	var out []string
	for _, s := range tk.realign(rs, tk.slices(rs)) {
		out = append(out, string(rs[s[0]:s[1]]))
	}
	return out
}

// SpanTokenize is PunktSentenceTokenizer.span_tokenize(text): each sentence's
// [start, end) in code points (Python string offsets), not bytes.
func (tk *Tokenizer) SpanTokenize(text string) [][2]int {
	rs := []rune(text)
	return tk.realign(rs, tk.slices(rs))
}

// SentenceSpans is SpanTokenize with the English model.
func SentenceSpans(text string) [][2]int { return english().SpanTokenize(text) }

// firstPass is _first_pass_annotation.
func (tk *Tokenizer) firstPass(t *token) {
	switch {
	case t.tok == "." || t.tok == "?" || t.tok == "!":
		t.sentbreak = true
	case t.isEllipsis():
		t.ellipsis = true
	case t.periodFinal && !strings.HasSuffix(t.tok, ".."):
		stem := py.Lower(t.tok[:len(t.tok)-1])
		parts := strings.Split(stem, "-")
		if tk.params.AbbrevTypes[stem] || tk.params.AbbrevTypes[parts[len(parts)-1]] {
			t.abbr = true
		} else {
			t.sentbreak = true
		}
	}
}

// orthoVerdict is the three-valued result of _ortho_heuristic.
type orthoVerdict int

const (
	orthoUnknown orthoVerdict = iota
	orthoTrue
	orthoFalse
)

func (tk *Tokenizer) orthoHeuristic(t *token) orthoVerdict {
	if len(t.tok) == 1 && strings.Contains(";:,.!?", t.tok) {
		return orthoFalse
	}
	ctx := tk.params.OrthoContext[t.typeNoSentPeriod()]
	if t.firstUpper() && ctx&orthoLC != 0 && ctx&orthoMidUC == 0 {
		return orthoTrue
	}
	if t.firstLower() && (ctx&orthoUC != 0 || ctx&orthoBegLC == 0) {
		return orthoFalse
	}
	return orthoUnknown
}

// secondPass is _second_pass_annotation for the pair (t1, t2).
func (tk *Tokenizer) secondPass(t1, t2 *token) {
	if t2 == nil || !t1.periodFinal {
		return
	}
	typ := t1.typeNoPeriod()
	nextTyp := t2.typeNoSentPeriod()
	initial := t1.isInitial()
	if tk.params.Collocations[[2]string{typ, nextTyp}] {
		t1.sentbreak = false
		t1.abbr = true
		return
	}
	if (t1.abbr || t1.ellipsis) && !initial {
		h := tk.orthoHeuristic(t2)
		if h == orthoTrue {
			t1.sentbreak = true
			return
		}
		if t2.firstUpper() && tk.params.SentStarters[nextTyp] {
			t1.sentbreak = true
			return
		}
	}
	if initial || typ == "##number##" {
		h := tk.orthoHeuristic(t2)
		if h == orthoFalse {
			t1.sentbreak = false
			t1.abbr = true
			return
		}
		if h == orthoUnknown && initial && t2.firstUpper() && tk.params.OrthoContext[nextTyp]&orthoLC == 0 {
			t1.sentbreak = false
			t1.abbr = true
		}
	}
}

// annotate runs both passes over tokens.
func (tk *Tokenizer) annotate(tokens []*token) {
	for _, t := range tokens {
		tk.firstPass(t)
	}
	for i, t := range tokens {
		var next *token
		if i+1 < len(tokens) {
			next = tokens[i+1]
		}
		tk.secondPass(t, next)
	}
}

// tokenizeWords is _tokenize_words: Punkt's word split, line by line.
func tokenizeWords(text string) []*token {
	var out []*token
	parastart := false
	for _, line := range strings.Split(text, "\n") {
		if py.Strip(line) == "" {
			parastart = true
			continue
		}
		words := wordSplit([]rune(line))
		for i, w := range words {
			t := newToken(w)
			if i == 0 {
				t.parastart = parastart
				t.linestart = true
				parastart = false
			}
			out = append(out, t)
		}
	}
	return out
}

// containsSentbreak is text_contains_sentbreak: a break on any token but the last.
func (tk *Tokenizer) containsSentbreak(text string) bool {
	tokens := tokenizeWords(text)
	tk.annotate(tokens)
	for i, t := range tokens {
		if t.sentbreak && i+1 < len(tokens) {
			return true
		}
	}
	return false
}

// slices is _slices_from_text, in rune offsets.
func (tk *Tokenizer) slices(rs []rune) [][2]int {
	var out [][2]int
	lastBreak := 0
	for _, c := range potentialEndContexts(rs) {
		if tk.containsSentbreak(c.context) {
			out = append(out, [2]int{lastBreak, c.end})
			if c.nextTokStart >= 0 {
				lastBreak = c.nextTokStart
			} else {
				lastBreak = c.end
			}
		}
	}
	end := len(rs)
	for end > 0 && py.IsSpace(rs[end-1]) {
		end--
	}
	return append(out, [2]int{lastBreak, end})
}

// realign is _realign_boundaries: closing quotes and brackets after a sentence
// end move into the sentence before.
func (tk *Tokenizer) realign(rs []rune, slices [][2]int) [][2]int {
	var out [][2]int
	realign := 0
	nonEmpty := func(s [2]int) bool { return s[0] < s[1] && s[0] < len(rs) }
	for i, s1 := range slices {
		s1[0] += realign
		if i+1 == len(slices) {
			if nonEmpty(s1) {
				out = append(out, s1)
			}
			continue
		}
		s2 := slices[i+1]
		var text2 []rune
		if s2[0] < s2[1] && s2[0] < len(rs) {
			text2 = rs[s2[0]:min(s2[1], len(rs))]
		}
		if kept, end, ok := boundaryRealignment(text2); ok {
			out = append(out, [2]int{s1[0], s2[0] + kept})
			realign = end
		} else {
			realign = 0
			if nonEmpty(s1) {
				out = append(out, s1)
			}
		}
	}
	return out
}

// boundaryRealignment matches re_boundary_realignment,
// ["\')\]}]+?(?:\s+|(?=--)|$) with MULTILINE, at the start of s. kept is the
// length of the closing punctuation, end the length of the whole match.
func boundaryRealignment(s []rune) (kept, end int, ok bool) {
	j := 0
	for {
		if j >= len(s) || !strings.ContainsRune(`"')]}`, s[j]) {
			return 0, 0, false
		}
		j++
		switch {
		case j < len(s) && py.IsSpace(s[j]):
			k := j
			for k < len(s) && py.IsSpace(s[k]) {
				k++
			}
			return j, k, true
		case j+1 < len(s) && s[j] == '-' && s[j+1] == '-':
			return j, j, true
		case j == len(s):
			return j, j, true
		}
	}
}

// endContext is one candidate sentence end found by _match_potential_end_contexts.
type endContext struct {
	end          int // offset just past the sentence-end character
	nextTokStart int // offset of the following token, or -1 when none
	context      string
}

// isNonWord is _re_non_word_chars: (?:[)\";}\]\*:@\'\({\[!?]).
func isNonWord(r rune) bool { return strings.ContainsRune(`)";}]*:@'({[!?`, r) }

// periodContexts finds the matches of period_context_re:
// [.?!](?=(?P<after_tok>NonWord|\s+(?P<next_tok>\S+))).
type periodMatch struct {
	start, end   int
	afterEnd     int // end of after_tok
	nextTokStart int // -1 when after_tok is a non-word character
}

func periodMatches(rs []rune) []periodMatch {
	var out []periodMatch
	for i, r := range rs {
		if r != '.' && r != '?' && r != '!' {
			continue
		}
		j := i + 1
		if j < len(rs) && isNonWord(rs[j]) {
			out = append(out, periodMatch{start: i, end: j, afterEnd: j + 1, nextTokStart: -1})
			continue
		}
		k := j
		for k < len(rs) && py.IsSpace(rs[k]) {
			k++
		}
		if k == j || k >= len(rs) {
			continue
		}
		e := k
		for e < len(rs) && !py.IsSpace(rs[e]) {
			e++
		}
		out = append(out, periodMatch{start: i, end: j, afterEnd: e, nextTokStart: k})
	}
	return out
}

// lastWhitespaceIndex is _get_last_whitespace_index: the last ASCII whitespace
// (Python's string.whitespace), or 0 when there is none.
func lastWhitespaceIndex(rs []rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if strings.ContainsRune(" \t\n\r\v\f", rs[i]) {
			return i
		}
	}
	return 0
}

// potentialEndContexts is _match_potential_end_contexts: each candidate end
// with the text from the word before it through the token after it, where a
// run of candidates inside one word keeps only the last.
func potentialEndContexts(rs []rune) []endContext {
	var out []endContext
	prevStart, prevStop := 0, 0
	var prev *periodMatch
	emit := func(m *periodMatch, start, stop int) {
		ctx := string(rs[start:stop]) + string(rs[m.start:m.afterEnd])
		out = append(out, endContext{end: m.end, nextTokStart: m.nextTokStart, context: ctx})
	}
	matches := periodMatches(rs)
	for i := range matches {
		m := &matches[i]
		before := rs[prevStop:m.start]
		idx := lastWhitespaceIndex(before)
		if idx != 0 {
			idx += prevStop + 1
		} else {
			idx = prevStart
		}
		if prev != nil && prevStop <= idx {
			emit(prev, prevStart, prevStop)
		}
		prev = m
		prevStart, prevStop = idx, m.start
	}
	if prev != nil {
		emit(prev, prevStart, prevStop)
	}
	return out
}

// wordSplit is PunktLanguageVars.word_tokenize on one line: findall of
// MultiChar | (?=WordStart)\S+?(?=end of word) | \S.
func wordSplit(rs []rune) []string {
	var out []string
	for i := 0; i < len(rs); {
		if n := multiChar(rs, i); n > 0 {
			out = append(out, string(rs[i:i+n]))
			i += n
			continue
		}
		if py.IsSpace(rs[i]) {
			i++
			continue
		}
		if isWordStart(rs[i]) {
			e := i + 1
			for !wordEnds(rs, e) {
				e++
			}
			out = append(out, string(rs[i:e]))
			i = e
			continue
		}
		out = append(out, string(rs[i]))
		i++
	}
	return out
}

// isWordStart is _re_word_start: [^\(\"\`{\[:;&\#\*@\)}\]\-,].
func isWordStart(r rune) bool { return !strings.ContainsRune("(\"`{[:;&#*@)}]-,", r) }

// wordEnds is the lookahead that ends a word at offset e:
// \s | $ | NonWord | MultiChar | ,(?=$|\s|NonWord|MultiChar).
func wordEnds(rs []rune, e int) bool {
	if e >= len(rs) || py.IsSpace(rs[e]) || isNonWord(rs[e]) || multiChar(rs, e) > 0 {
		return true
	}
	if rs[e] == ',' {
		f := e + 1
		return f >= len(rs) || py.IsSpace(rs[f]) || isNonWord(rs[f]) || multiChar(rs, f) > 0
	}
	return false
}

// multiChar is the length of _re_multi_char_punct at i,
// (?:\-{2,}|\.{2,}|(?:\.\s){2,}\.), or 0 when it does not match.
func multiChar(rs []rune, i int) int {
	if i+1 >= len(rs) {
		return 0
	}
	if rs[i] == '-' && rs[i+1] == '-' {
		j := i
		for j < len(rs) && rs[j] == '-' {
			j++
		}
		return j - i
	}
	if rs[i] != '.' {
		return 0
	}
	if rs[i+1] == '.' {
		j := i
		for j < len(rs) && rs[j] == '.' {
			j++
		}
		return j - i
	}
	// (?:\.\s){2,}\. with backtracking: k greedy repetitions, then a period.
	k := 0
	for j := i; j+1 < len(rs) && rs[j] == '.' && py.IsSpace(rs[j+1]); j += 2 {
		k++
	}
	after := i + 2*k
	if k >= 2 && after < len(rs) && rs[after] == '.' {
		return 2*k + 1
	}
	if k >= 3 {
		return 2*k - 1
	}
	return 0
}
