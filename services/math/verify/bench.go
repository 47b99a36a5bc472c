package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// BenchReport is the latency of Verify over a set of gold/pred pairs, and the
// Math-Verify latency recorded for the same pairs where the data carries it.
type BenchReport struct {
	Pairs  int           // pairs timed
	Calls  int           // Verify calls timed (pairs × rounds)
	Median time.Duration // per call
	P99    time.Duration
	Max    time.Duration
	// BaselinePairs had Math-Verify timings stored with them (ms_local:
	// parse gold + parse pred + verify, measured when the data was made, on
	// another machine); BaselineMedian and BaselineP99 are over those.
	BaselinePairs  int
	BaselineMedian time.Duration
	BaselineP99    time.Duration
}

// benchRow is what BenchPairs reads of a conformance row.
type benchRow struct {
	Gold    json.RawMessage `json:"gold"`
	Pred    *string         `json:"pred"`
	Config  *benchConfig    `json:"config"`
	MsLocal *struct {
		ParseGold float64 `json:"parse_gold"`
		ParsePred float64 `json:"parse_pred"`
		Verify    float64 `json:"verify"`
	} `json:"ms_local"`
}

type benchConfig struct {
	Precision int   `json:"precision"`
	Strict    *bool `json:"strict"`
}

// BenchPairs times Verify on every pair of the conformance files
// mathverify_cases.jsonl and othergraders_cases.jsonl in dir, rounds times
// each (at least 1), and reports the median and 99th percentile per call.
func BenchPairs(ctx context.Context, dir string, rounds int) (BenchReport, error) {
	type pair struct {
		gold, pred string
		opts       Options
	}
	var pairs []pair
	var baseline []time.Duration
	for _, name := range []string{"mathverify_cases.jsonl", "othergraders_cases.jsonl"} {
		rows, err := readBenchRows(filepath.Join(dir, name))
		if err != nil {
			return BenchReport{}, err
		}
		for _, r := range rows {
			var gold string
			if r.Pred == nil || json.Unmarshal(r.Gold, &gold) != nil {
				continue
			}
			opts := Options{Strict: true}
			if r.Config != nil {
				opts.Precision = r.Config.Precision
				if r.Config.Strict != nil {
					opts.Strict = *r.Config.Strict
				}
			}
			pairs = append(pairs, pair{gold, *r.Pred, opts})
			if m := r.MsLocal; m != nil {
				ms := m.ParseGold + m.ParsePred + m.Verify
				baseline = append(baseline, time.Duration(ms*float64(time.Millisecond)))
			}
		}
	}
	if len(pairs) == 0 {
		return BenchReport{}, fmt.Errorf("no pairs in %s", dir)
	}
	rounds = max(rounds, 1)
	times := make([]time.Duration, 0, len(pairs)*rounds)
	for range rounds {
		for _, p := range pairs {
			if err := ctx.Err(); err != nil {
				return BenchReport{}, fmt.Errorf("bench pairs: %w", err)
			}
			start := time.Now()
			Verify(ctx, p.gold, p.pred, p.opts)
			times = append(times, time.Since(start))
		}
	}
	rep := BenchReport{Pairs: len(pairs), Calls: len(times)}
	rep.Median, rep.P99, rep.Max = quantiles(times)
	if len(baseline) > 0 {
		rep.BaselinePairs = len(baseline)
		rep.BaselineMedian, rep.BaselineP99, _ = quantiles(baseline)
	}
	return rep, nil
}

func quantiles(d []time.Duration) (median, p99, maxD time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)], s[len(s)-1]
}

func readBenchRows(path string) ([]benchRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open bench pairs: %w", err)
	}
	defer f.Close()
	var rows []benchRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r benchRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

// String reports the numbers and the ratio to the stored baseline.
func (r BenchReport) String() string {
	s := fmt.Sprintf("%d pairs, %d calls: median %v, p99 %v, max %v", r.Pairs, r.Calls, r.Median, r.P99, r.Max)
	if r.BaselinePairs > 0 && r.Median > 0 && r.P99 > 0 {
		s += fmt.Sprintf("; Math-Verify (stored ms_local, %d pairs, another machine): median %v (%.0f× ours), p99 %v (%.0f× ours)",
			r.BaselinePairs, r.BaselineMedian, float64(r.BaselineMedian)/float64(r.Median), r.BaselineP99, float64(r.BaselineP99)/float64(r.P99))
	}
	return s
}
