package ifeval

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/internal/py"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/langdetect"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/punkt"
)

// goldenRow is what NLTK 3.8 and langdetect 1.0.9 said about one text
// (testdata/gen_golden.py wrote them). Rows from the conformance files name the
// file and key instead of carrying the text.
type goldenRow struct {
	Text       *string  `json:"text"`
	File       string   `json:"file"`
	Key        int      `json:"key"`
	Sentences  [][2]int `json:"sentences"`
	WordsN     int      `json:"words_n"`
	WordsSHA   string   `json:"words_sha"`
	UpperWords int      `json:"upper_words"`
	Lang       string   `json:"lang"`
}

func loadGolden(t *testing.T) []goldenRow {
	t.Helper()
	f, err := os.Open("testdata/golden_tokenize.jsonl.gz")
	if err != nil {
		t.Fatalf("open golden: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip golden: %v", err)
	}
	var rows []goldenRow
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var r goldenRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decode golden: %v", err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read golden: %v", err)
	}
	return rows
}

// goldenTexts resolves every row's text, reading the conformance responses when
// a row refers to them (those rows are dropped when the data is absent).
func goldenTexts(t *testing.T) ([]goldenRow, []string) {
	t.Helper()
	rows := loadGolden(t)
	responses := map[int]string{}
	// A subtest, so that missing conformance data skips only these rows.
	t.Run("conformance responses", func(t *testing.T) {
		for _, r := range loadConformance(t) {
			responses[r.Key] = r.Response
		}
	})
	var keep []goldenRow
	var texts []string
	for i, r := range rows {
		// -short checks one row in eight: the full set takes minutes under -race.
		if testing.Short() && i%8 != 0 {
			continue
		}
		if r.Text != nil {
			texts = append(texts, *r.Text)
		} else if s, ok := responses[r.Key]; ok {
			texts = append(texts, s)
		} else {
			continue
		}
		keep = append(keep, r)
	}
	t.Logf("%d texts (%d from the conformance files)", len(keep), len(responses))
	return keep, texts
}

func label(r goldenRow, text string) string {
	if r.Text == nil {
		return fmt.Sprintf("%s key %d", r.File, r.Key)
	}
	return fmt.Sprintf("%q", text)
}

// TestGoldenSentences checks punkt.SentenceSpans against NLTK's span_tokenize.
func TestGoldenSentences(t *testing.T) {
	rows, texts := goldenTexts(t)
	for i, r := range rows {
		got := punkt.SentenceSpans(texts[i])
		if !slices.Equal(got, r.Sentences) {
			t.Errorf("%s: spans %v, NLTK %v", label(r, texts[i]), got, r.Sentences)
		}
	}
}

// TestGoldenWords checks punkt.WordTokenize against nltk.word_tokenize.
func TestGoldenWords(t *testing.T) {
	rows, texts := goldenTexts(t)
	for i, r := range rows {
		words := punkt.WordTokenize(texts[i])
		sum := sha256.Sum256([]byte(strings.Join(words, "\x00")))
		upper := 0
		for _, w := range words {
			if py.IsUpper(w) {
				upper++
			}
		}
		if len(words) != r.WordsN || hex.EncodeToString(sum[:]) != r.WordsSHA || upper != r.UpperWords {
			t.Errorf("%s: %d words (%d upper) %q; NLTK has %d (%d upper)", label(r, texts[i]), len(words), upper, words, r.WordsN, r.UpperWords)
		}
	}
}

// TestGoldenLanguages checks langdetect.Detect against langdetect.detect with seed 0.
func TestGoldenLanguages(t *testing.T) {
	rows, texts := goldenTexts(t)
	for i, r := range rows {
		got, err := langdetect.Detect(texts[i])
		if err != nil {
			got = "!nofeatures"
		}
		if got != r.Lang {
			t.Errorf("%s: %s, langdetect %s", label(r, texts[i]), got, r.Lang)
		}
	}
}
