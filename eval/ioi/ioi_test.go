package ioi

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestExtractCode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"last cpp block", "think\n```cpp\nint a;\n```\nbetter:\n```cpp\nint b;\n```\n", "int b;"},
		{"unterminated", "```cpp\nint c;\n", "int c;"},
		{"python only", "```python\nprint(1)\n```", ""},
		{"cpp without newline", "```cpp int d;```", ""},
		{"none", "no code here", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExtractCode(tt.in); got != tt.want {
				t.Errorf("ExtractCode = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAddIncludes(t *testing.T) {
	got := AddIncludes("int f(){return 1;}", "nile")
	want := "#include <bits/stdc++.h>\n#include \"nile.h\"\n\nusing namespace std;\n\nint f(){return 1;}"
	if got != want {
		t.Errorf("got %q", got)
	}
	code := "#include \"nile.h\"\nusing namespace std;\nint f(){return 1;}"
	if got := AddIncludes(code, "nile"); got != "#include <bits/stdc++.h>\n"+code {
		t.Errorf("with header and namespace: %q", got)
	}
}

func TestGenerationLength(t *testing.T) {
	for _, tt := range []struct {
		row  string
		want int
	}{
		{`{"problem_id":"x","generation":"abcd","metadata":{"usage":{"completion_tokens":7}}}`, 7},
		{`{"problem_id":"x","generation":"abcd","metadata":{"usage":{"output_tokens":9,"completion_tokens":7}}}`, 9},
		{`{"problem_id":"x","generation":"abcd"}`, 4},
	} {
		g, err := ParseGeneration([]byte(tt.row))
		if err != nil {
			t.Fatal(err)
		}
		if g.Length() != tt.want {
			t.Errorf("%s: length %d, want %d", tt.row, g.Length(), tt.want)
		}
	}
	if _, err := ParseGeneration([]byte(`{"problem_id":"x"}`)); err == nil {
		t.Error("a row with neither generation nor code was taken")
	}
}

func threeSubtasks() *Task {
	return &Task{ID: "t", ScorePrecision: 2, Subtasks: []Subtask{
		{Name: "00-samples", Points: 0}, {Name: "01-small", Points: 30}, {Name: "02-full", Points: 70},
	}}
}

func TestBestAndRoundRobin(t *testing.T) {
	task := threeSubtasks()
	subs := []Submission{
		0: {Target: "02-full", Length: 10, Raw: []float64{1, 1, 0.5}}, // full's queue, second by length
		1: {Target: "02-full", Length: 99, Raw: []float64{1, 0, 0}},   // full's queue, first
		2: {Target: "01-small", Length: 5, Raw: []float64{1, 1, 0}},   // small's queue
		3: {Target: "02-full", Length: 500, CompileError: true},       // never chosen
		4: {Target: "02-full", Length: 1, Raw: []float64{0, 0, 0}},    // full's queue, last
		5: {Target: "03-gone", Length: 1000, Raw: []float64{1, 1, 1}}, // a stray: only in the fill
		6: {Target: "01-small", Length: 50, Raw: []float64{0, 0, 0}},  // small's queue, after 2 (samples fail)
		7: {Target: "02-full", Length: 20, Raw: []float64{0.5, 1, 1}}, // full's queue, after 0 (samples 0.5)
	}
	best, total := task.Best(subs, All(subs))
	if total != 100 || !slices.Equal(best, []float64{0, 30, 70}) {
		t.Errorf("best of all: %v = %v, want [0 30 70] = 100", best, total)
	}
	// Full's head (1), small's head (2, which solves small), full again (0),
	// full again (7, solves full): every subtask solved; then the fill.
	chosen := task.RoundRobin(subs, 50)
	if want := []int{1, 2, 0, 7, 5, 6, 4}; !slices.Equal(chosen, want) {
		t.Errorf("round robin chose %v, want %v", chosen, want)
	}
	// Under a limit of 3 the submission that solves full is never sent.
	chosen = task.RoundRobin(subs, 3)
	if _, got := task.Best(subs, chosen); got != 65 {
		t.Errorf("3 submissions %v score %v, want 30 + 35 = 65", chosen, got)
	}
}

func TestWeightedRounds(t *testing.T) {
	task := threeSubtasks()
	if got := task.Weighted(1, 1.0/3); got != 10 {
		t.Errorf("30 × 1/3 = %v, want 10", got)
	}
	if got := task.Weighted(2, 0.123456); got != 8.64 {
		t.Errorf("70 × 0.123456 = %v, want 8.64 (two decimals)", got)
	}
}

func TestTaskFromRows(t *testing.T) {
	rows := []string{
		`{"year":2024,"id":"nile","name":"Nile","day":"day1","subtask":"00-samples","score":0,"time_limit":2.0,"memory_limit":2147483648,"score_precision":2,"task_type":"Batch","test_names":["0-01"],"grader_files":[["compile.sh","g++ ..."],["graders/grader.cpp","int main(){}"],["graders/nile.h","int f();"],["graders/nile.cpp",""],["checker/checker.cpp","#include \"testlib.h\"\nint main(int argc,char**argv){}"],["checker/testlib.h","// testlib"]]}`,
		`{"year":2024,"id":"nile","subtask":"01-equal","score":6,"test_names":["0-01","1-01","1-02"]}`,
	}
	first, err := ParseRow([]byte(rows[0]))
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewTask(first)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ParseRow([]byte(rows[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Add(second); err != nil {
		t.Fatal(err)
	}
	if task.Key() != "2024/nile" || task.TimeLimitMS != 2000 || task.MemoryLimitMB != 2048 || task.MaxScore() != 6 {
		t.Errorf("task: %+v", task)
	}
	if !slices.Equal(task.TestNames, []string{"0-01", "1-01", "1-02"}) {
		t.Errorf("tests %v", task.TestNames)
	}
	if err := task.Add(second); err == nil {
		t.Error("a subtask added twice was taken")
	}
	j, err := task.Judging()
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Files) != 2 || j.Files["grader.cpp"] == "" || j.Files["nile.h"] == "" {
		t.Errorf("files beside the program: %v", j.Files)
	}
	if !slices.Contains(j.Ignored, "compile.sh") {
		t.Errorf("ignored: %v", j.Ignored)
	}
	if !strings.Contains(j.Checker, "// testlib") || strings.Contains(j.Checker, `#include "testlib.h"`) || !strings.Contains(j.Checker, "rewardmesh_cms_checker_main(4, cms)") {
		t.Errorf("checker source:\n%s", j.Checker)
	}
	if task.Unsupported() != "" {
		t.Errorf("a batch task is unsupported: %s", task.Unsupported())
	}
	task.TaskType = "Communication"
	if !strings.Contains(task.Unsupported(), "Communication") {
		t.Errorf("communication: %q", task.Unsupported())
	}
}

func TestCheckerNeedsItsHeaders(t *testing.T) {
	_, err := CheckerSource("#include \"testlib.h\"\nint main(){}", map[string]string{"checker/checker.cpp": "x"})
	if err == nil || !strings.Contains(err.Error(), "testlib.h") {
		t.Errorf("err = %v, want one naming testlib.h", err)
	}
	// A header that includes itself (or its sibling twice) is inlined once.
	src, err := CheckerSource("#include \"a.h\"\n#include \"a.h\"\n", map[string]string{"checker/a.h": "#include \"a.h\"\nA\n"})
	if err != nil || strings.Count(src, "\nA\n") != 1 {
		t.Errorf("err %v, source:\n%s", err, src)
	}
}

func TestIndexTests(t *testing.T) {
	data := []byte(`{"year":2024,"problem_id":"nile","test_name":"0-01","test_input":"in0","test_output":"out0"}
not json
{"year":2024,"problem_id":"nile","test_name":"1-01","test_input":"in1","test_output":"out1"}`)
	ix, err := IndexTests(bytes.NewReader(data), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Errors) != 1 || ix.Errors[2] == "" {
		t.Errorf("errors: %v", ix.Errors)
	}
	got, err := ix.Load("2024/nile", []string{"1-01", "0-01"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Input != "in1" || got[1].Output != "out0" {
		t.Errorf("loaded %+v", got)
	}
	if m := ix.Missing("2024/nile", []string{"0-01", "2-01"}); !slices.Equal(m, []string{"2-01"}) {
		t.Errorf("missing %v", m)
	}
}

// FuzzParse feeds one input to every reader of the package: none may panic,
// and a task that parses lays its files out and scores without NaN.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"year":2024,"id":"nile","subtask":"01","score":10,"time_limit":2,"memory_limit":1e300,"score_precision":400,"test_names":["a"],"grader_files":[["checker/checker.cpp","#include \"x.h\""],["checker/x.h","#include \"checker.cpp\""]]}`))
	f.Add([]byte(`{"problem_id":"x","generation":"` + "```cpp\\nint a;" + `","metadata":{"usage":{"output_tokens":3}}}`))
	f.Add([]byte(`{"year":1,"problem_id":"p","test_name":"t","test_input":"1","test_output":"2"}` + "\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := ParseRow(data); err == nil {
			if task, err := NewTask(r); err == nil {
				task.Unsupported()
				task.Judging()
				raw := make([]float64, len(task.Subtasks))
				for i := range raw {
					raw[i] = 0.5
				}
				if _, total := task.Best([]Submission{{Raw: raw}}, []int{0}); total != total {
					t.Errorf("NaN score for %s", data)
				}
			}
		}
		if g, err := ParseGeneration(data); err == nil {
			AddIncludes(g.Source(), g.ProblemID)
			g.Length()
		}
		ExtractCode(string(data))
		if ix, err := IndexTests(bytes.NewReader(data), bytes.NewReader(data)); err == nil {
			for key := range ix.tests {
				for name := range ix.tests[key] {
					ix.Load(key, []string{name})
				}
			}
		}
	})
}
