package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func TestPassAtK(t *testing.T) {
	tests := []struct {
		n, c, k int
		want    float64
	}{
		{10, 3, 1, 0.3},
		{10, 3, 5, 1 - 21.0/252},     // 1 - C(7,5)/C(10,5)
		{5, 3, 2, 1 - 1.0/10},        // 1 - C(2,2)/C(5,2)
		{5, 2, 2, 1 - 3.0/10},        // 1 - C(3,2)/C(5,2)
		{5, 0, 1, 0},                 // nothing passed
		{5, 5, 5, 1},                 // everything passed
		{5, 4, 2, 1},                 // n-c < k: some draw of k must hold a pass
		{200, 1, 100, 0.5},           // 1 - C(199,100)/C(200,100) = 100/200
		{20, 10, 10, 1 - 1/184756.0}, // 1 - C(10,10)/C(20,10)
		{1, 1, 1, 1},
		{0, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n%d_c%d_k%d", tt.n, tt.c, tt.k), func(t *testing.T) {
			if got := PassAtK(tt.n, tt.c, tt.k); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("PassAtK = %.17g, want %.17g", got, tt.want)
			}
		})
	}
}

// TestPassAtKLarge checks the product form against exact binomials where the
// binomials themselves overflow a float64.
func TestPassAtKLarge(t *testing.T) {
	for _, tt := range []struct{ n, c, k int }{{1000, 10, 500}, {2000, 1500, 100}, {1500, 3, 1000}} {
		exact := new(big.Rat).SetFrac(new(big.Int).Binomial(int64(tt.n-tt.c), int64(tt.k)), new(big.Int).Binomial(int64(tt.n), int64(tt.k)))
		want, _ := new(big.Rat).Sub(big.NewRat(1, 1), exact).Float64()
		if got := PassAtK(tt.n, tt.c, tt.k); math.Abs(got-want) > 1e-12 {
			t.Errorf("PassAtK(%d,%d,%d) = %.17g, exact %.17g", tt.n, tt.c, tt.k, got, want)
		}
	}
}

func BenchmarkPassAtK(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		PassAtK(1000, 10, 500)
	}
}

func TestCacheSurvivesATornWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), CacheFile)
	c, err := OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]string{"a", "b"}, []JudgeResult{{Verdict: reward.Accepted}, {Verdict: reward.WrongAnswer}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A crash in the middle of the next append leaves half a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"c","result":{"verd`)
	f.Close()

	c, err = OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("loaded %d records, want 2", c.Len())
	}
	if r, ok := c.Get("b"); !ok || r.Verdict != reward.WrongAnswer {
		t.Errorf("b = %+v, %v", r, ok)
	}
	if err := c.Put([]string{"c"}, []JudgeResult{{Verdict: reward.TimeLimitExceeded}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, ok := c.Get("c"); !ok || r.Verdict != reward.TimeLimitExceeded || c.Len() != 3 {
		t.Errorf("after the torn write was trimmed, c = %+v, %v, %d records", r, ok, c.Len())
	}
}

func TestItemKey(t *testing.T) {
	base := JudgeItem{Language: "python", Source: "print(1)", Tests: json.RawMessage(`[{"input":"","output":"1"}]`), Compare: "lcb"}
	k0, _ := ItemKey(base)
	withID := base
	withID.ID = json.RawMessage(`"x"`)
	if k, _ := ItemKey(withID); k != k0 {
		t.Error("the id changed the key")
	}
	for name, change := range map[string]func(*JudgeItem){
		"source":  func(i *JudgeItem) { i.Source = "print(2)" },
		"tests":   func(i *JudgeItem) { i.Tests = json.RawMessage(`[{"input":"","output":"2"}]`) },
		"limit":   func(i *JudgeItem) { i.TimeLimitMS = 1000 },
		"compare": func(i *JudgeItem) { i.Compare = "tokens" },
		"checker": func(i *JudgeItem) { i.Checker = &Checker{Language: "cpp", Source: "x"} },
	} {
		it := base
		change(&it)
		if k, _ := ItemKey(it); k == k0 {
			t.Errorf("changing the %s kept the key", name)
		}
	}
}

func TestHTTPJudge(t *testing.T) {
	var requests, busy atomic.Int32
	busy.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/v1/code/judge" || r.Method != http.MethodPost {
			http.Error(w, "wrong route", http.StatusNotFound)
			return
		}
		if busy.Add(-1) >= 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"busy","message":"sandbox pool full"}}`))
			return
		}
		var req struct {
			Items []JudgeItem `json:"items"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if len(req.Items) > 2 {
			http.Error(w, "batch too large", 413)
			return
		}
		var res []JudgeResult
		for _, it := range req.Items {
			res = append(res, fakeVerdict(it.Source, 1))
		}
		json.NewEncoder(w).Encode(map[string]any{"results": res})
	}))
	defer srv.Close()
	j := NewHTTPJudge(srv.URL + "/")
	j.Limits.MaxItems = 2
	j.Backoff = Backoff{Attempts: 5, Min: time.Millisecond, Max: 5 * time.Millisecond}
	items := []JudgeItem{{Source: "a"}, {Source: "WRONG"}, {Source: "c"}, {Source: "LOOP"}, {Source: "e"}}
	for i := range items {
		items[i].Tests = json.RawMessage(`[]`)
	}
	res, err := j.Judge(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	want := []reward.Verdict{"AC", "WA", "AC", "TLE", "AC"}
	for i, r := range res {
		if r.Verdict != want[i] {
			t.Errorf("result %d: %s, want %s", i, r.Verdict, want[i])
		}
	}
	// Three batches of at most two, after two busy answers.
	if got := requests.Load(); got != 5 {
		t.Errorf("%d requests, want 5", got)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":"invalid","message":"language cobol"}}`))
	}))
	defer bad.Close()
	requests.Store(0)
	jb := NewHTTPJudge(bad.URL)
	jb.Backoff = j.Backoff
	if _, err := jb.Judge(context.Background(), items[:1]); err == nil || !strings.Contains(err.Error(), "language cobol") {
		t.Errorf("err = %v, want the API's message", err)
	}
	if requests.Load() != 1 {
		t.Errorf("a 400 was retried: %d requests", requests.Load())
	}
}

