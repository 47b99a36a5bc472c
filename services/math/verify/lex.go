package verify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tNum            // text: digits with at most one '.', separators already removed
	tIdent          // text: a run of ASCII letters
	tCmd            // text: a LaTeX command without its backslash
	tOp             // text: one of + - * / ^ _ ( ) [ ] { } , ; | ! : & ' % = < > <= >= != \{ \}
	tText           // text: the contents of \text{...} and its cousins
	tRowSep         // \\ : a matrix row separator
)

type token struct {
	k    tokKind
	text string
}

// textCommands hold words rather than mathematics; their argument is read raw.
var textCommands = map[string]bool{
	"text": true, "textbf": true, "textit": true, "textrm": true, "textnormal": true,
	"mbox": true, "mathrm": true, "mathbf": true, "mathit": true, "mathsf": true,
	"mathtt": true, "texttt": true, "operatorname": true, "textsf": true, "hbox": true,
	"mathbb": true, "mathcal": true, "boldsymbol": true, "bm": true,
}

// ignoredCommands typeset without meaning for the value.
var ignoredCommands = map[string]bool{
	"left": true, "right": true, "big": true, "Big": true, "bigg": true, "Bigg": true,
	"bigl": true, "bigr": true, "Bigl": true, "Bigr": true, "biggl": true, "biggr": true,
	"displaystyle": true, "textstyle": true, "scriptstyle": true, "limits": true,
	"quad": true, "qquad": true, "boxed": true, "fbox": true, "mathord": true,
	"middle": true, "nonumber": true, "notag": true, "hline": true, "rm": true,
	"it": true, "bf": true, "cal": true, "vec": true, "overline": true, "hat": true,
	"tilde": true, "bar": true, "dot": true, "ddot": true, "overrightarrow": true,
	"underline": true, "widehat": true, "widetilde": true,
}

// knownCommands lets "\quadx" split into \quad and x: a command name that is not
// known but starts with a known one is the known one followed by letters.
var knownCommands = func() []string {
	var out []string
	for _, m := range []map[string]bool{textCommands, ignoredCommands} {
		for k := range m {
			out = append(out, k)
		}
	}
	out = append(out, "frac", "sqrt", "pi", "infty", "cdot", "times", "div", "pm", "mp",
		"le", "leq", "ge", "geq", "ne", "neq", "lt", "gt", "in", "cup", "cap", "approx")
	return out
}()

// lexer turns an answer into tokens. Thousands separators ("1,000", "10\,000",
// "10 000") are folded into the number only outside brackets, where a comma
// otherwise separates the elements of a list.
type lexer struct {
	s     string
	i     int
	depth int
	toks  []token
}

func lex(s string, b *budget) ([]token, error) {
	lx := &lexer{s: s}
	for lx.i < len(lx.s) {
		if err := b.step(1); err != nil {
			return nil, err
		}
		if err := lx.next(); err != nil {
			return nil, err
		}
	}
	return lx.toks, nil
}

func (lx *lexer) emit(k tokKind, text string) { lx.toks = append(lx.toks, token{k, text}) }

func (lx *lexer) next() error {
	s, i := lx.s, lx.i
	c := s[i]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~':
		lx.i++
	case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
		lx.number()
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		j := i
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		lx.emit(tIdent, s[i:j])
		lx.i = j
	case c == '\\':
		return lx.command()
	case c == '<' || c == '>' || c == '!' || c == '=':
		if i+1 < len(s) && s[i+1] == '=' {
			lx.emit(tOp, s[i:i+2])
			lx.i += 2
			return nil
		}
		if c == '=' && i+1 < len(s) && s[i+1] == '>' { // "=>" is not a relation; skip it
			lx.i += 2
			return nil
		}
		lx.emit(tOp, s[i:i+1])
		lx.i++
	case strings.IndexByte("+-*/^_()[]{},;|:&'%", c) >= 0:
		switch c { // plain braces group; only brackets make a list context
		case '(', '[':
			lx.depth++
		case ')', ']':
			lx.depth--
		}
		if c == '*' && i+1 < len(s) && s[i+1] == '*' { // Python's power
			lx.emit(tOp, "^")
			lx.i += 2
			return nil
		}
		lx.emit(tOp, s[i:i+1])
		lx.i++
	case c == '$' || c == '"' || c == '?' || c == '`' || c == '.':
		lx.i++
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(s[i:])
		lx.i += size
		if rep, ok := unicodeMath[r]; ok {
			lx.toks = append(lx.toks, rep...)
			return nil
		}
		if unicode.IsLetter(r) {
			lx.emit(tIdent, string(r))
			return nil
		}
		if unicode.IsSpace(r) {
			return nil
		}
		return errf("unexpected character %q", r)
	default:
		return errf("unexpected character %q", c)
	}
	return nil
}

