// Package langdetect ports Python's langdetect 1.0.9 (Mimino666/langdetect,
// itself a port of Shuyo Nakatani's language-detection), with
// DetectorFactory.seed = 0 as IFEval's harnesses set it, so that Detect returns
// what langdetect.detect returns: the same 55 language profiles (embedded from
// the package, Apache 2.0), the same text cleaning and n-gram extraction, and the
// same Mersenne Twister draws for the 7 randomized trials.
package langdetect

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

//go:embed profiles data/messages.properties
var dataFS embed.FS

// ErrNoFeatures is langdetect's "No features in text." (CantDetectError): the
// text holds no letter n-gram any profile knows.
var ErrNoFeatures = errors.New("langdetect: no features in text")

const (
	nGram          = 3
	alphaDefault   = 0.5
	alphaWidth     = 0.05
	iterationLimit = 1000
	probThreshold  = 0.1
	convThreshold  = 0.99999
	baseFreq       = 10000
	nTrial         = 7
	maxTextLength  = 10000
	seed           = 0
)

// langProb is one language's probability for an n-gram; an n-gram keeps only the
// languages where it occurs, in language order.
type langProb struct {
	lang int
	prob float64
}

type model struct {
	langs      []string
	wordLangs  map[string][]langProb
	latin1Excl string
	cjkMap     map[rune]rune
	viBase     []rune
	viMarks    []rune
	viNormal   [][]rune
}

var (
	once    sync.Once
	loaded  *model
	loadErr error
)

