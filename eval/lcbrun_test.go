package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
)

type evalAllRow struct {
	QuestionID string   `json:"question_id"`
	Platform   string   `json:"platform"`
	Difficulty string   `json:"difficulty"`
	CodeList   []string `json:"code_list"`
	OutputList []string `json:"output_list"`
	GradedList []bool   `json:"graded_list"`
	PassAt1    float64  `json:"pass@1"`
	Metadata   []string `json:"metadata"`
}

func TestRunLCB(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	out := filepath.Join(dir, "out")
	judge := newCountingJudge()
	sum, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: out, K: []int{1, 2, 5, 10}}, judge, nil)
	if err != nil {
		t.Fatal(err)
	}

	var all []evalAllRow
	evaltest.ReadJSON(t, filepath.Join(out, "gens_codegeneration_output_eval_all.json"), &all)
	want := map[string][]bool{
		"p1": {true, false, true, false, true},
		"p2": {true, false, false, false, true},
		"p3": {true, true, true, false, true},
	}
	if len(all) != len(want) {
		t.Fatalf("eval_all has %d problems, want %d", len(all), len(want))
	}
	for i, row := range all {
		if i > 0 && all[i-1].QuestionID > row.QuestionID {
			t.Errorf("eval_all is not sorted by question_id")
		}
		if !reflect.DeepEqual(row.GradedList, want[row.QuestionID]) {
			t.Errorf("%s: graded_list %v, want %v", row.QuestionID, row.GradedList, want[row.QuestionID])
		}
		if len(row.Metadata) != len(row.GradedList) {
			t.Errorf("%s: %d metadata for %d samples", row.QuestionID, len(row.Metadata), len(row.GradedList))
		}
	}
	// output_list keeps the raw responses; code_list holds what was extracted.
	if p2 := all[1]; p2.OutputList[0] == p2.CodeList[0] || p2.CodeList[0] != "class Solution: pass" || p2.CodeList[1] != "" {
		t.Errorf("p2 code_list %q from output_list %q", p2.CodeList, p2.OutputList)
	}

	// eval.json is [metrics, per-test results, metadata], as lcb_runner writes it.
	var evalFile []json.RawMessage
	evaltest.ReadJSON(t, filepath.Join(out, "gens_codegeneration_output_eval.json"), &evalFile)
	if len(evalFile) != 3 {
		t.Fatalf("eval.json has %d parts, want 3", len(evalFile))
	}
	var metrics map[string]any
	json.Unmarshal(evalFile[0], &metrics)
	// Hand-computed: pass@1 = mean(3/5, 2/5, 4/5); pass@2 = mean(1-1/10, 1-3/10, 1).
	checks := map[string]float64{"pass@1": 0.6, "pass@2": (0.9 + 0.7 + 1) / 3, "pass@5": 1}
	for k, v := range checks {
		got, ok := metrics[k].(float64)
		if !ok || math.Abs(got-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, metrics[k], v)
		}
	}
	if _, ok := metrics["pass@10"]; ok {
		t.Error("pass@10 reported though every problem has 5 samples (lcb_runner leaves it out)")
	}
	var results map[string][][]any
	json.Unmarshal(evalFile[1], &results)
	if got := results["0"][1]; len(got) != 4 || got[3] != float64(-2) || got[0] != true {
		t.Errorf("p1 sample 1 per-test results %v, want three trues then -2", got)
	}
	if got := results["1"][3]; len(got) != 1 || got[0] != float64(-1) {
		t.Errorf("p2 compile error results %v, want [-1]", got)
	}

	// The malformed rows are reported with their lines; the rest was evaluated.
	errs := map[int]string{}
	for _, re := range sum.RowErrors {
		errs[re.Line] = re.Err
	}
	for line, want := range map[int]string{2: "base64", 4: "decode row", 5: "does not hold a str", 6: "public_test_cases is missing"} {
		if !strings.Contains(errs[line], want) {
			t.Errorf("row %d: error %q, want one mentioning %q", line, errs[line], want)
		}
	}
	if sum.Problems != 3 || sum.Samples != 15 {
		t.Errorf("summary: %d problems %d samples, want 3 and 15", sum.Problems, sum.Samples)
	}
	// print(1) appears twice in p1: judged once. The copy waits on the first
	// (deduplicated) or, when the first's verdict is already in, reads it from the
	// cache: which of the two depends on timing, the judging once does not.
	if _, items := judge.counts(); items != 14 || sum.Deduplicated+sum.Cached != 1 {
		t.Errorf("judged %d items (deduplicated %d, cached %d), want 14 (and one copy answered without judging)", items, sum.Deduplicated, sum.Cached)
	}
	if sum.Verdicts["AC"] != 9 || sum.Verdicts["WA"] != 3 || sum.Verdicts["CE"] != 1 {
		t.Errorf("verdicts %v", sum.Verdicts)
	}
	byDiff := map[string]float64{}
	for _, g := range sum.ByDifficulty {
		byDiff[g.Name] = g.PassAt1
	}
	if byDiff["easy"] != 0.6 || byDiff["medium"] != 0.4 || byDiff["hard"] != 0.8 {
		t.Errorf("by difficulty %v", sum.ByDifficulty)
	}
	for _, f := range []string{"summary.json", ReportFile, CacheFile, "gens_codegeneration_output.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestRunLCBDateWindow(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	tests := []struct {
		start, end string
		want       int
	}{
		{"", "", 3},
		{"2024-02-01", "", 2},
		{"", "2024-03-01", 2}, // the end day is inclusive
		{"2024-02-01", "2024-05-01", 1},
		{"2025-01-01", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.start+"_"+tt.end, func(t *testing.T) {
			sum, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: t.TempDir(), StartDate: tt.start, EndDate: tt.end}, newCountingJudge(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Problems != tt.want {
				t.Errorf("%d problems in the window, want %d", sum.Problems, tt.want)
			}
		})
	}
	if _, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: t.TempDir(), StartDate: "May 1"}, newCountingJudge(), nil); err == nil {
		t.Error("a malformed start date was accepted")
	}
}

