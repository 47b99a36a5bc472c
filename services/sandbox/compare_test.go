package sandbox

import (
	"testing"
)

func TestCompareLCB(t *testing.T) {
	cases := []struct {
		name      string
		got, want string
		equal     bool
	}{
		{"identical", "1\n2\n", "1\n2\n", true},
		{"trailing newline ignored", "1\n2", "1\n2\n", true},
		{"line whitespace stripped", "  1 \t\n2  \n", "1\n2", true},
		{"crlf", "1\r\n2\r\n", "1\n2\n", true},
		{"inner spaces differ but decimals equal", "1  2", "1 2", true},
		{"decimal equality", "1.0 2.50", "1 2.5", true},
		{"exponent", "1e2", "100", true},
		{"negative zero", "-0", "0", true},
		{"infinity", "inf", "Infinity", true},
		{"nan lines equal only as text", "nan", "NaN", false},
		{"nan string equal as text", "NaN x", "NaN x", true},
		{"words differ", "YES", "NO", false},
		{"case matters", "yes", "YES", false},
		{"line count differs", "1\n2", "1", false},
		{"blank line inside counts", "1\n\n2", "1\n2", false},
		{"tokens not decimals", "1 a", "1 b", false},
		{"decimal vs word", "1", "one", false},
		{"token count differs", "1 2", "1 2 0", false},
		{"empty vs empty", "", "\n", true},
		{"empty vs zero", "", "0", false},
		{"underscore digits", "1_000", "1000", true},
		{"python whitespace U+001F stripped", "5\x1f", "5", true},
		{"nbsp stripped", "\u00a05", "5", true},
		{"plus sign", "+5", "5", true},
		{"leading zeros", "007", "7", true},
		{"float rounding is not tolerated", "0.3333", "0.33333", false},
	}
	cmp := Comparer{Mode: CompareLCB}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cmp.Equal(tc.got, tc.want); got != tc.equal {
				t.Fatalf("Equal(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.equal)
			}
		})
	}
}

func TestCompareModes(t *testing.T) {
	cases := []struct {
		mode      string
		got, want string
		equal     bool
	}{
		{"tokens", "1  2\n3", "1 2 3\n", true},
		{"tokens", "1 2", "1 2 3", false},
		{"tokens", "1.0", "1", false},
		{"exact", "1\n", "1\n", true},
		{"exact", "1", "1\n", false},
		{"float:1e-6", "0.3333333", "0.33333333", true},
		{"float:1e-6", "0.334", "0.333", false},
		{"float:1e-6", "1000000.5", "1000000", true}, // relative error 5e-7
		{"float:1e-6", "abc 1.0", "abc 1.0000001", true},
		{"float:1e-6", "abc", "abd", false},
		{"float:0", "1", "1.0", true},
		{"float:1e-9", "nan", "nan", true},
		{"float:1e-9", "inf", "1e308", false},
		{"lcb", "1.0", "1", true},
		{"", "1.0", "1", true},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.got, func(t *testing.T) {
			c, err := ParseCompare(tc.mode)
			if err != nil {
				t.Fatalf("ParseCompare(%q): %v", tc.mode, err)
			}
			if got := c.Equal(tc.got, tc.want); got != tc.equal {
				t.Fatalf("%s Equal(%q, %q) = %v, want %v", tc.mode, tc.got, tc.want, got, tc.equal)
			}
		})
	}
}

func TestParseCompareErrors(t *testing.T) {
	for _, bad := range []string{"float", "float:", "float:x", "float:-1", "float:inf", "fuzzy", "LCB"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := ParseCompare(bad); err == nil {
				t.Fatalf("ParseCompare(%q) accepted it", bad)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"0", true}, {"-1", true}, {"+1.5", true}, {".5", true}, {"5.", true}, {"1e5", true},
		{"1E-5", true}, {"1e+5", true}, {"Infinity", true}, {"-inf", true}, {"NaN", true},
		{"nan123", true}, {"sNaN", true}, {"1_0", true},
		{"", false}, {".", false}, {"e5", false}, {"1e", false}, {"1..2", false}, {"0x10", false},
		{"1_", false}, {"_1", false}, {"1__0", false}, {"nanx", false}, {"--1", false}, {"1 2", false},
		{"١", false}, // Python accepts other scripts' digits; this judge does not
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if _, ok := parseDecimal(tc.in); ok != tc.ok {
				t.Fatalf("parseDecimal(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
		})
	}
}

func TestDecimalEqual(t *testing.T) {
	cases := []struct {
		a, b  string
		equal bool
	}{
		{"1", "1.000", true},
		{"100", "1e2", true},
		{"0.001", "1e-3", true},
		{"0", "-0.0e7", true},
		{"1e999999999999", "1e999999999999", true},
		{"1e999999999999", "1e999999999998", false},
		{"-1", "1", false},
		{"inf", "-inf", false},
		{"12", "120e-1", true},
	}
	for _, tc := range cases {
		t.Run(tc.a+"="+tc.b, func(t *testing.T) {
			a, _ := parseDecimal(tc.a)
			b, _ := parseDecimal(tc.b)
			if got := a.equal(b); got != tc.equal {
				t.Fatalf("%s == %s: %v, want %v", tc.a, tc.b, got, tc.equal)
			}
		})
	}
}

func FuzzCompareLCB(f *testing.F) {
	for _, s := range []string{"1 2\n3", "1.0e5", "nan", "Infinity\n\n", "1_000", "\x1f\u00a0", "\xff\xfe"} {
		f.Add(s, s+"\n")
	}
	cmp := Comparer{Mode: CompareLCB}
	f.Fuzz(func(t *testing.T, a, b string) {
		// Equality is symmetric, and a text equals itself unless it holds a NaN.
		if cmp.Equal(a, b) != cmp.Equal(b, a) {
			t.Fatalf("asymmetric: %q %q", a, b)
		}
		if !cmp.Equal(a, a) {
			for _, line := range strippedLines(a) {
				if ds, ok := decimalLine(line); ok {
					for _, d := range ds {
						if d.kind == nan {
							return
						}
					}
				}
			}
			t.Fatalf("%q is not equal to itself", a)
		}
	})
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1", "-1.5e-3", "inf", "sNaN12", "1_000.000_1", "00.00e+00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseDecimal(s)
		if !ok {
			return
		}
		if d.kind == finite && (d.exp == nil || (d.digits != "" && (d.digits[0] == '0' || d.digits[len(d.digits)-1] == '0'))) {
			t.Fatalf("%q parsed to an unnormalized %+v", s, d)
		}
		if d.kind != nan && !d.equal(d) {
			t.Fatalf("%q is not equal to itself", s)
		}
	})
}

func FuzzParseCompare(f *testing.F) {
	for _, s := range []string{"lcb", "tokens", "exact", "float:1e-6", "float:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCompare(s)
		if err != nil {
			return
		}
		if c.Mode == CompareFloat && !(c.Eps >= 0) {
			t.Fatalf("%q gave a negative or NaN eps", s)
		}
		_ = c.Equal("1 2", "1 2")
	})
}