func get() (*model, error) {
	once.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*model, error) {
	m := &model{wordLangs: map[string][]langProb{}, cjkMap: map[rune]rune{}}
	entries, err := dataFS.ReadDir("profiles")
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for idx, name := range names {
		b, err := dataFS.ReadFile(path.Join("profiles", name))
		if err != nil {
			return nil, fmt.Errorf("read profile %s: %w", name, err)
		}
		var p struct {
			Name   string         `json:"name"`
			Freq   map[string]int `json:"freq"`
			NWords []int          `json:"n_words"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("decode profile %s: %w", name, err)
		}
		if len(p.NWords) < nGram {
			return nil, fmt.Errorf("profile %s: n_words has %d entries", name, len(p.NWords))
		}
		m.langs = append(m.langs, p.Name)
		for word, freq := range p.Freq {
			n := len([]rune(word))
			if n < 1 || n > nGram {
				continue
			}
			m.wordLangs[word] = append(m.wordLangs[word], langProb{idx, float64(freq) / float64(p.NWords[n-1])})
		}
	}
	msgs, err := loadMessages()
	if err != nil {
		return nil, err
	}
	m.latin1Excl = msgs["NGram.LATIN1_EXCLUDE"]
	for k, v := range msgs {
		if strings.HasPrefix(k, "NGram.KANJI_") {
			rs := []rune(v)
			for _, r := range rs {
				m.cjkMap[r] = rs[0]
			}
		}
	}
	m.viBase = []rune(msgs["TO_NORMALIZE_VI_CHARS"])
	m.viMarks = []rune(msgs["DMARK_CLASS"])
	for _, k := range []string{"0300", "0301", "0303", "0309", "0323"} {
		m.viNormal = append(m.viNormal, []rune(msgs["NORMALIZED_VI_CHARS_"+k]))
	}
	if len(m.viBase) == 0 || len(m.viMarks) != len(m.viNormal) {
		return nil, errors.New("messages.properties: Vietnamese tables missing")
	}
	return m, nil
}

// loadMessages reads messages.properties as langdetect does: key=value lines
// whose values use \uXXXX escapes.
func loadMessages() (map[string]string, error) {
	b, err := dataFS.ReadFile("data/messages.properties")
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		var dec strings.Builder
		for i := 0; i < len(value); i++ {
			if value[i] == '\\' && i+6 <= len(value) && value[i+1] == 'u' {
				n, err := strconv.ParseUint(value[i+2:i+6], 16, 32)
				if err != nil {
					return nil, fmt.Errorf("messages %s: %w", key, err)
				}
				dec.WriteRune(rune(n))
				i += 5
				continue
			}
			dec.WriteByte(value[i])
		}
		out[key] = dec.String()
	}
	return out, sc.Err()
}

// Load parses the embedded profiles now (about 10 MB of tables, most of a
// second), so that a service pays it at startup instead of on its first request.
func Load() error {
	_, err := get()
	return err
}

// Languages lists the 55 language codes the profiles cover.
func Languages() []string {
	m, err := get()
	if err != nil {
		return nil
	}
	return slices.Clone(m.langs)
}

// Detect is langdetect.detect(text) with seed 0: the most probable language's
// code, "unknown" when none passes 0.1, or ErrNoFeatures.
func Detect(text string) (string, error) {
	probs, err := Probabilities(text)
	if err != nil {
		return "", err
	}
	if len(probs) == 0 {
		return "unknown", nil
	}
	return probs[0].Lang, nil
}

// Language is a language code with its probability.
type Language struct {
	Lang string
	Prob float64
}

// Probabilities is langdetect.detect_langs(text): the languages above 0.1,
// most probable first.
func Probabilities(text string) ([]Language, error) {
	m, err := get()
	if err != nil {
		return nil, fmt.Errorf("load langdetect profiles: %w", err)
	}
	rs := m.prepare(text)
	rs = cleanLatin(rs)
	ngrams := m.extractNgrams(rs)
	if len(ngrams) == 0 {
		return nil, ErrNoFeatures
	}
	langprob := make([]float64, len(m.langs))
	var rnd pyRandom
	rnd.seed(seed)
	prob := make([]float64, len(m.langs))
	for t := 0; t < nTrial; t++ {
		for i := range prob {
			prob[i] = 1.0 / float64(len(m.langs))
		}
		// float64() stops the compiler from fusing this into one rounding.
		alpha := alphaDefault + float64(rnd.gauss()*alphaWidth)
		weight := alpha / baseFreq
		for i := 0; ; i++ {
			m.update(prob, ngrams[rnd.below(len(ngrams))], weight)
			if i%5 == 0 && (normalize(prob) > convThreshold || i >= iterationLimit) {
				break
			}
		}
		for j := range langprob {
			langprob[j] += prob[j] / nTrial
		}
	}
	var out []Language
	for i, p := range langprob {
		if p > probThreshold {
			out = append(out, Language{m.langs[i], p})
		}
	}
	// Python sorts with reverse=True, which keeps equal items in their order.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Prob > out[j].Prob })
	return out, nil
}

func (m *model) update(prob []float64, word string, weight float64) {
	entries := m.wordLangs[word]
	k := 0
	for i := range prob {
		p := 0.0
		if k < len(entries) && entries[k].lang == i {
			p = entries[k].prob
			k++
		}
		prob[i] *= weight + p
	}
}

// normalize divides by the sum (added left to right, as Python 3.11's sum does)
// and returns the largest probability.
func normalize(prob []float64) float64 {
	sum := 0.0
	for _, p := range prob {
		sum += p
	}
	maxp := 0.0
	for i, p := range prob {
		q := p / sum
		if maxp < q {
			maxp = q
		}
		prob[i] = q
	}
	return maxp
}

// prepare is Detector.append: URLs and e-mail addresses become spaces,
// Vietnamese letters with combining marks are composed, the text is cut to
// 10000 characters and runs of spaces collapse.
func (m *model) prepare(text string) []rune {
	rs := replaceURLs([]rune(text))
	rs = replaceMails(rs)
	rs = m.normalizeVi(rs)
	out := make([]rune, 0, min(len(rs), maxTextLength))
	pre := rune(0)
	for i := 0; i < len(rs) && i < maxTextLength; i++ {
		ch := rs[i]
		if ch != ' ' || pre != ' ' {
			out = append(out, ch)
		}
		pre = ch
	}
	return out
}

// cleanLatin is cleaning_text: when Latin letters are under a third of the
// text's other letters, they are dropped. langdetect compares the block of each
// character with a string that never matches, so every character from U+0300 up
// counts as non-Latin; we do the same.
func cleanLatin(rs []rune) []rune {
	latin, nonLatin := 0, 0
	for _, ch := range rs {
		if 'A' <= ch && ch <= 'z' {
			latin++
		} else if ch >= 0x300 {
			nonLatin++
		}
	}
	if latin*2 >= nonLatin {
		return rs
	}
	out := rs[:0:0]
	for _, ch := range rs {
		if ch < 'A' || 'z' < ch {
			out = append(out, ch)
		}
	}
	return out
}

func (m *model) normalizeVi(rs []rune) []rune {
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); i++ {
		if i+1 < len(rs) {
			a := slices.Index(m.viBase, rs[i])
			d := slices.Index(m.viMarks, rs[i+1])
			if a >= 0 && d >= 0 && a < len(m.viNormal[d]) {
				out = append(out, m.viNormal[d][a])
				i++
				continue
			}
		}
		out = append(out, rs[i])
	}
	return out
}

// extractNgrams is _extract_ngrams: every 1-, 2- and 3-gram of the normalized
// text that some profile knows, skipping words written in capitals.
func (m *model) extractNgrams(rs []rune) []string {
	var out []string
	grams := []rune{' '}
	capital := false
	for _, raw := range rs {
		ch := m.normalize(raw)
		last := grams[len(grams)-1]
		if last == ' ' {
			grams = grams[:0]
			grams = append(grams, ' ')
			capital = false
			if ch == ' ' {
				continue
			}
		} else if len(grams) >= nGram {
			grams = append(grams[:0], grams[1:]...)
		}
		grams = append(grams, ch)
		if isUpper(ch) {
			if isUpper(last) {
				capital = true
			}
		} else {
			capital = false
		}
		if capital {
			continue
		}
		for n := 1; n <= nGram; n++ {
			if len(grams) < n {
				break
			}
			w := string(grams[len(grams)-n:])
			if w != " " {
				if _, ok := m.wordLangs[w]; ok {
					out = append(out, w)
				}
			}
		}
	}
	return out
}

func isUpper(r rune) bool { return unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r) }

// normalize is NGram.normalize: one character mapped by its Unicode block.
func (m *model) normalize(ch rune) rune {
	switch {
	case ch <= 0x7f:
		if ch < 'A' || ('Z' < ch && ch < 'a') || 'z' < ch {
			return ' '
		}
	case ch <= 0xff:
		if strings.ContainsRune(m.latin1Excl, ch) {
			return ' '
		}
	case 0x180 <= ch && ch <= 0x24f:
		switch ch {
		case 0x219:
			return 0x15f
		case 0x21b:
			return 0x163
		}
	case 0x2000 <= ch && ch <= 0x206f:
		return ' '
	case 0x600 <= ch && ch <= 0x6ff:
		if ch == 0x6cc {
			return 0x64a
		}
	case 0x1e00 <= ch && ch <= 0x1eff:
		if ch >= 0x1ea0 {
			return 0x1ec3
		}
	case 0x3040 <= ch && ch <= 0x309f:
		return 0x3042
	case 0x30a0 <= ch && ch <= 0x30ff:
		return 0x30a2
	case (0x3100 <= ch && ch <= 0x312f) || (0x31a0 <= ch && ch <= 0x31bf):
		return 0x3105
	case 0x4e00 <= ch && ch <= 0x9fff:
		if r, ok := m.cjkMap[ch]; ok {
			return r
		}
	case 0xac00 <= ch && ch <= 0xd7af:
		return 0xac00
	}
	return ch
}

func inURLClass(r rune) bool {
	return ('0' <= r && r <= '9') || ('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z') || strings.ContainsRune("-_.?&~;+=/#", r)
}

// replaceURLs is URL_RE.sub(' ', text), URL_RE = https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}.
func replaceURLs(rs []rune) []rune {
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); {
		if n := urlAt(rs, i); n > 0 {
			out = append(out, ' ')
			i += n
			continue
		}
		out = append(out, rs[i])
		i++
	}
	return out
}

func urlAt(rs []rune, i int) int {
	var prefix int
	switch {
	case hasPrefix(rs[i:], "https://"):
		prefix = len("https://")
	case hasPrefix(rs[i:], "http://"):
		prefix = len("http://")
	default:
		return 0
	}
	j := i + prefix
	for j < len(rs) && j-(i+prefix) < 2076 && inURLClass(rs[j]) {
		j++
	}
	if j == i+prefix {
		return 0
	}
	return j - i
}

func hasPrefix(rs []rune, p string) bool {
	if len(rs) < len(p) {
		return false
	}
	for k, c := range []rune(p) {
		if rs[k] != c {
			return false
		}
	}
	return true
}

func inMailLocal(r rune) bool {
	return ('0' <= r && r <= '9') || ('A' <= r && r <= 'Z') || ('a' <= r && r <= 'z') || r == '-' || r == '_' || r == '.'
}

func inMailHost(r rune) bool { return inMailLocal(r) && r != '.' }

// replaceMails is MAIL_RE.sub(' ', text), MAIL_RE =
// [-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}, with the
// regex engine's backtracking worked out: a local part longer than 64 keeps its
// head, and the host needs two characters unless a dotted part follows.
func replaceMails(rs []rune) []rune {
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); {
		if !inMailLocal(rs[i]) {
			out = append(out, rs[i])
			i++
			continue
		}
		r := i
		for r < len(rs) && inMailLocal(rs[r]) {
			r++
		}
		end := mailHostEnd(rs, r)
		if end < 0 {
			out = append(out, rs[i:r]...)
			i = r
			continue
		}
		start := max(i, r-64)
		out = append(out, rs[i:start]...)
		out = append(out, ' ')
		i = end
	}
	return out
}

// mailHostEnd returns where a match ends when rs[at] is '@' and a valid host
// follows, or -1.
func mailHostEnd(rs []rune, at int) int {
	if at >= len(rs) || rs[at] != '@' {
		return -1
	}
	p := at + 1
	a := 0
	for p+a < len(rs) && a < 255 && inMailHost(rs[p+a]) {
		a++
	}
	b := 0
	for p+a+b < len(rs) && b < 255 && inMailLocal(rs[p+a+b]) {
		b++
	}
	switch {
	case a >= 1 && b >= 1:
		return p + a + b
	case a >= 2:
		return p + a
	}
	return -1
}
