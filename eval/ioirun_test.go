package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
)

func writeLines(t *testing.T, path string, rows ...any) string {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range rows {
		if s, ok := r.(string); ok {
			buf.WriteString(s + "\n")
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeIOIBookkeeping writes three tasks: "sum" (judged), "nochk" (its checker
// includes a header the task does not ship: skipped), "lost" (a test missing
// from the tests file: a row error), and generations for each.
func writeIOIBookkeeping(t *testing.T, dir string) (problems, tests, gens string) {
	row := func(id, subtask string, score int, files [][]string, names ...string) map[string]any {
		return map[string]any{"year": 2023, "id": id, "day": "day1", "subtask": subtask, "score": score,
			"time_limit": 1.5, "memory_limit": 2147483648, "score_precision": 2, "task_type": "Batch",
			"test_names": names, "grader_files": files}
	}
	sumFiles := [][]string{{"graders/grader.cpp", "int main(){}"}, {"graders/sum.h", "int f();"}, {"compile.sh", "g++"}}
	noChk := [][]string{{"checker/checker.cpp", "#include \"testlib.h\"\nint main(int c,char**v){}"}}
	problems = writeLines(t, filepath.Join(dir, "ioi.jsonl"),
		row("sum", "00-samples", 0, sumFiles, "0-01"),
		row("sum", "01-all", 100, sumFiles, "0-01", "1-01"),
		"{not json",
		row("nochk", "01-all", 100, noChk, "1-01"),
		row("lost", "01-all", 100, nil, "1-01", "1-02"),
	)
	test := func(id, name string) map[string]any {
		return map[string]any{"year": 2023, "problem_id": id, "test_name": name, "test_input": name + " in", "test_output": name + " out"}
	}
	tests = writeLines(t, filepath.Join(dir, "tests.jsonl"),
		test("sum", "0-01"), test("sum", "1-01"), test("nochk", "1-01"), test("lost", "1-01"))
	gen := func(id, target, text string) map[string]any {
		return map[string]any{"year": 2023, "problem_id": id, "subtask": target, "generation": text}
	}
	gens = writeLines(t, filepath.Join(dir, "gens.jsonl"),
		gen("sum", "01-all", "```cpp\nint f(){return 1;}\n```"),
		gen("sum", "01-all", "```cpp\nint f(){return 2;} // SYSFAIL\n```"),
		gen("nochk", "01-all", "```cpp\nint f(){}\n```"),
		gen("lost", "01-all", "```cpp\nint f(){}\n```"),
		map[string]any{"problem_id": "sum", "subtask": "01-all", "code": "int f(){return 3;} // WRONG"}, // no year, no generation: its code as is
		map[string]any{"problem_id": "ghost", "code": "x"},
	)
	return problems, tests, gens
}

// A sample the sandbox could not grade leaves its task incomplete and the run
// failing: never a score of 0 in its place.
func TestRunIOIBookkeeping(t *testing.T) {
	dir := t.TempDir()
	problems, tests, gens := writeIOIBookkeeping(t, dir)
	judge := &recordingJudge{countingJudge: newCountingJudge()}
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out")
	err := Main(context.Background(), []string{"ioi", "--problems", problems, "--tests", tests, "--generations", gens,
		"--out", out, "--max-memory-mb", "1024", "--quiet"}, func(string) (Judge, func(), error) { return judge, nil, nil }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "1 samples could not be graded") {
		t.Fatalf("err = %v, want the system error to fail the run\n%s", err, stdout.String())
	}
	if len(judge.items) != 3 {
		t.Fatalf("judged %d items, want the three of sum", len(judge.items))
	}
	slices.SortFunc(judge.items, func(a, b JudgeItem) int { return strings.Compare(a.Source, b.Source) })
	it := judge.items[0]
	if it.Language != "cpp" || it.TimeLimitMS != 1500 || it.MemoryLimitMB != 1024 || it.Compare != "tokens" || it.Checker != nil {
		t.Errorf("item: %+v", it)
	}
	if len(it.Files) != 2 || it.Files["grader.cpp"] == "" || it.Files["sum.h"] == "" {
		t.Errorf("files: %v", it.Files)
	}
	if len(it.Subtasks) != 2 || !slices.Equal(it.Subtasks[0].Tests, []int{0}) || !slices.Equal(it.Subtasks[1].Tests, []int{0, 1}) || it.Subtasks[1].Points != 100 {
		t.Errorf("subtasks: %+v", it.Subtasks)
	}
	if !strings.HasPrefix(it.Source, "#include <bits/stdc++.h>\n#include \"sum.h\"\n") || !strings.HasSuffix(it.Source, "int f(){return 1;}") {
		t.Errorf("source:\n%s", it.Source)
	}
	if src := judge.items[2].Source; !strings.HasSuffix(src, "int f(){return 3;} // WRONG") {
		t.Errorf("a row with code only: source %q", src)
	}

	var results []struct {
		ID            string  `json:"id"`
		Score         float64 `json:"score"`
		Incomplete    bool    `json:"incomplete"`
		Skipped       string  `json:"skipped"`
		MemoryLimitMB int     `json:"memory_limit_mb"`
		MemoryLowered bool    `json:"memory_limit_lowered"`
		Submissions   []struct {
			Verdict string `json:"verdict"`
			Error   string `json:"error"`
		} `json:"submissions"`
	}
	evaltest.ReadJSON(t, filepath.Join(out, IOIFile), &results)
	byID := map[string]int{}
	for i, r := range results {
		byID[r.ID] = i
	}
	sum := results[byID["sum"]]
	if !sum.Incomplete || sum.Submissions[1].Verdict != "SE" || sum.Submissions[1].Error == "" || !sum.MemoryLowered || sum.MemoryLimitMB != 1024 {
		t.Errorf("sum: %+v", sum)
	}
	if r := results[byID["nochk"]]; !strings.Contains(r.Skipped, "testlib.h") {
		t.Errorf("nochk: %+v", r)
	}
	if _, ok := byID["lost"]; ok {
		t.Errorf("lost was scored without its tests")
	}
	var summary struct {
		IOI       []IOIYear `json:"ioi"`
		Errors    int       `json:"errors"`
		Skipped   []string  `json:"skipped"`
		RowErrors []struct {
			Err string `json:"error"`
		} `json:"row_errors"`
	}
	evaltest.ReadJSON(t, filepath.Join(out, "summary.json"), &summary)
	if len(summary.IOI) != 1 || summary.IOI[0].Score != 0 || summary.IOI[0].Skipped != 1 || summary.Errors != 1 {
		t.Errorf("summary: %+v", summary.IOI)
	}
	rowErrs := ""
	for _, re := range summary.RowErrors {
		rowErrs += re.Err + "\n"
	}
	for _, want := range []string{"decode row", "lacks 1 of its tests (1-02)"} {
		if !strings.Contains(rowErrs, want) {
			t.Errorf("row errors lack %q:\n%s", want, rowErrs)
		}
	}
	if !slices.ContainsFunc(summary.Skipped, func(s string) bool { return strings.Contains(s, "ghost") }) {
		t.Errorf("skipped: %v", summary.Skipped)
	}
	page, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<td>2023</td>", "score (chosen submissions)", "incomplete", "testlib.h"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(page), "report failed") || strings.Contains(string(page), "pass@1 by") {
		t.Errorf("report: a template failure, or pass@k charts for IOI")
	}
	if !strings.Contains(stdout.String(), "IOI 2023:") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

func TestMainIOIFlags(t *testing.T) {
	noJudge := func(string) (Judge, func(), error) { t.Fatal("judge started"); return nil, nil, nil }
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ioi", "--problems", "p", "--generations", "g", "--out", "o"}, "missing --tests"},
		{[]string{"ioi", "--problems", "p", "--tests", "t", "--generations", "g", "--out", "o", "--medals", "gold"}, "--medals"},
		{[]string{"ioi", "--k", "1"}, "flag provided but not defined"},
	} {
		err := Main(context.Background(), tt.args, noJudge, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
	m, err := parseMedals("bronze=210, gold=360,silver=260")
	if err != nil || len(m) != 3 || m[0].Name != "gold" || m[2].Score != 210 {
		t.Errorf("medals %+v, %v", m, err)
	}
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"ioi", "-h"}, noJudge, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "--tests T") || !strings.Contains(out.String(), "-submissions") {
		t.Errorf("help: %v\n%s", err, out.String())
	}
}
