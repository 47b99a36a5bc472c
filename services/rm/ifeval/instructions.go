package ifeval

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/internal/py"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/langdetect"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/punkt"
)

// checker reports whether one response variant follows an instruction.
type checker func(response string) bool

// spec is one instruction type: the kwargs its build_description accepts and
// how to build its checker from them.
type spec struct {
	kwargs []string
	build  func(a args) (checker, error)
}

var registry = map[string]spec{
	"keywords:existence":                            {[]string{"keywords"}, buildKeywordExistence},
	"keywords:frequency":                            {[]string{"keyword", "frequency", "relation"}, buildKeywordFrequency},
	"keywords:forbidden_words":                      {[]string{"forbidden_words"}, buildForbiddenWords},
	"keywords:letter_frequency":                     {[]string{"letter", "let_frequency", "let_relation"}, buildLetterFrequency},
	"language:response_language":                    {[]string{"language"}, buildResponseLanguage},
	"length_constraints:number_sentences":           {[]string{"num_sentences", "relation"}, buildNumberSentences},
	"length_constraints:number_paragraphs":          {[]string{"num_paragraphs"}, buildNumberParagraphs},
	"length_constraints:number_words":               {[]string{"num_words", "relation"}, buildNumberWords},
	"length_constraints:nth_paragraph_first_word":   {[]string{"num_paragraphs", "nth_paragraph", "first_word"}, buildNthParagraphFirstWord},
	"detectable_content:number_placeholders":        {[]string{"num_placeholders"}, buildPlaceholders},
	"detectable_content:postscript":                 {[]string{"postscript_marker"}, buildPostscript},
	"detectable_format:number_bullet_lists":         {[]string{"num_bullets"}, buildBulletLists},
	"detectable_format:constrained_response":        {nil, buildConstrainedResponse},
	"detectable_format:number_highlighted_sections": {[]string{"num_highlights"}, buildHighlightedSections},
	"detectable_format:multiple_sections":           {[]string{"section_spliter", "num_sections"}, buildMultipleSections},
	"detectable_format:json_format":                 {nil, buildJSONFormat},
	"detectable_format:title":                       {nil, buildTitle},
	"combination:two_responses":                     {nil, buildTwoResponses},
	"combination:repeat_prompt":                     {[]string{"prompt_to_repeat"}, buildRepeatPrompt},
	"startend:end_checker":                          {[]string{"end_phrase"}, buildEndChecker},
	"startend:quotation":                            {nil, buildQuotation},
	"change_case:capital_word_frequency":            {[]string{"capital_frequency", "capital_relation"}, buildCapitalWordFrequency},
	"change_case:english_capital":                   {nil, buildEnglishCapital},
	"change_case:english_lowercase":                 {nil, buildEnglishLowercase},
	"punctuation:no_comma":                          {nil, buildNoComma},
}

func build(id string, kwargs map[string]any) (checker, error) {
	s, ok := registry[id]
	if !ok {
		return nil, fmt.Errorf("unknown instruction id %q", id)
	}
	a, err := newArgs(kwargs, s.kwargs)
	if err != nil {
		return nil, err
	}
	return s.build(a)
}

func strip(s string) string { return py.Strip(s) }

// Patterns of the official checkers, with Python's Unicode \s.
var (
	rePlaceholder     = regexp.MustCompile(`\[.*?\]`)
	reBulletStar      = regexp.MustCompile(`(?m)^[` + py.SpaceClass + `]*\*[^\*].*$`)
	reBulletDash      = regexp.MustCompile(`(?m)^[` + py.SpaceClass + `]*-.*$`)
	reHighlight       = regexp.MustCompile(`\*[^\n\*]*\*`)
	reDoubleHighlight = regexp.MustCompile(`\*\*[^\n\*]*\*\*`)
	reParagraphSplit  = regexp.MustCompile(`[` + py.SpaceClass + `]?\*\*\*[` + py.SpaceClass + `]?`)
	rePPS             = regexp.MustCompile(`(?m)[` + py.SpaceClass + `]*p\.[` + py.SpaceClass + `]?p\.[` + py.SpaceClass + `]?s.*$`)
	rePS              = regexp.MustCompile(`(?m)[` + py.SpaceClass + `]*p\.[` + py.SpaceClass + `]?s\..*$`)
	reTitle           = regexp.MustCompile(`<<[^\n]+>>`)
)

