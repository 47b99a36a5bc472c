// Package py reproduces the few Python str and re behaviours that IFEval's
// checkers, NLTK and langdetect rely on, where Go's differ: Unicode \w, \s and
// \d, str.strip, str.isupper and str.islower.
package py

import (
	"strings"
	"unicode"
)

// IsSpace reports whether Python's str.isspace holds for r. It is wider than
// unicode.IsSpace: Python also counts the information separators U+001C–U+001F.
func IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85:
		return true
	}
	return r > 0x7f && unicode.Is(unicode.Z, r)
}

// IsWord reports whether r matches Python's Unicode \w: alphanumeric (letters
// and every numeric category) or underscore. Combining marks are not word
// characters in Python, unlike some other engines.
func IsWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// IsDigit reports whether r matches Python's Unicode \d (category Nd).
func IsDigit(r rune) bool { return unicode.Is(unicode.Nd, r) }

// Strip is Python's str.strip() with no argument.
func Strip(s string) string { return strings.TrimFunc(s, IsSpace) }

// Fields is Python's str.split() with no argument.
func Fields(s string) []string { return strings.FieldsFunc(s, IsSpace) }

func isUpperRune(r rune) bool {
	return unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r)
}

func isLowerRune(r rune) bool {
	return unicode.IsLower(r) || unicode.Is(unicode.Other_Lowercase, r)
}

// IsUpperRune is Python's str.isupper for a single character.
func IsUpperRune(r rune) bool { return isUpperRune(r) }

// IsUpper is Python's str.isupper: at least one cased character, and no
// lowercase or titlecase one.
func IsUpper(s string) bool {
	cased := false
	for _, r := range s {
		if isLowerRune(r) || unicode.IsTitle(r) {
			return false
		}
		if isUpperRune(r) {
			cased = true
		}
	}
	return cased
}

// IsLower is Python's str.islower: at least one cased character, and no
// uppercase or titlecase one.
func IsLower(s string) bool {
	cased := false
	for _, r := range s {
		if isUpperRune(r) || unicode.IsTitle(r) {
			return false
		}
		if isLowerRune(r) {
			cased = true
		}
	}
	return cased
}

// Lower is Python's str.lower, close enough for matching: Go lowers rune by
// rune where Python applies full case mappings (only U+0130 differs in length).
func Lower(s string) string { return strings.ToLower(s) }
