package py

import (
	"regexp"
	"testing"
)

func TestTranslate(t *testing.T) {
	tests := []struct {
		pattern string
		text    string
		match   bool
	}{
		{`\w+`, "é", true},
		{`^\d$`, "٣", true}, // Arabic-Indic digit is \d in Python
		{`a\sb`, "a\u2003b", true},
		{`a\sb`, "a\u200bb", false}, // zero-width space is not \s
		{`[\w-]+x`, "é-x", true},
		{`\u00e9`, "é", true},
		{`[]a]`, "]", true},
		{`[^]a]`, "b", true},
		{`x(?#comment)y`, "xy", true},
		{`a\Z`, "a", true},
		{`[[]`, "[", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			re, err := Compile(tc.pattern, false)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.pattern, err)
			}
			if got := re.MatchString(tc.text); got != tc.match {
				t.Errorf("%q on %q = %v, want %v", tc.pattern, tc.text, got, tc.match)
			}
		})
	}
}

func TestTranslateRefuses(t *testing.T) {
	for _, p := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(a)\1`, `(?P<x>a)(?P=x)`, `a\`, `C++`, `(`} {
		if _, err := Compile(p, true); err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", p)
		}
	}
}

func TestStringHelpers(t *testing.T) {
	if got := Strip("\x1c\u2003 hi \v\u0085"); got != "hi" {
		t.Errorf("Strip = %q", got)
	}
	cases := []struct {
		s            string
		upper, lower bool
	}{
		{"ABC 123", true, false}, {"abc 123", false, true}, {"123", false, false},
		{"Ⅳ", true, false}, {"ǅ", false, false}, {"ÉCOLE", true, false}, {"", false, false},
	}
	for _, c := range cases {
		if IsUpper(c.s) != c.upper || IsLower(c.s) != c.lower {
			t.Errorf("%q: IsUpper %v IsLower %v, want %v %v", c.s, IsUpper(c.s), IsLower(c.s), c.upper, c.lower)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{`\w+\s*\d`, `[\s\w]`, `(?P<a>x)|y`, `\u12`, `[`, `(?#`, `\U0001F600`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		translated, err := Translate(pattern)
		if err != nil {
			return
		}
		if re, err := regexp.Compile(translated); err == nil {
			re.MatchString(pattern)
		}
	})
}
