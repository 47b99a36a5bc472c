package swe

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

type swerlCase struct {
	ID            string            `json:"id"`
	Kind          string            `json:"kind"`
	Description   string            `json:"description"`
	OriginalFiles map[string]string `json:"original_files"`
	OracleFiles   map[string]string `json:"oracle_files"`
	OraclePatch   string            `json:"oracle_patch"`
	Output        string            `json:"output"`
	Reward        float64           `json:"swerl_reward"`
	AnyOrder      []float64         `json:"swerl_reward_any_order"`
	Metadata      struct {
		Error        *string          `json:"error"`
		Similarities []FileSimilarity `json:"similarities"`
		Thought      *string          `json:"thought"`
		Answer       *string          `json:"answer"`
	} `json:"swerl_metadata"`
	CascadeNote string `json:"cascade_reward_note"`
}

func loadCases(t testing.TB) []swerlCase {
	t.Helper()
	f, err := os.Open(conformance.Path(t, "swe", "swerl_reward_cases.jsonl"))
	if err != nil {
		t.Fatalf("open cases: %v", err)
	}
	defer f.Close()
	var cases []swerlCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var c swerlCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("decode case: %v", err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read cases: %v", err)
	}
	return cases
}

// TestSWERLConformance reproduces SWE-RL's reward and metadata on every case,
// once with the oracle as files and once as a git patch.
func TestSWERLConformance(t *testing.T) {
	cases := loadCases(t)
	if len(cases) != 259 {
		t.Fatalf("got %d cases, want 259", len(cases))
	}
	var s Scorer
	for _, oracle := range []string{"oracle_files", "oracle_patch"} {
		t.Run(oracle, func(t *testing.T) {
			failed := 0
			for _, c := range cases {
				task := Task{Response: c.Output, OriginalFiles: c.OriginalFiles, Rule: RuleSWERL}
				if oracle == "oracle_files" {
					task.OracleFiles = c.OracleFiles
				} else {
					task.OraclePatch = c.OraclePatch
				}
				got, err := s.Score(context.Background(), task)
				if err != nil {
					t.Errorf("%s: %v", c.ID, err)
					failed++
					continue
				}
				if !checkCase(t, c, got) {
					failed++
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d cases differ from SWE-RL", failed, len(cases))
			}
		})
	}
}

func checkCase(t *testing.T, c swerlCase, got Outcome) bool {
	t.Helper()
	ok := true
	if !slices.ContainsFunc(c.AnyOrder, func(v float64) bool { return math.Float64bits(v) == math.Float64bits(got.Reward) }) {
		t.Errorf("%s (%s: %s): reward %v, SWE-RL %v (any of %v)", c.ID, c.Kind, c.Description, got.Reward, c.Reward, c.AnyOrder)
		ok = false
	}
	if c.Metadata.Error != nil {
		if got.Reason != *c.Metadata.Error {
			t.Errorf("%s: reason %q, SWE-RL error %q", c.ID, got.Reason, *c.Metadata.Error)
			ok = false
		}
		return ok
	}
	want := map[string]FileSimilarity{}
	for _, s := range c.Metadata.Similarities {
		want[s.Path] = s
	}
	if len(got.Similarities) != len(want) {
		t.Errorf("%s: %d similarities, SWE-RL %d", c.ID, len(got.Similarities), len(want))
		return false
	}
	for _, s := range got.Similarities {
		w, found := want[s.Path]
		switch {
		case !found:
			t.Errorf("%s: similarity for %q, which SWE-RL does not list", c.ID, s.Path)
			ok = false
		case s.PredChange != w.PredChange || s.OracleChange != w.OracleChange:
			t.Errorf("%s %q: diff text differs\npred:   %q\nwant:   %q\noracle: %q\nwant:   %q", c.ID, s.Path, s.PredChange, w.PredChange, s.OracleChange, w.OracleChange)
			ok = false
		case math.Float64bits(s.Similarity) != math.Float64bits(w.Similarity):
			t.Errorf("%s %q: similarity %v, SWE-RL %v", c.ID, s.Path, s.Similarity, w.Similarity)
			ok = false
		}
	}
	if c.Metadata.Thought != nil && got.Thought != *c.Metadata.Thought {
		t.Errorf("%s: thought %q, SWE-RL %q", c.ID, got.Thought, *c.Metadata.Thought)
		ok = false
	}
	if c.Metadata.Answer != nil && got.Answer != *c.Metadata.Answer {
		t.Errorf("%s: answer differs from SWE-RL's", c.ID)
		ok = false
	}
	return ok
}
