package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/lcb"
)

// Summary is what a run found, written to DIR/summary.json and drawn in
// DIR/report.html.
type Summary struct {
	Benchmark    string          `json:"benchmark"` // "lcb" or "codeforces"
	Problems     int             `json:"problems"`  // problems evaluated
	Samples      int             `json:"samples"`   // programs graded
	Judged       int             `json:"judged"`    // judged in this run
	Cached       int             `json:"cached"`    // answered from the cache
	Deduplicated int             `json:"deduplicated"`
	JudgeCalls   int             `json:"judge_calls"`
	Errors       int             `json:"errors"` // samples the judge could not grade; rerun to retry them
	PassAtK      []Metric        `json:"pass_at_k"`
	ByDifficulty []Group         `json:"by_difficulty,omitempty"`
	ByPlatform   []Group         `json:"by_platform,omitempty"`
	Verdicts     map[string]int  `json:"verdicts"`
	Contests     []ContestScore  `json:"contests,omitempty"`
	IOI          []IOIYear       `json:"ioi,omitempty"` // per year: IOI totals
	RowErrors    []lcb.RowError  `json:"row_errors,omitempty"`
	Skipped      []string        `json:"skipped,omitempty"` // why problems or generations were left out
	Elapsed      Duration        `json:"elapsed"`
	Files        []string        `json:"files"`
	runtimes     []float64       // per graded sample: its slowest test, ms
	problemRows  []problemReport // per problem, for the report's table
}

// Metric is one pass@k value.
type Metric struct {
	K     int     `json:"k"`
	Value float64 `json:"value"`
}

// Group is pass@1 over the problems sharing a difficulty or platform.
type Group struct {
	Name     string  `json:"name"`
	Problems int     `json:"problems"`
	PassAt1  float64 `json:"pass@1"`
}

// ContestScore is a Codeforces contest's tally.
type ContestScore struct {
	Contest  string  `json:"contest"`
	Problems int     `json:"problems"`
	Solved   int     `json:"solved"`   // problems some sample solved
	Expected float64 `json:"expected"` // Σ pass@1: problems one sample solves on average
	Points   float64 `json:"points"`   // points of the solved problems
}

// Duration marshals as seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(time.Duration(d).Seconds(), 'f', 3, 64)), nil
}

type problemReport struct {
	ID, Difficulty, Platform string
	Samples, Passed          int
	Verdicts                 []string
}

// groupPassAt1 averages per-problem pass@1 by a key, groups in order of name.
func groupPassAt1(keys []string, pass1 []float64) []Group {
	sums := map[string]float64{}
	counts := map[string]int{}
	for i, k := range keys {
		if k == "" {
			k = "unknown"
		}
		sums[k] += pass1[i]
		counts[k]++
	}
	var out []Group
	for k, n := range counts {
		out = append(out, Group{Name: k, Problems: n, PassAt1: sums[k] / float64(n)})
	}
	order := map[string]int{"easy": 0, "medium": 1, "hard": 2,
		"<1200": 10, "1200-1599": 11, "1600-1999": 12, "2000-2399": 13, "2400+": 14, "unrated": 15}
	slices.SortFunc(out, func(a, b Group) int {
		oa, aok := order[a.Name]
		ob, bok := order[b.Name]
		switch {
		case aok && bok:
			return oa - ob
		case aok:
			return -1
		case bok:
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// passAtK averages pass@k over problems, for each k every problem has enough
// samples for (lcb_runner leaves the others out).
func passAtK(ns, cs []int, ks []int) []Metric {
	var out []Metric
	for _, k := range ks {
		ok := len(ns) > 0
		for _, n := range ns {
			if n < k {
				ok = false
			}
		}
		if !ok {
			continue
		}
		sum := 0.0
		for i := range ns {
			sum += PassAtK(ns[i], cs[i], k)
		}
		out = append(out, Metric{K: k, Value: sum / float64(len(ns))})
	}
	return out
}

// writeJSON writes v to dir/name, indented as lcb_runner's json.dump(indent=4),
// through a temporary file so a reader never sees half a file.
func writeJSON(dir, name string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return writeFile(filepath.Join(dir, name), buf.Bytes())
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// orderedObject is a JSON object whose keys keep the order they were added in,
// as Python's dicts do, so our files read like lcb_runner's.
type orderedObject struct {
	keys   []string
	values []any
}

func (o *orderedObject) set(k string, v any) {
	o.keys = append(o.keys, k)
	o.values = append(o.values, v)
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
