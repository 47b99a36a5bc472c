package sandbox

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CompareMode names how a stdin test's output is compared with the expected one.
type CompareMode string

const (
	// CompareLCB is LiveCodeBench's comparison: both sides stripped and split into
	// lines, each line stripped; lines equal as strings or as lists of equal
	// Decimal tokens. The default.
	CompareLCB CompareMode = "lcb"
	// CompareTokens compares whitespace-separated tokens (Codeforces' default).
	CompareTokens CompareMode = "tokens"
	// CompareExact compares bytes.
	CompareExact CompareMode = "exact"
	// CompareFloat compares tokens, numbers within an absolute or relative error.
	CompareFloat CompareMode = "float"
)

// Comparer compares a program's output with the expected output.
type Comparer struct {
	Mode CompareMode
	Eps  float64 // CompareFloat only
}

// ParseCompare reads the API's compare field: "lcb" (or empty), "tokens",
// "exact" or "float:EPS".
func ParseCompare(s string) (Comparer, error) {
	switch s {
	case "", string(CompareLCB):
		return Comparer{Mode: CompareLCB}, nil
	case string(CompareTokens):
		return Comparer{Mode: CompareTokens}, nil
	case string(CompareExact):
		return Comparer{Mode: CompareExact}, nil
	}
	if rest, ok := strings.CutPrefix(s, "float:"); ok {
		eps, err := strconv.ParseFloat(rest, 64)
		if err != nil || !(eps >= 0) || math.IsInf(eps, 0) {
			return Comparer{}, fmt.Errorf("compare %q: EPS must be a non-negative number", s)
		}
		return Comparer{Mode: CompareFloat, Eps: eps}, nil
	}
	return Comparer{}, fmt.Errorf("compare %q: want lcb, tokens, exact or float:EPS", s)
}

// Equal reports whether got is an accepted answer when want is expected.
func (c Comparer) Equal(got, want string) bool {
	switch c.Mode {
	case CompareExact:
		return got == want
	case CompareTokens:
		return equalStrings(strings.Fields(got), strings.Fields(want))
	case CompareFloat:
		return equalFloatTokens(strings.Fields(got), strings.Fields(want), c.Eps)
	}
	return equalLCB(got, want)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// equalFloatTokens is testlib's doubleCompare over tokens: numbers match when the
// absolute or the relative error is within eps; other tokens must be equal.
func equalFloatTokens(got, want []string, eps float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] == want[i] {
			continue
		}
		g, err1 := strconv.ParseFloat(got[i], 64)
		w, err2 := strconv.ParseFloat(want[i], 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch {
		case math.IsNaN(w) || math.IsNaN(g):
			if !(math.IsNaN(w) && math.IsNaN(g)) {
				return false
			}
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g != w {
				return false
			}
		default:
			diff := math.Abs(g - w)
			if diff > eps && diff > eps*math.Abs(w) {
				return false
			}
		}
	}
	return true
}

// isPySpace is Python's str.isspace for one rune: Unicode White_Space plus the
// four information separators U+001C..U+001F, which Go's unicode.IsSpace omits.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// strippedLines is LiveCodeBench's get_stripped_lines: strip, split on "\n",
// strip each line.
func strippedLines(s string) []string {
	s = strings.TrimFunc(s, isPySpace)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimFunc(l, isPySpace)
	}
	return lines
}

func equalLCB(got, want string) bool {
	// LiveCodeBench compares text its captured stdout decoded; undecodable bytes
	// become U+FFFD as Python's errors="replace" makes them.
	got, want = strings.ToValidUTF8(got, "\uFFFD"), strings.ToValidUTF8(want, "\uFFFD")
	g, w := strippedLines(got), strippedLines(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if g[i] == w[i] {
			continue
		}
		gd, ok := decimalLine(g[i])
		if !ok {
			return false
		}
		wd, ok := decimalLine(w[i])
		if !ok {
			return false
		}
		if len(gd) != len(wd) {
			return false
		}
		for j := range gd {
			if !gd[j].equal(wd[j]) {
				return false
			}
		}
	}
	return true
}

// decimalLine is LiveCodeBench's convert_line_to_decimals: every whitespace
// token must parse as a Python Decimal.
func decimalLine(line string) ([]decimal, bool) {
	fields := strings.FieldsFunc(line, isPySpace)
	out := make([]decimal, 0, len(fields))
	for _, f := range fields {
		d, ok := parseDecimal(f)
		if !ok {
			return nil, false
		}
		out = append(out, d)
	}
	return out, true
}

type decimalKind uint8

const (
	finite decimalKind = iota
	infinite
	nan // quiet or signalling: never equal to anything
)

// decimal is a parsed Python Decimal reduced to what equality needs: the sign,
// the coefficient's digits without leading or trailing zeros and the exponent of
// its last digit. The exponent stays a big.Int so "1e999999999" costs nothing.
type decimal struct {
	kind   decimalKind
	neg    bool
	digits string // "" is zero
	exp    *big.Int
}

func (d decimal) equal(o decimal) bool {
	if d.kind == nan || o.kind == nan {
		return false
	}
	if d.kind != o.kind {
		return false
	}
	if d.kind == infinite {
		return d.neg == o.neg
	}
	if d.digits == "" || o.digits == "" {
		return d.digits == o.digits // zero equals zero whatever its sign
	}
	return d.neg == o.neg && d.digits == o.digits && d.exp.Cmp(o.exp) == 0
}

// parseDecimal accepts Python's Decimal string syntax: an optional sign, then
// digits with an optional point and exponent, or Infinity/Inf/NaN/sNaN (any case,
// NaN with optional diagnostic digits). Underscores may separate digits (PEP 515).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s == "" || !utf8.ValidString(s) {
		return d, false
	}
	if s[0] == '+' || s[0] == '-' {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	lower := strings.ToLower(s)
	switch lower {
	case "inf", "infinity":
		d.kind = infinite
		return d, true
	}
	for _, prefix := range []string{"snan", "nan"} {
		if rest, ok := strings.CutPrefix(lower, prefix); ok {
			if allDigits(rest) {
				d.kind = nan
				return d, true
			}
			return d, false
		}
	}
	mant, expPart, hasExp := strings.Cut(lower, "e")
	intPart, fracPart, _ := strings.Cut(mant, ".")
	intPart, ok1 := stripUnderscores(intPart)
	fracPart, ok2 := stripUnderscores(fracPart)
	if !ok1 || !ok2 || intPart+fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return d, false
	}
	exp := new(big.Int)
	if hasExp {
		e := expPart
		neg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			neg = e[0] == '-'
			e = e[1:]
		}
		e, ok := stripUnderscores(e)
		if !ok || e == "" || !allDigits(e) {
			return d, false
		}
		exp.SetString(e, 10)
		if neg {
			exp.Neg(exp)
		}
	}
	digits := intPart + fracPart
	exp.Sub(exp, big.NewInt(int64(len(fracPart))))
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed))))
	d.digits, d.exp = trimmed, exp
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stripUnderscores removes PEP 515 underscores, which may only sit between digits.
func stripUnderscores(s string) (string, bool) {
	if !strings.Contains(s, "_") {
		return s, true
	}
	if strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return "", false
	}
	return strings.ReplaceAll(s, "_", ""), true
}
