package difflib

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options bound a comparison. The zero value means no deadline beyond ctx and
// DefaultBudget.
type Options struct {
	Autojunk bool
	// Budget caps the inner steps of find_longest_match over the whole comparison;
	// 0 means DefaultBudget.
	Budget int64
}

// Ratio is Python's difflib.SequenceMatcher(None, a, b, autojunk).ratio() over the
// code points of a and b. It fails only when ctx ends or the budget runs out.
func Ratio(ctx context.Context, a, b string, opts Options) (float64, error) {
	m := Runes(ctx, []rune(a), []rune(b), opts)
	return m.Ratio()
}

// Runes builds a matcher over two code-point sequences.
func Runes(ctx context.Context, a, b []rune, opts Options) *Matcher {
	ia, ib, n := internRunes(a, b)
	return newMatcher(ctx, ia, ib, n, opts.Autojunk, opts.Budget)
}

// Strings builds a matcher over two sequences of strings (lines, for a line diff).
func Strings(ctx context.Context, a, b []string, opts Options) *Matcher {
	ids := make(map[string]int32, len(a)+len(b))
	intern := func(xs []string) []int32 {
		out := make([]int32, len(xs))
		for i, x := range xs {
			id, ok := ids[x]
			if !ok {
				id = int32(len(ids))
				ids[x] = id
			}
			out[i] = id
		}
		return out
	}
	ia, ib := intern(a), intern(b)
	return newMatcher(ctx, ia, ib, len(ids), opts.Autojunk, opts.Budget)
}

// internRunes maps code points to dense ids; ASCII (most of any source file) goes
// through an array rather than the map.
func internRunes(a, b []rune) (ia, ib []int32, n int) {
	var ascii [128]int32
	for i := range ascii {
		ascii[i] = -1
	}
	other := map[rune]int32{}
	next := int32(0)
	intern := func(xs []rune) []int32 {
		out := make([]int32, len(xs))
		for i, r := range xs {
			if r >= 0 && r < 128 {
				if ascii[r] < 0 {
					ascii[r] = next
					next++
				}
				out[i] = ascii[r]
				continue
			}
			id, ok := other[r]
			if !ok {
				id = next
				next++
				other[r] = id
			}
			out[i] = id
		}
		return out
	}
	ia, ib = intern(a), intern(b)
	return ia, ib, int(next)
}

// IsSpace is Python's str.isspace() for one code point (Unicode White_Space plus
// the bidi separators \x1c-\x1f). Go's unicode.IsSpace misses \x1c-\x1f.
func IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0,
		0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// Strip is Python's str.strip() with no argument.
func Strip(s string) string { return strings.TrimFunc(s, IsSpace) }

// isLineBreak reports whether r ends a line for str.splitlines(). \r\n is handled
// by the caller as one break.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// SplitLines is Python's str.splitlines() (keepends=False): it splits on \n, \r\n,
// \r, \v, \f, \x1c, \x1d, \x1e, \x85, \u2028 and \u2029, drops the breaks, and a
// final break adds no empty line.
func SplitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !isLineBreak(r) {
			i += size
			continue
		}
		lines = append(lines, s[start:i])
		i += size
		if r == '\r' && i < len(s) && s[i] == '\n' {
			i++
		}
		start = i
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// UnifiedDiff is difflib.unified_diff(a, b, lineterm="", n=n) without its two
// header lines, joined with "\n" and no trailing newline: exactly the text SWE-RL
// compares. It is "" when a and b do not differ. Line autojunk is on, as in
// Python, where unified_diff cannot turn it off.
func UnifiedDiff(ctx context.Context, a, b []string, n int, budget int64) (string, error) {
	m := Strings(ctx, a, b, Options{Autojunk: true, Budget: budget})
	groups, err := m.GroupedOpCodes(n)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, group := range groups {
		first, last := group[0], group[len(group)-1]
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString("@@ -")
		sb.WriteString(formatRangeUnified(first.I1, last.I2))
		sb.WriteString(" +")
		sb.WriteString(formatRangeUnified(first.J1, last.J2))
		sb.WriteString(" @@")
		for _, c := range group {
			if c.Tag == 'e' {
				for _, line := range a[c.I1:c.I2] {
					sb.WriteString("\n ")
					sb.WriteString(line)
				}
				continue
			}
			if c.Tag == 'r' || c.Tag == 'd' {
				for _, line := range a[c.I1:c.I2] {
					sb.WriteString("\n-")
					sb.WriteString(line)
				}
			}
			if c.Tag == 'r' || c.Tag == 'i' {
				for _, line := range b[c.J1:c.J2] {
					sb.WriteString("\n+")
					sb.WriteString(line)
				}
			}
		}
	}
	return sb.String(), nil
}

// formatRangeUnified is difflib's _format_range_unified.
func formatRangeUnified(start, stop int) string {
	beginning := start + 1
	length := stop - start
	if length == 1 {
		return strconv.Itoa(beginning)
	}
	if length == 0 {
		beginning--
	}
	return strconv.Itoa(beginning) + "," + strconv.Itoa(length)
}
