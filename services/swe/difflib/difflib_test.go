package difflib

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

type ratioPair struct {
	ID            string  `json:"id"`
	Kind          string  `json:"kind"`
	A             string  `json:"a"`
	B             string  `json:"b"`
	RatioNoJunk   float64 `json:"ratio_autojunk_false"`
	RatioAutojunk float64 `json:"ratio_autojunk_true"`
}

func loadPairs(t testing.TB) []ratioPair {
	t.Helper()
	f, err := os.Open(conformance.Path(t, "swe", "difflib_ratio.jsonl"))
	if err != nil {
		t.Fatalf("open pairs: %v", err)
	}
	defer f.Close()
	var pairs []ratioPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var p ratioPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("decode pair: %v", err)
		}
		pairs = append(pairs, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read pairs: %v", err)
	}
	return pairs
}

// TestRatioConformance checks every pair, both autojunk modes, bit for bit.
func TestRatioConformance(t *testing.T) {
	pairs := loadPairs(t)
	if len(pairs) != 300 {
		t.Fatalf("got %d pairs, want 300", len(pairs))
	}
	ctx := context.Background()
	mismatches := 0
	for _, p := range pairs {
		for _, mode := range []struct {
			autojunk bool
			want     float64
		}{{false, p.RatioNoJunk}, {true, p.RatioAutojunk}} {
			got, err := Ratio(ctx, p.A, p.B, Options{Autojunk: mode.autojunk})
			if err != nil {
				t.Errorf("%s autojunk=%v: %v", p.ID, mode.autojunk, err)
				continue
			}
			if math.Float64bits(got) != math.Float64bits(mode.want) {
				mismatches++
				t.Errorf("%s (%s) autojunk=%v: ratio %v, Python %v", p.ID, p.Kind, mode.autojunk, got, mode.want)
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d of %d ratios differ from Python", mismatches, 2*len(pairs))
	}
}

// slowMatcher is a second, independent transcription of Python's algorithm on
// runes with maps, as CPython runs it; the fuzz test holds the fast one to it.
func slowRatio(a, b []rune, autojunk bool) float64 {
	b2j := map[rune][]int{}
	for j, r := range b {
		b2j[r] = append(b2j[r], j)
	}
	if n := len(b); autojunk && n >= 200 {
		ntest := n/100 + 1
		for r, idxs := range b2j {
			if len(idxs) > ntest {
				delete(b2j, r)
			}
		}
	}
	longest := func(alo, ahi, blo, bhi int) (int, int, int) {
		besti, bestj, bestsize := alo, blo, 0
		j2len := map[int]int{}
		for i := alo; i < ahi; i++ {
			newj2len := map[int]int{}
			for _, j := range b2j[a[i]] {
				if j < blo {
					continue
				}
				if j >= bhi {
					break
				}
				k := j2len[j-1] + 1
				newj2len[j] = k
				if k > bestsize {
					besti, bestj, bestsize = i-k+1, j-k+1, k
				}
			}
			j2len = newj2len
		}
		for besti > alo && bestj > blo && a[besti-1] == b[bestj-1] {
			besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
		}
		for besti+bestsize < ahi && bestj+bestsize < bhi && a[besti+bestsize] == b[bestj+bestsize] {
			bestsize++
		}
		return besti, bestj, bestsize
	}
	matches := 0
	queue := [][4]int{{0, len(a), 0, len(b)}}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		i, j, k := longest(q[0], q[1], q[2], q[3])
		if k == 0 {
			continue
		}
		matches += k
		if q[0] < i && q[2] < j {
			queue = append(queue, [4]int{q[0], i, q[2], j})
		}
		if i+k < q[1] && j+k < q[3] {
			queue = append(queue, [4]int{i + k, q[1], j + k, q[3]})
		}
	}
	if len(a)+len(b) == 0 {
		return 1
	}
	return 2.0 * float64(matches) / float64(len(a)+len(b))
}

func TestRatioAgainstSlow(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"empty", "", ""},
		{"one empty", "abc", ""},
		{"identical", "héllo wörld", "héllo wörld"},
		{"astral", "a😀b😀c", "a😀c"},
		{"tie-break", "abxab", "ab"},
		{"popular", strings.Repeat("ab", 150) + "z", strings.Repeat("ba", 150) + "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, aj := range []bool{false, true} {
				got, err := Ratio(context.Background(), tt.a, tt.b, Options{Autojunk: aj})
				if err != nil {
					t.Fatal(err)
				}
				if want := slowRatio([]rune(tt.a), []rune(tt.b), aj); got != want {
					t.Errorf("autojunk=%v: %v, slow reference %v", aj, got, want)
				}
			}
		})
	}
}