// evalFiles reads the files a run must reproduce exactly.
func evalFiles(t testing.TB, dir string) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range []string{"gens_codegeneration_output.json", "gens_codegeneration_output_eval.json", "gens_codegeneration_output_eval_all.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func TestRunLCBResume(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	cfg := LCBConfig{Problems: problems, Generations: gens, Batch: 2, Parallel: 1}

	whole := cfg
	whole.Out = filepath.Join(dir, "whole")
	ref := newCountingJudge()
	if _, err := RunLCB(context.Background(), whole, ref, nil); err != nil {
		t.Fatal(err)
	}
	_, total := ref.counts()

	// The first run dies after three judge calls, as a killed process would.
	cut := cfg
	cut.Out = filepath.Join(dir, "cut")
	first := newCountingJudge()
	first.failAfter = 3
	if _, err := RunLCB(context.Background(), cut, first, nil); err == nil || !strings.Contains(err.Error(), "rerun to resume") {
		t.Fatalf("interrupted run: err = %v, want a failure that says how to resume", err)
	}
	_, judgedFirst := first.counts()
	if judgedFirst == 0 || judgedFirst >= total {
		t.Fatalf("first run judged %d of %d; the test needs it to stop halfway", judgedFirst, total)
	}

	second := newCountingJudge()
	sum, err := RunLCB(context.Background(), cut, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, judgedSecond := second.counts()
	if judgedFirst+judgedSecond != total {
		t.Errorf("judged %d then %d items, want %d in all: something was judged twice or not at all", judgedFirst, judgedSecond, total)
	}
	for src := range second.sources {
		if first.sources[src] > 0 {
			t.Errorf("%q was judged again after the first run had its verdict", src)
		}
	}
	if sum.Cached != 15-sum.Judged || sum.Cached == 0 {
		t.Errorf("summary says %d cached, %d judged", sum.Cached, sum.Judged)
	}
	if got, want := evalFiles(t, cut.Out), evalFiles(t, whole.Out); !reflect.DeepEqual(got, want) {
		for name := range want {
			if !bytes.Equal(got[name], want[name]) {
				t.Errorf("%s differs between the resumed and the uninterrupted run", name)
			}
		}
	}

	// A third run has nothing left to judge.
	third := newCountingJudge()
	if _, err := RunLCB(context.Background(), cut, third, nil); err != nil {
		t.Fatal(err)
	}
	if calls, _ := third.counts(); calls != 0 {
		t.Errorf("a finished run made %d judge calls on rerun", calls)
	}
}

func TestRunLCBRetriesBusyItems(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	g := []map[string]any{{"question_id": "p1", "code_list": []string{"FLAKY 1", "ok"}}}
	b, _ := json.Marshal(g)
	os.WriteFile(gens, b, 0o644)
	judge := newCountingJudge()
	judge.flaky["FLAKY 1"] = 2
	saved := itemBackoff
	itemBackoff = Backoff{}
	t.Cleanup(func() { itemBackoff = saved })
	sum, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: t.TempDir()}, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || sum.Verdicts["AC"] != 2 {
		t.Errorf("errors %d verdicts %v: a busy item was not retried", sum.Errors, sum.Verdicts)
	}
}
