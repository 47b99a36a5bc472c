package swe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"time"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
)

// BenchPair is one line of difflib_ratio.jsonl (the fields Bench reads).
type BenchPair struct {
	ID string `json:"id"`
	A  string `json:"a"`
	B  string `json:"b"`
}

// LoadBenchPairs reads a JSON-lines file of {"id","a","b"} pairs.
func LoadBenchPairs(path string) ([]BenchPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open pairs: %w", err)
	}
	defer f.Close()
	var pairs []BenchPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var p BenchPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("decode pair %d: %w", len(pairs)+1, err)
		}
		pairs = append(pairs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pairs: %w", err)
	}
	if len(pairs) == 0 {
		return nil, errors.New("no pairs in " + path)
	}
	return pairs, nil
}

// benchScript times difflib on the pairs inside Python (start-up and JSON
// reading excluded) and prints the per-pass time and the ratios of one pass.
const benchScript = `
import difflib, json, sys, time
pairs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
min_seconds = float(sys.argv[2])
def one_pass():
    return [difflib.SequenceMatcher(None, p["a"], p["b"], autojunk=aj).ratio()
            for p in pairs for aj in (False, True)]
ratios, passes, start = None, 0, time.perf_counter()
while True:
    r = one_pass()
    ratios = ratios or r
    passes += 1
    elapsed = time.perf_counter() - start
    if elapsed >= min_seconds:
        break
print(json.dumps({"seconds_per_pass": elapsed / passes, "passes": passes,
                  "version": sys.version.split()[0], "ratios": [repr(r) for r in ratios]}))
`

// Bench times the SequenceMatcher port over the pairs in pairsPath (both
// autojunk modes, as one pass) against CPython's difflib on the same pairs in the
// same run, and writes the times and their ratio to w. CPython is skipped, with a
// message, when python3 is not on PATH. Every Go ratio is checked against
// CPython's, bit for bit.
func Bench(ctx context.Context, pairsPath string, w io.Writer) error {
	pairs, err := LoadBenchPairs(pairsPath)
	if err != nil {
		return err
	}
	const minSeconds = 2.0

	onePass := func(out []float64) error {
		for i, p := range pairs {
			for k, aj := range []bool{false, true} {
				r, err := difflib.Ratio(ctx, p.A, p.B, difflib.Options{Autojunk: aj})
				if err != nil {
					return fmt.Errorf("ratio of %s: %w", p.ID, err)
				}
				if out != nil {
					out[2*i+k] = r
				}
			}
		}
		return nil
	}
	goRatios := make([]float64, 2*len(pairs))
	if err := onePass(goRatios); err != nil { // warm-up
		return err
	}
	passes := 0
	start := time.Now()
	for time.Since(start).Seconds() < minSeconds {
		if err := onePass(nil); err != nil {
			return err
		}
		passes++
	}
	goPerPass := time.Since(start).Seconds() / float64(passes)
	fmt.Fprintf(w, "similarity: %d pairs x 2 autojunk modes per pass\n", len(pairs))
	fmt.Fprintf(w, "go       %10.3f ms/pass  (%d passes)\n", goPerPass*1e3, passes)

	python, err := exec.LookPath("python3")
	if err != nil {
		fmt.Fprintln(w, "cpython  skipped: python3 is not on PATH, so there is no baseline to compare with")
		return nil
	}
	pyCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(pyCtx, python, "-c", benchScript, pairsPath, fmt.Sprint(minSeconds))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("run cpython baseline: %w: %s", err, stderr.String())
	}
	var py struct {
		SecondsPerPass float64  `json:"seconds_per_pass"`
		Passes         int      `json:"passes"`
		Version        string   `json:"version"`
		Ratios         []string `json:"ratios"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		return fmt.Errorf("decode cpython baseline: %w", err)
	}
	mismatches := 0
	for i, s := range py.Ratios {
		var v float64
		if _, err := fmt.Sscan(s, &v); err != nil || i >= len(goRatios) || math.Float64bits(v) != math.Float64bits(goRatios[i]) {
			mismatches++
		}
	}
	fmt.Fprintf(w, "cpython  %10.3f ms/pass  (%d passes, Python %s)\n", py.SecondsPerPass*1e3, py.Passes, py.Version)
	fmt.Fprintf(w, "speedup  %10.1fx\n", py.SecondsPerPass/goPerPass)
	fmt.Fprintf(w, "ratios   %d of %d identical to CPython's, bit for bit\n", len(goRatios)-mismatches, len(goRatios))
	if mismatches > 0 {
		return fmt.Errorf("%d ratios differ from CPython's", mismatches)
	}
	return nil
}