func TestBudgetAndContext(t *testing.T) {
	a := strings.Repeat("a", 3000)
	_, err := Ratio(context.Background(), a, a+"b", Options{Budget: 1000})
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("tiny budget: err %v, want ErrBudget", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Ratio(ctx, strings.Repeat("a", 20000), strings.Repeat("a", 20000), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: err %v, want context.Canceled", err)
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"a\r\nb\rc\n", []string{"a", "b", "c"}},
		{"a\r\r\nb", []string{"a", "", "b"}},
		{"a\vb\fc\x1cd\x1de\x1ef\x1fg", []string{"a", "b", "c", "d", "e", "f\x1fg"}},
		{"a\u0085b\u2028c\u2029d\u200be", []string{"a", "b", "c", "d\u200be"}},
		{"\n", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := SplitLines(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("SplitLines(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{" \t\n x \r", "x"},
		{"\x1c\x1f x \x1e", "x"},
		{"\u3000\u00a0x\u2028\u2029\u0085", "x"},
		{"\u200bx\u200b", "\u200bx\u200b"},
		{"\u2000\u200a", ""},
	}
	for _, tt := range tests {
		if got := Strip(tt.in); got != tt.want {
			t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	b := slices.Clone(a)
	b[1] = "two"
	b = append(b[:10], b[11:]...)
	got, err := UnifiedDiff(context.Background(), a, b, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	// What Python's difflib.unified_diff(a, b, lineterm="", n=3) prints past its
	// header: the two changes are 8 lines apart, more than 2n, so two hunks.
	want := "@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -8,5 +8,4 @@\n 8\n 9\n 10\n-11\n 12"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got, _ := UnifiedDiff(context.Background(), a, a, 3, 0); got != "" {
		t.Errorf("no change gave %q", got)
	}
	got, _ = UnifiedDiff(context.Background(), nil, []string{"x", "y"}, 3, 0)
	if want := "@@ -0,0 +1,2 @@\n+x\n+y"; got != want {
		t.Errorf("new file: %q, want %q", got, want)
	}
}

func FuzzRatio(f *testing.F) {
	f.Add("abcd", "bcde", false)
	f.Add("", "x", true)
	f.Add("héllo", "hello", false)
	f.Add(strings.Repeat("ab\n", 120), strings.Repeat("ba\n", 110), true)
	f.Fuzz(func(t *testing.T, a, b string, autojunk bool) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // the service only sees JSON strings, which are valid UTF-8
		}
		ctx := context.Background()
		got, err := Ratio(ctx, a, b, Options{Autojunk: autojunk})
		if err != nil {
			t.Fatal(err)
		}
		if got < 0 || got > 1 {
			t.Fatalf("ratio %v out of [0,1]", got)
		}
		if want := slowRatio([]rune(a), []rune(b), autojunk); got != want {
			t.Fatalf("ratio %v, slow reference %v", got, want)
		}
		// Only without autojunk: with it, a string made of one popular element
		// has no seed for a match, and Python rates it 0 against itself.
		if self, _ := Ratio(ctx, a, a, Options{}); self != 1 {
			t.Fatalf("ratio(a, a) = %v", self)
		}
		la, lb := SplitLines(a), SplitLines(b)
		if _, err := UnifiedDiff(ctx, la, lb, 3, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRatioRandomAgainstSlow covers what fuzzing rarely reaches: sequences of
// 200+ elements over small alphabets, where autojunk's popularity rule applies.
func TestRatioRandomAgainstSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{"ab", "abc\n", "abcdefgh ", "aé😀\n"}
	for n := range 200 {
		alpha := []rune(alphabets[n%len(alphabets)])
		gen := func() []rune {
			s := make([]rune, 150+rng.IntN(300))
			for i := range s {
				s[i] = alpha[rng.IntN(len(alpha))]
			}
			return s
		}
		a, b := gen(), gen()
		if n%3 == 0 { // a near copy, as in real diffs
			b = append(append(slices.Clone(a[:len(a)/2]), gen()[:20]...), a[len(a)/2:]...)
		}
		for _, aj := range []bool{false, true} {
			got, err := Ratio(context.Background(), string(a), string(b), Options{Autojunk: aj})
			if err != nil {
				t.Fatal(err)
			}
			if want := slowRatio(a, b, aj); got != want {
				t.Fatalf("case %d autojunk=%v: %v, slow reference %v", n, aj, got, want)
			}
		}
	}
}
