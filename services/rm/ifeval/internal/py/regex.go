package py

import (
	"fmt"
	"regexp"
	"strings"
)

// Character classes with Python's Unicode meaning, for Go patterns.
const (
	// SpaceClass is the inside of a character class matching Python's \s.
	SpaceClass = `\t\n\v\f\r \x1c-\x1f\x85\p{Z}`
	// WordClass is the inside of a character class matching Python's \w.
	WordClass = `\p{L}\p{N}_`
	// DigitClass is the inside of a character class matching Python's \d.
	DigitClass = `\p{Nd}`
)

// Compile translates a Python re pattern (as IFEval receives it in kwargs:
// keywords, section splitters, postscript markers) into Go syntax and compiles it.
// \d, \w and \s get Python's Unicode meaning. Constructs RE2 cannot run
// (lookaround, backreferences) are an error, as is anything Python itself would
// reject and Go also rejects. \b and \B keep Go's ASCII word boundary.
func Compile(pattern string, ignoreCase bool) (*regexp.Regexp, error) {
	translated, err := Translate(pattern)
	if err != nil {
		return nil, err
	}
	if ignoreCase {
		translated = "(?i)" + translated
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return re, nil
}

// Translate rewrites a Python pattern into Go regexp syntax; see Compile.
func Translate(pattern string) (string, error) {
	var b strings.Builder
	inClass := false
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\':
			if i+1 >= len(rs) {
				return "", fmt.Errorf("pattern %q: trailing backslash", pattern)
			}
			i++
			e := rs[i]
			switch e {
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 'w':
				if inClass {
					b.WriteString(WordClass)
				} else {
					b.WriteString("[" + WordClass + "]")
				}
			case 's':
				if inClass {
					b.WriteString(SpaceClass)
				} else {
					b.WriteString("[" + SpaceClass + "]")
				}
			case 'W', 'S':
				if inClass {
					return "", fmt.Errorf("pattern %q: \\%c inside a character class is not supported", pattern, e)
				}
				if e == 'W' {
					b.WriteString("[^" + WordClass + "]")
				} else {
					b.WriteString("[^" + SpaceClass + "]")
				}
			case 'b':
				if inClass {
					b.WriteString(`\x08`)
				} else {
					b.WriteString(`\b`)
				}
			case 'Z':
				b.WriteString(`\z`)
			case 'u', 'U':
				n := 4
				if e == 'U' {
					n = 8
				}
				if i+n >= len(rs) {
					return "", fmt.Errorf("pattern %q: short \\%c escape", pattern, e)
				}
				hex := string(rs[i+1 : i+1+n])
				for _, h := range hex {
					if !strings.ContainsRune("0123456789abcdefABCDEF", h) {
						return "", fmt.Errorf("pattern %q: bad \\%c escape", pattern, e)
					}
				}
				b.WriteString(`\x{` + hex + `}`)
				i += n
			default:
				if e >= '0' && e <= '9' {
					return "", fmt.Errorf("pattern %q: backreferences are not supported", pattern)
				}
				b.WriteRune('\\')
				b.WriteRune(e)
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			if c == '[' {
				// A literal '[' inside a class; Go would read "[:" as a POSIX class.
				b.WriteString(`\[`)
				continue
			}
			b.WriteRune(c)
		case c == '[':
			inClass = true
			b.WriteRune(c)
			// A ']' right after '[' or '[^' is literal in both syntaxes.
			if i+1 < len(rs) && rs[i+1] == '^' {
				b.WriteRune('^')
				i++
			}
			if i+1 < len(rs) && rs[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '(' && i+1 < len(rs) && rs[i+1] == '?':
			rest := string(rs[i+2:])
			switch {
			case strings.HasPrefix(rest, "#"):
				end := strings.IndexRune(rest, ')')
				if end < 0 {
					return "", fmt.Errorf("pattern %q: unterminated comment", pattern)
				}
				i += 2 + len([]rune(rest[:end]))
				continue
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"),
				strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"),
				strings.HasPrefix(rest, "P="), strings.HasPrefix(rest, "("):
				return "", fmt.Errorf("pattern %q: lookaround, conditionals and backreferences are not supported", pattern)
			}
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), nil
}