func TestEncodeBatchesRespectsBytes(t *testing.T) {
	items := make([]JudgeItem, 6)
	for i := range items {
		items[i] = JudgeItem{Source: strings.Repeat("x", 1000), Tests: json.RawMessage(`[]`)}
	}
	bodies, counts, err := encodeBatches(items, Limits{MaxItems: 100, MaxBytes: 2500})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for i, b := range bodies {
		sum += counts[i]
		var req struct{ Items []JudgeItem }
		if err := json.Unmarshal(b, &req); err != nil || len(req.Items) != counts[i] {
			t.Fatalf("body %d does not decode to %d items: %v", i, counts[i], err)
		}
		if counts[i] > 1 && len(b) > 2500 {
			t.Errorf("body %d has %d bytes", i, len(b))
		}
	}
	if sum != 6 || len(bodies) != 3 {
		t.Errorf("%d bodies holding %d items, want 3 holding 6", len(bodies), sum)
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, "lcb", 10)
	clock := p.start
	p.now = func() time.Time { return clock }
	p.every = time.Second
	p.Cached(2)
	clock = clock.Add(2 * time.Second)
	p.Judged(4, 1)
	clock = clock.Add(2 * time.Second)
	p.Judged(4, 0)
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %q", buf.String())
	}
	// 4 judged in 2 s: 2 samples/s, 4 left: 2 s to go.
	if want := "lcb 6/10 (60%) 2.0 samples/s ETA 2s, 2 cached, 1 errors"; !strings.Contains(buf.String(), want) {
		t.Errorf("progress %q lacks %q", buf.String(), want)
	}
	if !strings.Contains(lines[len(lines)-1], "10/10 (100%)") || strings.Contains(buf.String(), "\r") {
		t.Errorf("last line %q (plain output must not redraw)", lines[len(lines)-1])
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, "lcb", 4)
	p.tty = true
	p.every = 0
	p.Judged(2, 0)
	p.Finish()
	if out := buf.String(); !strings.Contains(out, "\r"+strings.Repeat("█", 15)+"░") || !strings.Contains(out, "\x1b[K") {
		t.Errorf("terminal progress %q is not a redrawn bar", out)
	}
}
