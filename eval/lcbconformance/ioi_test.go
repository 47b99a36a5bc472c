package lcbconformance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/eval"
	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
)

// An IOI task in open-r1's shapes: the contestant writes add_all, the grader
// (graders/grader.cpp with graders/addup.h) reads the input and prints "OK"
// and the sum, as IOI's stub graders do; the checker is a CMS one (arguments
// input, correct output, contestant output; the score on stdout) that gives a
// quarter of a test's points to an answer with the "OK" line but a wrong sum,
// and includes a header of its own from checker/.
const (
	ioiGrader = `#include "addup.h"
#include <cstdio>
#include <vector>
int main() {
	int n;
	if (scanf("%d", &n) != 1) return 1;
	std::vector<int> a(n);
	for (int &x : a) if (scanf("%d", &x) != 1) return 1;
	printf("OK\n%lld\n", add_all(a));
	return 0;
}
`
	ioiHeader      = "#include <vector>\nlong long add_all(std::vector<int> a);\n"
	ioiCheckerUtil = `#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
static std::vector<std::string> tokens_of(const char *path) {
	std::ifstream in(path);
	std::vector<std::string> out;
	std::string t;
	while (in >> t) out.push_back(t);
	return out;
}
`
	ioiChecker = `#include "checkutil.h"
// CMS order: input, correct output, contestant output. The sum is worked out
// from the input, so a checker handed its files in the wrong order fails.
int main(int argc, char **argv) {
	if (argc < 4) return 3;
	std::vector<std::string> in = tokens_of(argv[1]), got = tokens_of(argv[3]);
	long long sum = 0;
	for (size_t i = 1; i < in.size(); i++) sum += std::stoll(in[i]);
	if (got.size() == 2 && got[0] == "OK" && got[1] == std::to_string(sum)) {
		printf("1\n");
		fprintf(stderr, "Output is correct\n");
	} else if (!got.empty() && got[0] == "OK") {
		printf("0.25\n");
		fprintf(stderr, "Output isn't correct: wrong sum\n");
	} else {
		printf("0\n");
		fprintf(stderr, "Output isn't correct\n");
	}
	return 0;
}
`
)

func writeIOIFixture(t *testing.T, dir string) (problems, tests, gens string) {
	t.Helper()
	files := [][]string{
		{"compile.sh", "#!/bin/bash\ng++ -O2 -o graders/addup graders/grader.cpp graders/addup.cpp\n"},
		{"run.sh", "#!/bin/bash\n./graders/addup\n"},
		{"graders/grader.cpp", ioiGrader},
		{"graders/addup.h", ioiHeader},
		{"checker/checker.cpp", ioiChecker},
		{"checker/checkutil.h", ioiCheckerUtil},
	}
	subtask := func(name string, score int, tests ...string) map[string]any {
		return map[string]any{
			"year": 2024, "name": "Add Up", "id": "addup", "day": "day1", "subtask": name, "statement": "...",
			"score": score, "time_limit": 1.0, "memory_limit": 268435456, "score_precision": 2,
			"task_type": "Batch", "test_names": tests, "starting_code": "", "grader_files": files, "problem": "...",
		}
	}
	rows := []map[string]any{
		subtask("00-samples", 0, "0-01"),
		subtask("01-small", 40, "0-01", "1-01", "1-02"),
		subtask("02-full", 60, "0-01", "1-01", "1-02", "2-01", "2-02"),
		{"year": 2024, "name": "Talk", "id": "talk", "day": "day2", "subtask": "01-full", "score": 100, "time_limit": 1.0,
			"memory_limit": 268435456, "score_precision": 2, "task_type": "Communication", "test_names": []string{"1-01"},
			"grader_files": [][]string{{"manager.cpp", "int main(){}"}}},
	}
	problems = writeJSONLines(t, filepath.Join(dir, "ioi.jsonl"), rows)

	testRow := func(name, in, out string) map[string]any {
		return map[string]any{"year": 2024, "day": "day1", "problem_name": "Add Up", "problem_id": "addup",
			"test_name": name, "test_input": in, "test_output": out}
	}
	tests = writeJSONLines(t, filepath.Join(dir, "ioi-test-cases.jsonl"), []map[string]any{
		testRow("0-01", "3\n1 2 3\n", "OK\n6\n"),
		testRow("1-01", "2\n5 7\n", "OK\n12\n"),
		testRow("1-02", "4\n1 1 1 1\n", "OK\n4\n"),
		testRow("2-01", "3\n2000000000 2000000000 2000000000\n", "OK\n6000000000\n"),
		testRow("2-02", "2\n1500000000 1500000000\n", "OK\n3000000000\n"),
	})

	gen := func(id string, n int, target, text string, tokens int) map[string]any {
		return map[string]any{"year": 2024, "problem_id": id, "subtask": target, "solution_number": n,
			"uuid": "u" + string(rune('0'+n)), "generation": text, "language": "cpp",
			"metadata": map[string]any{"usage": map[string]any{"completion_tokens": tokens}}}
	}
	gens = writeJSONLines(t, filepath.Join(dir, "solutions.jsonl"), []map[string]any{
		// Right everywhere.
		gen("addup", 0, "02-full", "<think>sum in 64 bits</think>\n```cpp\nlong long add_all(std::vector<int> a) {\n\tlong long s = 0;\n\tfor (int x : a) s += x;\n\treturn s;\n}\n```\n", 100),
		// Sums in 32 bits: right on the small subtask only, a quarter on the
		// full one; the longest generation, so the round robin sends it first.
		gen("addup", 1, "02-full", "```cpp\nint unused;\n```\nBetter:\n```cpp\nlong long add_all(vector<int> a) {\n\tunsigned s = 0;\n\tfor (int x : a) s += x;\n\treturn (int)s;\n}\n```\n", 500),
		// Does not compile.
		gen("addup", 2, "02-full", "```cpp\nlong long add_all(std::vector<int> a) { return a.size() }\n```\n", 50),
		// No code block: a submission that earns nothing, never judged.
		gen("addup", 3, "01-small", "I cannot solve this.", 10),
		gen("talk", 0, "01-full", "```cpp\nint main(){}\n```", 10), // the communication task's
	})
	return problems, tests, gens
}