var unicodeMath = map[rune][]token{
	'π': {{tCmd, "pi"}}, '√': {{tCmd, "sqrt"}}, '≤': {{tOp, "<="}}, '≥': {{tOp, ">="}},
	'≠': {{tOp, "!="}}, '∞': {{tCmd, "infty"}}, '×': {{tCmd, "times"}}, '÷': {{tCmd, "div"}},
	'·': {{tCmd, "cdot"}}, '⋅': {{tCmd, "cdot"}}, '−': {{tOp, "-"}}, '–': {{tOp, "-"}},
	'∈': {{tOp, "in"}}, '∪': {{tCmd, "cup"}}, '±': {{tCmd, "pm"}}, '∓': {{tCmd, "mp"}},
	'°': {{tCmd, "circ"}}, '²': {{tOp, "^"}, {tNum, "2"}}, '³': {{tOp, "^"}, {tNum, "3"}},
	'≈': {{tOp, "approx"}}, '€': nil, '£': nil, '¥': nil, '₹': nil, '\u00a0': nil,
	'\u2009': nil, '\u202f': nil, '’': {{tOp, "'"}}, '∩': {{tCmd, "cap"}},
	'⩽': {{tOp, "<="}}, '⩾': {{tOp, ">="}}, 'α': {{tCmd, "alpha"}}, 'β': {{tCmd, "beta"}},
	'θ': {{tCmd, "theta"}}, '′': {{tOp, "'"}}, '″': {{tOp, "'"}, {tOp, "'"}},
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// number reads digits, a decimal part and an exponent ("1.2e3"), and folds
// thousands separators at bracket depth 0.
func (lx *lexer) number() {
	s, i := lx.s, lx.i
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[start:i]
	var b strings.Builder
	b.WriteString(intPart)
	if lx.depth <= 0 && len(intPart) >= 1 && len(intPart) <= 3 && intPart[0] != '0' {
		for {
			j, ok := thousandsGroup(s, i)
			if !ok {
				break
			}
			b.WriteString(s[j : j+3])
			i = j + 3
		}
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		b.WriteString(s[i:j])
		i = j
	} else if i < len(s) && s[i] == '.' && !(i+1 < len(s) && s[i+1] == '.') && i > start {
		i++ // "5." is 5
	}
	// An exponent only when it cannot be Euler's e times something: 1.2e3, 2e-5.
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k > j && (k == len(s) || !isLetter(s[k])) {
			b.WriteString("e" + s[i+1:k])
			i = k
		}
	}
	lx.emit(tNum, b.String())
	lx.i = i
}

// thousandsGroup reports where the three digits of a separator group start: "," or
// one space (or a thin-space command already turned into a space) followed by
// exactly three digits.
func thousandsGroup(s string, i int) (int, bool) {
	j := i
	if strings.HasPrefix(s[j:], " {,") {
		j++
	}
	switch {
	case strings.HasPrefix(s[j:], "{,}"):
		j += 3
	case strings.HasPrefix(s[j:], "{, }"):
		j += 4
	case strings.HasPrefix(s[j:], ","):
		j++
	case strings.HasPrefix(s[j:], `\,`), strings.HasPrefix(s[j:], `\!`), strings.HasPrefix(s[j:], `\ `):
		j += 2
		if strings.HasPrefix(s[j:], ",") {
			j++
		}
	case strings.HasPrefix(s[j:], ` `):
		j++
	default:
		return 0, false
	}
	for strings.HasPrefix(s[j:], `\!`) {
		j += 2
		for j < len(s) && s[j] == ' ' {
			j++
		}
	}
	if j+3 > len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) || !isDigit(s[j+2]) {
		return 0, false
	}
	if j+3 < len(s) && (isDigit(s[j+3]) || s[j+3] == '.' && j+4 < len(s) && isDigit(s[j+4]) && s[i] == '.') {
		return 0, false
	}
	return j, true
}