// languageNames are the codes IFEval's description accepts (instructions_util.LANGUAGE_CODES);
// Python raises KeyError for any other, so we refuse them too.
var languageNames = map[string]string{
	"en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
	"fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
	"bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil",
	"te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew",
	"fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
	"mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}

func buildResponseLanguage(a args) (checker, error) {
	lang, err := a.requiredStr("language")
	if err != nil {
		return nil, err
	}
	if _, ok := languageNames[lang]; !ok {
		return nil, fmt.Errorf("language %q is not one of IFEval's 30 codes", lang)
	}
	return func(r string) bool {
		got, err := langdetect.Detect(r)
		if err != nil {
			// langdetect found no features: the official checker counts that as followed.
			return errors.Is(err, langdetect.ErrNoFeatures)
		}
		return got == lang
	}, nil
}

func buildNumberSentences(a args) (checker, error) {
	n, err := a.count("num_sentences")
	if err != nil {
		return nil, err
	}
	rel, err := a.relation("relation")
	if err != nil {
		return nil, err
	}
	return func(r string) bool { return rel.holds(punkt.CountSentences(r), n) }, nil
}

func buildPlaceholders(a args) (checker, error) {
	n, err := a.count("num_placeholders")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		return float64(len(rePlaceholder.FindAllStringIndex(r, -1))) >= n
	}, nil
}

func buildBulletLists(a args) (checker, error) {
	n, err := a.count("num_bullets")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		got := len(reBulletStar.FindAllStringIndex(r, -1)) + len(reBulletDash.FindAllStringIndex(r, -1))
		return float64(got) == n
	}, nil
}

var constrainedOptions = []string{"My answer is yes.", "My answer is no.", "My answer is maybe."}

func buildConstrainedResponse(args) (checker, error) {
	return func(r string) bool {
		r = strip(r)
		for _, o := range constrainedOptions {
			if strings.Contains(r, o) {
				return true
			}
		}
		return false
	}, nil
}

func buildHighlightedSections(a args) (checker, error) {
	n, err := a.count("num_highlights")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		got := 0
		for _, h := range reHighlight.FindAllString(r, -1) {
			if strip(strings.Trim(h, "*")) != "" {
				got++
			}
		}
		for _, h := range reDoubleHighlight.FindAllString(r, -1) {
			if strip(strings.TrimSuffix(strings.TrimPrefix(h, "**"), "**")) != "" {
				got++
			}
		}
		return float64(got) >= n
	}, nil
}

func buildMultipleSections(a args) (checker, error) {
	splitter, err := a.requiredStr("section_spliter")
	if err != nil {
		return nil, err
	}
	n, err := a.count("num_sections")
	if err != nil {
		return nil, err
	}
	// The splitter is spliced into a Python regex, so it is a pattern, not a literal.
	inner, err := py.Translate(strip(splitter))
	if err != nil {
		return nil, fmt.Errorf("section_spliter: %w", err)
	}
	s := "[" + py.SpaceClass + "]"
	re, err := regexp.Compile(s + "?" + inner + s + `?\p{Nd}+` + s + "?")
	if err != nil {
		return nil, fmt.Errorf("section_spliter %q: %w", splitter, err)
	}
	return func(r string) bool {
		// len(re.split(...)) - 1 is the number of separators found.
		return float64(len(re.FindAllStringIndex(r, -1))) >= n
	}, nil
}

func buildNumberParagraphs(a args) (checker, error) {
	n, err := a.count("num_paragraphs")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		paragraphs := reParagraphSplit.Split(r, -1)
		got := len(paragraphs)
		for i, p := range paragraphs {
			if strip(p) == "" {
				if i == 0 || i == len(paragraphs)-1 {
					got--
				} else {
					return false
				}
			}
		}
		return float64(got) == n
	}, nil
}

func buildPostscript(a args) (checker, error) {
	marker, err := a.requiredStr("postscript_marker")
	if err != nil {
		return nil, err
	}
	marker = strip(marker)
	var re *regexp.Regexp
	switch marker {
	case "P.P.S":
		re = rePPS
	case "P.S.":
		re = rePS
	default:
		inner, err := py.Translate(py.Lower(marker))
		if err != nil {
			return nil, fmt.Errorf("postscript_marker: %w", err)
		}
		re, err = regexp.Compile(`(?m)[` + py.SpaceClass + `]*` + inner + `.*$`)
		if err != nil {
			return nil, fmt.Errorf("postscript_marker %q: %w", marker, err)
		}
	}
	return func(r string) bool { return re.MatchString(py.Lower(r)) }, nil
}

func buildKeywordExistence(a args) (checker, error) {
	keywords, ok, err := a.strList("keywords")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("kwarg keywords is required (the official code would pick them at random)")
	}
	res := make([]*regexp.Regexp, len(keywords))
	for i, k := range keywords {
		if res[i], err = py.Compile(k, true); err != nil {
			return nil, fmt.Errorf("keywords[%d]: %w", i, err)
		}
	}
	return func(r string) bool {
		for _, re := range res {
			if !re.MatchString(r) {
				return false
			}
		}
		return true
	}, nil
}

