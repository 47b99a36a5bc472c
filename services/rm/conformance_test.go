package rm

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// TestIFVerifyMatchesChecker sends IFEval's conformance rows through the
// if_verify and rewards operations as JSON and checks the service hands back
// exactly what package ifeval decides for the same rows: the glue (decoding,
// kwargs, modes, encoding) must not change a verdict. How often ifeval agrees
// with the reference implementation is ifeval's own test; it is logged here.
func TestIFVerifyMatchesChecker(t *testing.T) {
	rows := readIFRows(t, conformance.Path(t, "if", "ifeval_cases.jsonl"))
	rows = append(rows, readIFRows(t, conformance.Path(t, "if", "ifeval_synthetic_cases.jsonl"))...)
	if _, err := ifeval.Check(ifeval.Input{Prompt: "p", Response: "r", InstructionIDs: []string{"punctuation:no_comma"}, Kwargs: []map[string]any{{}}}); err != nil {
		t.Skipf("package ifeval cannot check yet: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Getenv = func(string) string { return "" }
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	verifyItems := make([]json.RawMessage, len(rows))
	rewardItems := make([]map[string]any, len(rows))
	for i, r := range rows {
		verifyItems[i] = r.raw
		rewardItems[i] = map[string]any{
			"id": i, "domain": "if", "response": r.Response,
			"reference": map[string]any{"prompt": r.Prompt, "instruction_id_list": r.InstructionIDs, "kwargs": r.Kwargs, "mode": "loose"},
		}
	}
	verifyPayload, _ := json.Marshal(map[string]any{"items": verifyItems})
	rewardsPayload, _ := json.Marshal(map[string]any{"items": rewardItems})

	out, err := s.Endpoints()[1].Handler(context.Background(), verifyPayload)
	if err != nil {
		t.Fatal(err)
	}
	var verified struct {
		Results []verifyResult `json:"results"`
	}
	if err := json.Unmarshal(out, &verified); err != nil {
		t.Fatal(err)
	}
	out, err = s.handleRewards(context.Background(), rewardsPayload)
	if err != nil {
		t.Fatal(err)
	}
	var rewarded struct {
		Results []struct {
			Reward  float64   `json:"reward"`
			Details ifDetails `json:"details"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &rewarded); err != nil {
		t.Fatal(err)
	}

	var agree, total int
	for i, r := range rows {
		want, err := ifeval.Check(r.Input)
		got := verified.Results[i]
		if err != nil {
			if got.Error == nil {
				t.Errorf("row %d: checker failed (%v) but the service answered %+v", r.Key, err, got)
			}
			continue
		}
		if got.Error != nil || !reflect.DeepEqual(*got.Strict, want.Strict) || !reflect.DeepEqual(*got.Loose, want.Loose) {
			t.Errorf("row %d: service %+v, checker %+v", r.Key, got, want)
			continue
		}
		wantReward := 0.0
		if want.Loose.FollowAll {
			wantReward = 1
		}
		if rw := rewarded.Results[i]; rw.Reward != wantReward || rw.Details.Mode != "loose" {
			t.Errorf("row %d: rewards answered %v (%+v), want %v", r.Key, rw.Reward, rw.Details, wantReward)
		}
		for k := range want.Strict.FollowList {
			total += 2
			if want.Strict.FollowList[k] == r.Strict.FollowList[k] {
				agree++
			}
			if want.Loose.FollowList[k] == r.Loose.FollowList[k] {
				agree++
			}
		}
	}
	t.Logf("ifeval agrees with the reference on %d/%d per-instruction verdicts (strict and loose)", agree, total)
}

type ifRow struct {
	ifeval.Input
	Key    int            `json:"key"`
	Strict ifeval.Verdict `json:"strict"`
	Loose  ifeval.Verdict `json:"loose"`
	raw    json.RawMessage
}

func readIFRows(t *testing.T, path string) []ifRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open conformance data: %v", err)
	}
	defer f.Close()
	var rows []ifRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r ifRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r.raw = append(json.RawMessage(nil), sc.Bytes()...)
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows
}
