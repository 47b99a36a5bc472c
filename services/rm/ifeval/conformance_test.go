package ifeval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// conformanceRow is one line of the IFEval conformance files, whose verdicts
// come from the official Python code.
type conformanceRow struct {
	Key                 int              `json:"key"`
	Prompt              string           `json:"prompt"`
	Response            string           `json:"response"`
	InstructionIDs      []string         `json:"instruction_id_list"`
	Kwargs              []map[string]any `json:"kwargs"`
	Strict              Verdict          `json:"strict"`
	Loose               Verdict          `json:"loose"`
	UnstableInstruction []int            `json:"unstable_instruction_indices"`
	Case                string           `json:"case"`
}

func (r conformanceRow) input() Input {
	return Input{Prompt: r.Prompt, Response: r.Response, InstructionIDs: r.InstructionIDs, Kwargs: r.Kwargs}
}

var conformanceFiles = []string{"ifeval_cases.jsonl", "ifeval_synthetic_cases.jsonl"}

func loadConformance(tb testing.TB) []conformanceRow {
	tb.Helper()
	var rows []conformanceRow
	for _, name := range conformanceFiles {
		f, err := os.Open(conformance.Path(tb, "if", name))
		if err != nil {
			tb.Fatalf("open %s: %v", name, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
		for sc.Scan() {
			var r conformanceRow
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				tb.Fatalf("%s: decode row: %v", name, err)
			}
			rows = append(rows, r)
		}
		if err := sc.Err(); err != nil {
			tb.Fatalf("read %s: %v", name, err)
		}
		f.Close()
	}
	return rows
}

// TestConformance compares every per-instruction verdict, strict and loose, with
// the official Python's, and fails below 99% in either mode. The instructions the
// data marks unstable (a random letter drawn by the official code) are skipped,
// and so is follow_all_instructions for their rows.
func TestConformance(t *testing.T) {
	rows := loadConformance(t)
	type tally struct{ total, agree int }
	var strict, loose tally
	for _, row := range rows {
		out, err := Check(row.input())
		if err != nil {
			t.Errorf("key %d: Check: %v", row.Key, err)
			continue
		}
		for i, id := range row.InstructionIDs {
			if slices.Contains(row.UnstableInstruction, i) {
				continue
			}
			strict.total++
			if out.Strict.FollowList[i] == row.Strict.FollowList[i] {
				strict.agree++
			} else {
				t.Logf("MISS strict key=%d instruction=%s kwargs=%v got=%v want=%v %s", row.Key, id, row.Kwargs[i], out.Strict.FollowList[i], row.Strict.FollowList[i], row.Case)
			}
			loose.total++
			if out.Loose.FollowList[i] == row.Loose.FollowList[i] {
				loose.agree++
			} else {
				t.Logf("MISS loose key=%d instruction=%s kwargs=%v got=%v want=%v %s", row.Key, id, row.Kwargs[i], out.Loose.FollowList[i], row.Loose.FollowList[i], row.Case)
			}
		}
		if len(row.UnstableInstruction) == 0 {
			if out.Strict.FollowAll != row.Strict.FollowAll {
				t.Logf("MISS strict follow_all key=%d", row.Key)
			}
			if out.Loose.FollowAll != row.Loose.FollowAll {
				t.Logf("MISS loose follow_all key=%d", row.Key)
			}
		}
	}
	rate := func(x tally) float64 { return float64(x.agree) / float64(x.total) }
	t.Logf("strict: %d/%d (%.2f%%), loose: %d/%d (%.2f%%)", strict.agree, strict.total, 100*rate(strict), loose.agree, loose.total, 100*rate(loose))
	if strict.total != 834+121-2 {
		t.Errorf("compared %d instructions, want %d", strict.total, 834+121-2)
	}
	if rate(strict) < 0.99 || rate(loose) < 0.99 {
		t.Errorf("agreement below 99%%: strict %.2f%%, loose %.2f%%", 100*rate(strict), 100*rate(loose))
	}
}

// TestCheckConcurrent runs the conformance rows from several goroutines (the rm
// service checks a batch in parallel) and expects the sequential results.
func TestCheckConcurrent(t *testing.T) {
	rows := loadConformance(t)
	if testing.Short() {
		rows = rows[:100]
	}
	want := make([]Output, len(rows))
	for i, r := range rows {
		out, err := Check(r.input())
		if err != nil {
			t.Fatalf("key %d: %v", r.Key, err)
		}
		want[i] = out
	}
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < len(rows); i += workers {
				out, err := Check(rows[i].input())
				if err != nil || !slices.Equal(out.Strict.FollowList, want[i].Strict.FollowList) || !slices.Equal(out.Loose.FollowList, want[i].Loose.FollowList) {
					errs <- fmt.Errorf("key %d: concurrent result %+v, %v; sequential %+v", rows[i].Key, out, err, want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