func buildKeywordFrequency(a args) (checker, error) {
	keyword, ok, err := a.str("keyword")
	if err != nil {
		return nil, err
	}
	if !ok || keyword == "" {
		return nil, fmt.Errorf("kwarg keyword is required (the official code would pick one at random)")
	}
	n, err := a.count("frequency")
	if err != nil {
		return nil, err
	}
	rel, err := a.relation("relation")
	if err != nil {
		return nil, err
	}
	re, err := py.Compile(strip(keyword), true)
	if err != nil {
		return nil, fmt.Errorf("keyword: %w", err)
	}
	return func(r string) bool { return rel.holds(len(re.FindAllStringIndex(r, -1)), n) }, nil
}

func buildNumberWords(a args) (checker, error) {
	n, err := a.count("num_words")
	if err != nil {
		return nil, err
	}
	rel, err := a.relation("relation")
	if err != nil {
		return nil, err
	}
	return func(r string) bool { return rel.holds(countWords(r), n) }, nil
}

// countWords is NLTK's RegexpTokenizer(r"\w+") with Python's Unicode \w.
func countWords(s string) int {
	n := 0
	inWord := false
	for _, r := range s {
		w := py.IsWord(r)
		if w && !inWord {
			n++
		}
		inWord = w
	}
	return n
}

func buildJSONFormat(args) (checker, error) {
	return func(r string) bool {
		v := strip(r)
		for _, p := range []string{"```json", "```Json", "```JSON", "```"} {
			v = strings.TrimPrefix(v, p)
		}
		v = strip(strings.TrimSuffix(v, "```"))
		return pythonJSONValid(v)
	}, nil
}

// pythonJSONValid is whether json.loads accepts s: standard JSON plus the
// NaN, Infinity and -Infinity literals Python allows.
func pythonJSONValid(s string) bool {
	if json.Valid([]byte(s)) {
		return true
	}
	if !strings.Contains(s, "NaN") && !strings.Contains(s, "Infinity") {
		return false
	}
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			b.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			b.WriteByte(c)
		case strings.HasPrefix(s[i:], "NaN"):
			b.WriteString("0")
			i += len("NaN") - 1
		case strings.HasPrefix(s[i:], "-Infinity"):
			b.WriteString("0")
			i += len("-Infinity") - 1
		case strings.HasPrefix(s[i:], "Infinity"):
			b.WriteString("0")
			i += len("Infinity") - 1
		default:
			b.WriteByte(c)
		}
	}
	return json.Valid([]byte(b.String()))
}

func buildNthParagraphFirstWord(a args) (checker, error) {
	num, err := a.count("num_paragraphs")
	if err != nil {
		return nil, err
	}
	nth, ok, err := a.num("nth_paragraph")
	if err != nil {
		return nil, err
	}
	if !ok || nth <= 0 || nth > num {
		return nil, fmt.Errorf("kwarg nth_paragraph must be in 1..num_paragraphs (the official code would pick one at random)")
	}
	if nth != float64(int(nth)) {
		return nil, fmt.Errorf("kwarg nth_paragraph must be an integer, got %v", nth)
	}
	firstWord, err := a.requiredStr("first_word")
	if err != nil {
		return nil, err
	}
	firstWord = py.Lower(firstWord)
	index := int(nth) - 1
	return func(r string) bool {
		paragraphs := strings.Split(r, "\n\n")
		got := len(paragraphs)
		for _, p := range paragraphs {
			if strip(p) == "" {
				got--
			}
		}
		if float64(index+1) > float64(got) {
			return false
		}
		p := strip(paragraphs[index])
		if p == "" {
			return false
		}
		word := py.Fields(p)[0]
		word = strings.TrimLeft(word, "'")
		word = strings.TrimLeft(word, `"`)
		var first strings.Builder
		for _, c := range word {
			if strings.ContainsRune(`.,?!'"`, c) {
				break
			}
			first.WriteString(py.Lower(string(c)))
		}
		return float64(got) == num && first.String() == firstWord
	}, nil
}

func buildForbiddenWords(a args) (checker, error) {
	words, ok, err := a.strList("forbidden_words")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("kwarg forbidden_words is required (the official code would pick them at random)")
	}
	res := make([]*regexp.Regexp, 0, len(words))
	for i, w := range words {
		re, err := py.Compile(w, true)
		if err != nil {
			return nil, fmt.Errorf("forbidden_words[%d]: %w", i, err)
		}
		res = append(res, re)
	}
	return func(r string) bool {
		for _, re := range res {
			if searchWordBounded(re, r) {
				return false
			}
		}
		return true
	}, nil
}