func (lx *lexer) command() error {
	s, i := lx.s, lx.i+1
	if i >= len(s) {
		lx.i = i
		return nil // a trailing backslash ("185\") means nothing
	}
	c := s[i]
	if !isLetter(c) {
		lx.i = i + 1
		switch c {
		case '\\':
			lx.emit(tRowSep, `\\`)
		case '{':
			lx.depth++
			lx.emit(tOp, `\{`)
		case '}':
			lx.depth--
			lx.emit(tOp, `\}`)
		case '%':
			lx.emit(tOp, "%")
		case '$', ',', ';', ':', '!', ' ', '>', '<', '&', '#', '_':
			// spacing and escaped punctuation carry no value
		case '(', ')', '[', ']':
			// \( \) \[ \] delimit math mode
		case '|':
			lx.emit(tOp, "|")
		default:
			return errf("unknown escape \\%c", c)
		}
		return nil
	}
	j := i
	for j < len(s) && isLetter(s[j]) {
		j++
	}
	name := s[i:j]
	if !isKnownCommand(name) {
		for _, k := range knownCommands { // "\quadx" is \quad x
			if len(k) < len(name) && strings.HasPrefix(name, k) && (k != "in" && k != "le" && k != "ge" && k != "ne" && k != "pi") {
				j = i + len(k)
				name = k
				break
			}
		}
	}
	lx.i = j
	if textCommands[name] {
		arg, next, ok := braceArg(s, j)
		if !ok {
			return nil // \mathrm e: the next token stands alone
		}
		lx.i = next
		if name == "mathbb" && strings.TrimSpace(arg) == "R" {
			lx.emit(tCmd, "reals")
			return nil
		}
		lx.emit(tText, arg)
		return nil
	}
	if ignoredCommands[name] {
		if name == "left" || name == "right" || strings.HasPrefix(name, "big") || strings.HasPrefix(name, "Big") {
			if lx.i < len(s) && s[lx.i] == '.' {
				lx.i++ // \left. is an invisible delimiter
			}
		}
		return nil
	}
	switch name {
	case "lt":
		lx.emit(tOp, "<")
	case "gt":
		lx.emit(tOp, ">")
	case "le", "leq", "leqslant", "leqq":
		lx.emit(tOp, "<=")
	case "ge", "geq", "geqslant", "geqq":
		lx.emit(tOp, ">=")
	case "ne", "neq":
		lx.emit(tOp, "!=")
	case "in":
		lx.emit(tOp, "in")
	case "approx", "simeq", "sim", "thickapprox":
		lx.emit(tOp, "approx")
	case "lbrace":
		lx.depth++
		lx.emit(tOp, `\{`)
	case "rbrace":
		lx.depth--
		lx.emit(tOp, `\}`)
	case "langle", "lparen":
		lx.depth++
		lx.emit(tOp, "(")
	case "rangle", "rparen":
		lx.depth--
		lx.emit(tOp, ")")
	case "lbrack":
		lx.depth++
		lx.emit(tOp, "[")
	case "rbrack":
		lx.depth--
		lx.emit(tOp, "]")
	case "vert", "lvert", "rvert", "mid", "Vert", "lVert", "rVert":
		lx.emit(tOp, "|")
	case "dfrac", "tfrac", "cfrac":
		lx.emit(tCmd, "frac")
	case "dbinom", "tbinom":
		lx.emit(tCmd, "binom")
	case "degree", "circ":
		lx.emit(tCmd, "circ")
	case "dots", "ldots", "cdots":
		lx.emit(tCmd, "dots")
	case "colon":
		lx.emit(tOp, ":")
	case "ast", "star":
		lx.emit(tOp, "*")
	case "land", "wedge":
		lx.emit(tIdent, "and")
	case "lor", "vee":
		lx.emit(tIdent, "or")
	case "percent":
		lx.emit(tOp, "%")
	default:
		lx.emit(tCmd, name)
	}
	return nil
}

func isKnownCommand(name string) bool {
	if textCommands[name] || ignoredCommands[name] {
		return true
	}
	_, fn := functions[name]
	_, g := greek[name]
	switch name {
	case "lt", "gt", "le", "leq", "leqslant", "leqq", "ge", "geq", "geqslant", "geqq", "ne", "neq", "in",
		"approx", "simeq", "sim", "lbrace", "rbrace", "langle", "rangle", "lbrack", "rbrack", "vert",
		"lvert", "rvert", "mid", "Vert", "dfrac", "tfrac", "cfrac", "dbinom", "tbinom", "degree", "circ",
		"dots", "ldots", "cdots", "colon", "ast", "star", "frac", "sqrt", "pi", "infty", "infin", "cdot",
		"times", "div", "pm", "mp", "cup", "cap", "binom", "begin", "end", "sum", "prod", "setminus",
		"emptyset", "varnothing", "lfloor", "rfloor", "lceil", "rceil", "percent", "land", "lor",
		"wedge", "vee", "to", "rightarrow", "Rightarrow", "implies", "iff", "neg", "lparen", "rparen",
		"equiv", "pmod", "bmod", "mod", "prime", "therefore", "cong", "parallel", "perp", "angle",
		"triangle", "square", "not", "infinity", "imath", "jmath", "reals":
		return true
	}
	return fn || g
}

// braceArg reads a balanced {...} group starting at i (after optional spaces).
func braceArg(s string, i int) (string, int, bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '{' {
		return "", i, false
	}
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[i+1 : j], j + 1, true
			}
		}
	}
	return "", i, false
}
