package punkt

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/internal/py"
)

func TestEnglishParams(t *testing.T) {
	p := English()
	// The counts NLTK's english.pickle has (the conformance README checked them).
	if len(p.AbbrevTypes) != 156 || len(p.SentStarters) != 39 || len(p.Collocations) != 37 {
		t.Errorf("abbrevs %d, starters %d, collocations %d; want 156, 39, 37", len(p.AbbrevTypes), len(p.SentStarters), len(p.Collocations))
	}
	if len(p.OrthoContext) < 20000 {
		t.Errorf("ortho context has %d types, want the full table", len(p.OrthoContext))
	}
	if !p.AbbrevTypes["dr"] || !p.SentStarters["however"] || !p.Collocations[[2]string{"##number##", "international"}] {
		t.Error("known English parameters missing")
	}
}

func TestSentences(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"nltk doc example", "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks.",
			[]string{"Good muffins cost $3.88\nin New York.", "Please buy me\ntwo of them.", "Thanks."}},
		{"abbreviation", "Dr. Smith arrived at 5 p.m. yesterday. He left.", []string{"Dr. Smith arrived at 5 p.m. yesterday.", "He left."}},
		{"closing quote realigned", `He said "Stop." Then he left.`, []string{`He said "Stop."`, "Then he left."}},
		{"closing paren realigned", "(This is one.) This is two.", []string{"(This is one.)", "This is two."}},
		{"question and exclamation", "Really?! Yes! Fine.", []string{"Really?!", "Yes!", "Fine."}},
		{"initial with lowercase", "J. r. tolkien wrote it.", []string{"J. r. tolkien wrote it."}},
		{"ellipsis", "Wait... what happened?", []string{"Wait... what happened?"}},
		{"empty", "", nil},
		{"blank", "  \n\n ", nil},
		{"no end punctuation", "just words", []string{"just words"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Sentences(tc.text)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Sentences(%q) = %q, want %q", tc.text, got, tc.want)
			}
			if n := CountSentences(tc.text); n != len(tc.want) {
				t.Errorf("CountSentences = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func TestWordTokenize(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks.",
			[]string{"Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".", "Please", "buy", "me", "two", "of", "them", ".", "Thanks", "."}},
		{"They'll say \"I CAN'T\" -- cannot, won't.", []string{"They", "'ll", "say", "``", "I", "CA", "N'T", "''", "--", "can", "not", ",", "wo", "n't", "."}},
		{"NASA's 1,000 rockets: gonna fly!", []string{"NASA", "'s", "1,000", "rockets", ":", "gon", "na", "fly", "!"}},
		{"'Tis (maybe) [true] {x} <y>", []string{"'T", "is", "(", "maybe", ")", "[", "true", "]", "{", "x", "}", "<", "y", ">"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := WordTokenize(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("WordTokenize(%q) =\n%q\nwant\n%q", tc.text, got, tc.want)
			}
		})
	}
}

// Reference regexes: NLTKWordTokenizer's own patterns, which the scanners in
// treebank.go replace for speed. sp is Python's \s.
const sp = `[` + py.SpaceClass + `]`

var scannerReferences = []struct {
	name    string
	re      *regexp.Regexp
	repl    string
	scanner func(string) string
}{
	{"final period spaced", regexp.MustCompile(`([^.])(\.)([\])}>"'»”’ ]*)` + sp + `*$`), "$1 $2 $3 ",
		func(s string) string { return finalPeriod(s, `])}>"'»”’ `, true) }},
	{"final period", regexp.MustCompile(`([^.])(\.)([\])}>"']*)` + sp + `*$`), "$1 $2$3 ",
		func(s string) string { return finalPeriod(s, `])}>"'`, false) }},
	{"colon comma", regexp.MustCompile(`([:,])([^\p{Nd}])`), " $1 $2", splitColonComma},
	{"quote space", regexp.MustCompile(`([^'])' `), "$1 ' ", splitQuoteSpace},
	{"opening double quotes", regexp.MustCompile(`([ (\[{<])("|'{2})`), "$1 `` ", openingDoubleQuotes},
	{"clitics 1", regexp.MustCompile(`([^' ])('[sS]|'[mM]|'[dD]|') `), "$1 $2 ",
		func(s string) string { return splitClitics(s, []string{"'s", "'S", "'m", "'M", "'d", "'D", "'"}) }},
	{"clitics 2", regexp.MustCompile(`([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) `), "$1 $2 ",
		func(s string) string {
			return splitClitics(s, []string{"'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"})
		}},
}

func TestScannersMatchRegexes(t *testing.T) {
	inputs := []string{
		"", ".", "a.", "a. ", "a.)  ", "a.) \t)", "a..", "x.y.", "end.\" ", "end.» ", "a.b", "a.)\n",
		"a,b", "1,000", "a:", ",,", ":,1", "x,\n", "it' s", "'' ' a' b' ", "a' ' b",
		`he said "hi" ("no") [''ok'']`, " '' ", "don't I'm he's 'd ' they'll we're I've can't DON'T ",
		"x'S ", "'s ", " 's ", "a''s ",
	}
	for _, ref := range scannerReferences {
		for _, in := range inputs {
			want := ref.re.ReplaceAllString(in, ref.repl)
			if got := ref.scanner(in); got != want {
				t.Errorf("%s(%q) = %q, regex gives %q", ref.name, in, got, want)
			}
		}
	}
}

func FuzzScannersMatchRegexes(f *testing.F) {
	for _, s := range []string{"a.) \t)", "it' s", "don't I'm", `say ("x")`, "a,b:c,1", "x.\u2003"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for _, ref := range scannerReferences {
			want := ref.re.ReplaceAllString(s, ref.repl)
			if got := ref.scanner(s); got != want {
				t.Fatalf("%s(%q) = %q, regex gives %q", ref.name, s, got, want)
			}
		}
	})
}

func FuzzSentences(f *testing.F) {
	for _, s := range []string{"Dr. Smith. He left.", "a.)b. c", "...", ". . . .", "“Hi.” Then", "\n\n.\n", "x!? y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans := SentenceSpans(s)
		n := utf8.RuneCountInString(s)
		prev := 0
		for _, sp := range spans {
			if sp[0] < prev || sp[1] <= sp[0] || sp[1] > n {
				t.Fatalf("spans %v of %q: bad span %v (length %d)", spans, s, sp, n)
			}
			prev = sp[1]
		}
		if c := CountSentences(s); c != len(spans) {
			t.Fatalf("CountSentences %d, %d spans", c, len(spans))
		}
	})
}

func FuzzWordTokenize(f *testing.F) {
	for _, s := range []string{"They'll say \"I CAN'T\"", "cannot'tis", "«a» “b” ‘c’", "x -- y...", "a,b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range WordTokenize(s) {
			if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 && strings.IndexFunc(w, py.IsSpace) >= 0 {
				t.Fatalf("WordTokenize(%q) has token %q", s, w)
			}
		}
	})
}
