package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rewardmesh/rewardmesh/eval/cf"
	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// recordingJudge keeps every item it was sent, to check what the evaluator asks.
type recordingJudge struct {
	*countingJudge
	mu    sync.Mutex
	items []JudgeItem
}

func (j *recordingJudge) Judge(ctx context.Context, items []JudgeItem) ([]JudgeResult, error) {
	j.mu.Lock()
	j.items = append(j.items, items...)
	j.mu.Unlock()
	return j.countingJudge.Judge(ctx, items)
}

func TestRunCodeforces(t *testing.T) {
	dir := t.TempDir()
	rows := []string{
		// Ours: limits, points, a checker.
		`{"id":"1873A","contest_id":1873,"index":"A","name":"Short Sort","points":500,"time_limit_ms":1000,"memory_limit_mb":256,"tests":[{"input":"1\nabc\n","output":"YES\n"}]}`,
		`{"id":"1873B","contest_id":1873,"index":"B","points":1000,"time_limit":2,"tests":[{"input":"1","output":"2"},{"input":"2","output":"4"}],"checker":{"language":"cpp","source":"int main(){}"}}`,
		// CodeContests' shape: columns of tests, {"seconds","nanos"}, bytes, cf_ fields.
		`{"name":"1000_A. Codehorses T-shirts","source":2,"cf_contest_id":1000,"cf_index":"A","cf_points":500,"cf_rating":1200,"time_limit":{"seconds":2,"nanos":500000000},"memory_limit_bytes":268435456,"public_tests":{"input":["1"],"output":["1"]},"private_tests":{"input":["2"],"output":["2"]},"generated_tests":{"input":["3"],"output":["3"]}}`,
		`{"id":"broken","tests":[{"input":"1"}]}`,
		`{"id":"mismatch","public_tests":{"input":["1","2"],"output":["1"]}}`,
		`not json`,
	}
	problems := filepath.Join(dir, "problems.jsonl")
	os.WriteFile(problems, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	gens := filepath.Join(dir, "gens.json")
	b, _ := json.Marshal([]map[string]any{
		{"id": "1873A", "code_list": []string{"ok", "WRONG"}},
		{"id": "1873B", "language": "cpp", "code_list": []string{"LOOP", "LOOP 2"}},
		{"id": "1000_A. Codehorses T-shirts", "output_list": []string{"```python\nfine\n```", "nothing"}},
		{"id": "broken", "code_list": []string{"x"}},
		{"id": "mismatch", "code_list": []string{"x"}},
	})
	os.WriteFile(gens, b, 0o644)

	judge := &recordingJudge{countingJudge: newCountingJudge()}
	out := filepath.Join(dir, "out")
	sum, err := RunCodeforces(context.Background(), CodeforcesConfig{Problems: problems, Generations: gens, Out: out, K: []int{1, 2}}, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("REWARDMESH_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(filepath.Join(out, ReportFile))
		os.WriteFile(filepath.Join(keep, "codeforces.html"), data, 0o644)
	}
	var results []cfProblemResult
	evaltest.ReadJSON(t, filepath.Join(out, CodeforcesFile), &results)
	if len(results) != 3 {
		t.Fatalf("%d problems evaluated, want 3: %+v", len(results), results)
	}
	// Sorted by contest number, then index.
	if results[0].Contest != "1000" || results[0].Index != "A" || results[1].ID != "1873A" || results[2].ID != "1873B" {
		t.Errorf("order/contest: %+v", results)
	}
	if got := strings.Join(results[1].Verdicts, ","); got != "AC,WA" || results[1].PassAt1 != 0.5 || !results[1].Solved {
		t.Errorf("1873A: %+v", results[1])
	}
	if results[2].Solved || results[2].Verdicts[0] != "TLE" {
		t.Errorf("1873B: %+v", results[2])
	}
	if results[0].Tests != 3 || results[0].Rating != 1200 || results[0].Points != 500 {
		t.Errorf("1000_A: %+v", results[0])
	}

	byContest := map[string]ContestScore{}
	for _, c := range sum.Contests {
		byContest[c.Contest] = c
	}
	if c := byContest["1873"]; c.Problems != 2 || c.Solved != 1 || c.Points != 500 || c.Expected != 0.5 {
		t.Errorf("contest 1873: %+v", c)
	}
	if c := byContest["1000"]; c.Solved != 1 || c.Points != 500 {
		t.Errorf("contest 1000: %+v", c)
	}

	// What the judge was asked: limits, token comparison, or the checker.
	asked := map[string]JudgeItem{}
	for _, it := range judge.items {
		asked[it.Source] = it
	}
	if it := asked["ok"]; it.Compare != "tokens" || it.TimeLimitMS != 1000 || it.MemoryLimitMB != 256 || it.Language != "python" || !it.StopOnFail {
		t.Errorf("1873A item: %+v", it)
	}
	if it := asked["LOOP"]; it.Checker == nil || it.Compare != "" || it.TimeLimitMS != 2000 || it.Language != "cpp" || it.MemoryLimitMB != 256 {
		t.Errorf("1873B item: %+v", it)
	}
	if it := asked["fine"]; it.TimeLimitMS != 2500 || it.MemoryLimitMB != 256 {
		t.Errorf("1000_A item: %+v", it)
	}

	errs := map[int]string{}
	for _, re := range sum.RowErrors {
		errs[re.Line] = re.Err
	}
	for line, want := range map[int]string{4: "needs input and output", 5: "1 outputs", 6: "decode row"} {
		if !strings.Contains(errs[line], want) {
			t.Errorf("row %d: %q, want one mentioning %q", line, errs[line], want)
		}
	}
}

// TestCodeContestsLoadParses reads the CodeContests load file as a batch: every
// problem parses with its tests and a contest.
func TestCodeContestsLoadParses(t *testing.T) {
	f, err := os.Open(conformance.Path(t, "code", "codecontests_load.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	n, tests := 0, 0
	for sc.Scan() {
		p, err := cf.ParseProblem(sc.Bytes(), true)
		if err != nil {
			t.Errorf("line %d: %v", n+1, err)
			continue
		}
		n++
		tests += len(p.Tests)
		if p.Contest == "" || p.TimeLimitMS != cf.DefaultTimeLimitMS {
			t.Errorf("%s: contest %q, time limit %d", p.ID, p.Contest, p.TimeLimitMS)
		}
	}
	if n != 20 || tests < 2000 {
		t.Errorf("%d problems with %d tests, want 20 with about 2,000", n, tests)
	}
}