// searchWordBounded is re.search(r"\b" + word + r"\b", text) with Python's
// Unicode word boundary, which Go's regexp lacks: every match of the word,
// overlapping ones included, is tested for a boundary on both sides.
func searchWordBounded(re *regexp.Regexp, text string) bool {
	for pos := 0; pos <= len(text); {
		loc := re.FindStringIndex(text[pos:])
		if loc == nil {
			return false
		}
		start, end := pos+loc[0], pos+loc[1]
		if wordBoundary(text, start) && wordBoundary(text, end) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		if size == 0 {
			size = 1
		}
		pos = start + size
	}
	return false
}

// wordBoundary is Python's \b at byte offset i.
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

func buildTwoResponses(args) (checker, error) {
	return func(r string) bool {
		var valid []string
		parts := strings.Split(r, "******")
		for i, p := range parts {
			if strip(p) == "" {
				if i != 0 && i != len(parts)-1 {
					return false
				}
			} else {
				valid = append(valid, p)
			}
		}
		return len(valid) == 2 && strip(valid[0]) != strip(valid[1])
	}, nil
}

func buildRepeatPrompt(a args) (checker, error) {
	prompt, ok, err := a.str("prompt_to_repeat")
	if err != nil {
		return nil, err
	}
	if !ok || prompt == "" {
		return nil, fmt.Errorf("kwarg prompt_to_repeat is required")
	}
	want := py.Lower(strip(prompt))
	return func(r string) bool { return strings.HasPrefix(py.Lower(strip(r)), want) }, nil
}

func buildEndChecker(a args) (checker, error) {
	phrase, err := a.requiredStr("end_phrase")
	if err != nil {
		return nil, err
	}
	want := py.Lower(strip(phrase))
	return func(r string) bool {
		return strings.HasSuffix(py.Lower(strings.Trim(strip(r), `"`)), want)
	}, nil
}

func buildTitle(args) (checker, error) {
	return func(r string) bool {
		for _, t := range reTitle.FindAllString(r, -1) {
			if strip(strings.TrimRight(strings.TrimLeft(t, "<"), ">")) != "" {
				return true
			}
		}
		return false
	}, nil
}

func buildLetterFrequency(a args) (checker, error) {
	letter, err := a.requiredStr("letter")
	if err != nil {
		return nil, err
	}
	// Policy: the official code replaces anything but one ASCII letter with a
	// random letter. We count a single character literally instead (so "#" counts
	// '#'), and refuse an empty or multi-character letter.
	if utf8.RuneCountInString(letter) != 1 {
		return nil, fmt.Errorf("kwarg letter must be one character, got %q", letter)
	}
	letter = py.Lower(letter)
	target, _ := utf8.DecodeRuneInString(letter)
	n, err := a.count("let_frequency")
	if err != nil {
		return nil, err
	}
	rel, err := a.relation("let_relation")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		got := 0
		for _, c := range py.Lower(r) {
			if c == target {
				got++
			}
		}
		return rel.holds(got, n)
	}, nil
}

func buildEnglishCapital(args) (checker, error) {
	return func(r string) bool {
		if !py.IsUpper(r) {
			return false
		}
		return isEnglish(r)
	}, nil
}

func buildEnglishLowercase(args) (checker, error) {
	return func(r string) bool {
		if !py.IsLower(r) {
			return false
		}
		return isEnglish(r)
	}, nil
}

// isEnglish is `langdetect.detect(value) == "en"`, where an undetectable text
// counts as English, as the official checkers catch LangDetectException.
func isEnglish(r string) bool {
	lang, err := langdetect.Detect(r)
	if err != nil {
		return errors.Is(err, langdetect.ErrNoFeatures)
	}
	return lang == "en"
}

func buildNoComma(args) (checker, error) {
	return func(r string) bool { return !strings.Contains(r, ",") }, nil
}

func buildCapitalWordFrequency(a args) (checker, error) {
	// The official code does not refuse a negative capital_frequency.
	n, ok, err := a.num("capital_frequency")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("kwarg capital_frequency is required (the official code would pick one at random)")
	}
	rel, err := a.relation("capital_relation")
	if err != nil {
		return nil, err
	}
	return func(r string) bool {
		got := 0
		for _, w := range punkt.WordTokenize(r) {
			if py.IsUpper(w) {
				got++
			}
		}
		return rel.holds(got, n)
	}, nil
}

func buildQuotation(args) (checker, error) {
	return func(r string) bool {
		v := []rune(strip(r))
		return len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"'
	}, nil
}