func writeJSONLines(t *testing.T, path string, rows []map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type ioiResult struct {
	ID          string  `json:"id"`
	Score       float64 `json:"score"`
	BestScore   float64 `json:"best_score"`
	MaxScore    float64 `json:"max_score"`
	Skipped     string  `json:"skipped"`
	Chosen      []int   `json:"chosen"`
	Submissions []struct {
		Verdict  string  `json:"verdict"`
		Score    float64 `json:"score"`
		Subtasks []struct {
			Name    string  `json:"name"`
			Score   float64 `json:"score"`
			Verdict string  `json:"verdict"`
		} `json:"subtasks"`
		CompileOutput string `json:"compile_output"`
	} `json:"submissions"`
}

// TestIOIEndToEnd judges the task above through the real sandbox on NATS, as
// `rewardmesh eval ioi` does without --server: the grader linked with each
// submission, the CMS checker's points, IOI's per-subtask scores, the round
// robin under the submission limit, the communication task skipped with its
// reason; then reruns from the cache with a limit of one submission.
func TestIOIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs C++ in Docker; not in -short")
	}
	sandboxtest.RequireDocker(t, images.Cpp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	judge := startSandbox(t, ctx)

	dir := t.TempDir()
	problems, tests, gens := writeIOIFixture(t, dir)
	out := filepath.Join(dir, "out")
	cfg := eval.IOIConfig{Problems: problems, Tests: tests, Generations: gens, Out: out,
		Medals: []eval.Medal{{Name: "gold", Score: 100}, {Name: "bronze", Score: 50}}}
	sum, err := eval.RunIOI(ctx, cfg, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || len(sum.RowErrors) != 0 {
		t.Fatalf("errors %d, row errors %+v", sum.Errors, sum.RowErrors)
	}
	var results []ioiResult
	evaltest.ReadJSON(t, filepath.Join(out, eval.IOIFile), &results)
	if len(results) != 2 {
		t.Fatalf("%d tasks in %s, want addup and talk: %+v", len(results), eval.IOIFile, results)
	}
	addup, talk := results[0], results[1]
	if !strings.Contains(talk.Skipped, "Communication") || len(talk.Submissions) != 0 {
		t.Errorf("the communication task: %+v", talk)
	}
	if !strings.Contains(strings.Join(sum.Skipped, "\n"), "task 2024/talk: task type Communication") {
		t.Errorf("skipped: %v", sum.Skipped)
	}

	type want struct {
		verdict string
		scores  [3]float64
		total   float64
	}
	wants := []want{
		{"AC", [3]float64{0, 40, 60}, 100},
		{"PA", [3]float64{0, 40, 15}, 55}, // 60 × the quarter the checker gave on 2-01 and 2-02
		{"CE", [3]float64{0, 0, 0}, 0},
		{eval.VerdictNoCode, [3]float64{0, 0, 0}, 0},
	}
	if len(addup.Submissions) != len(wants) {
		t.Fatalf("addup: %d submissions, want %d", len(addup.Submissions), len(wants))
	}
	for i, w := range wants {
		s := addup.Submissions[i]
		got := [3]float64{}
		for k, st := range s.Subtasks {
			got[k] = st.Score
		}
		if s.Verdict != w.verdict || got != w.scores || s.Score != w.total {
			t.Errorf("submission %d: %s %v = %v, want %s %v = %v (compile output %q)", i, s.Verdict, got, s.Score, w.verdict, w.scores, w.total, s.CompileOutput)
		}
	}
	if v := addup.Submissions[1].Subtasks[2].Verdict; v != "PA" {
		t.Errorf("the 32-bit sum's full subtask: verdict %s, want PA", v)
	}
	if addup.Submissions[2].CompileOutput == "" {
		t.Error("the compile error came without the compiler's output")
	}
	// The round robin sends the longer 02-full generation (the 32-bit sum)
	// first, then the right one, then fills with what is left that compiled.
	if got := addup.Chosen; len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != 3 {
		t.Errorf("chosen %v, want [1 0 3]", got)
	}
	if addup.Score != 100 || addup.BestScore != 100 || addup.MaxScore != 100 {
		t.Errorf("addup: score %v, best %v, of %v", addup.Score, addup.BestScore, addup.MaxScore)
	}
	if len(sum.IOI) != 1 || sum.IOI[0].Score != 100 || sum.IOI[0].Medal != "gold" || sum.IOI[0].Skipped != 1 {
		t.Errorf("year: %+v", sum.IOI)
	}

	// One submission allowed: only the 32-bit sum goes in. Nothing is judged
	// again: every verdict comes from the run's cache.
	cfg.Submissions = 1
	sum, err = eval.RunIOI(ctx, cfg, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
	evaltest.ReadJSON(t, filepath.Join(out, eval.IOIFile), &results)
	if results[0].Score != 55 || results[0].BestScore != 100 || sum.IOI[0].Medal != "bronze" {
		t.Errorf("one submission: score %v (best %v), medal %q; want 55 (100), bronze", results[0].Score, results[0].BestScore, sum.IOI[0].Medal)
	}
	if sum.Judged != 0 || sum.Cached != 3 {
		t.Errorf("rerun judged %d, cached %d; want 0 and 3", sum.Judged, sum.Cached)
	}
}
