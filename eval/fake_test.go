package eval

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// countingJudge stands in for the sandbox where a test is about this package's
// bookkeeping, not about judging: it answers in the real result shape, decides
// a verdict from markers in the source (WRONG, LOOP, CRASH, SYNTAX, FLAKY), and
// counts what it was asked. It is never used as proof that code is judged right;
// the conformance test does that through the real sandbox.
type countingJudge struct {
	mu      sync.Mutex
	calls   int
	items   int
	sources map[string]int // source → times judged
	// failAfter, when positive, fails every call after that many succeeded, as
	// a dying sandbox would; onCall runs before each call.
	failAfter int
	onCall    func(call int)
	flaky     map[string]int // source → busy answers still to give
}

func newCountingJudge() *countingJudge {
	return &countingJudge{sources: map[string]int{}, flaky: map[string]int{}}
}

func (j *countingJudge) Judge(ctx context.Context, items []JudgeItem) ([]JudgeResult, error) {
	j.mu.Lock()
	j.calls++
	call := j.calls
	if j.failAfter > 0 && call > j.failAfter {
		j.mu.Unlock()
		return nil, reward.Errorf(reward.Unavailable, "sandbox went away")
	}
	onCall := j.onCall
	j.mu.Unlock()
	if onCall != nil {
		onCall(call)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]JudgeResult, len(items))
	for i, it := range items {
		var tests []reward.TestCase
		if err := json.Unmarshal(it.Tests, &tests); err != nil {
			return nil, fmt.Errorf("fake judge: tests: %w", err)
		}
		j.mu.Lock()
		if strings.Contains(it.Source, "FLAKY") && j.flaky[it.Source] > 0 {
			j.flaky[it.Source]--
			j.mu.Unlock()
			out[i] = JudgeResult{ID: it.ID, Error: reward.Errorf(reward.Busy, "pool full")}
			continue
		}
		j.items++
		j.sources[it.Source]++
		j.mu.Unlock()
		out[i] = fakeVerdict(it.Source, len(tests))
		out[i].ID = it.ID
	}
	return out, nil
}

func fakeVerdict(src string, n int) JudgeResult {
	fail := reward.Verdict("")
	switch {
	case strings.Contains(src, "SYSFAIL"):
		return JudgeResult{Verdict: reward.SystemError, Total: n, CompileOutput: "container vanished"}
	case strings.Contains(src, "SYNTAX"):
		return JudgeResult{Verdict: reward.CompileError, Total: n, CompileOutput: "SyntaxError"}
	case strings.Contains(src, "WRONG"), strings.TrimSpace(src) == "":
		fail = reward.WrongAnswer
	case strings.Contains(src, "LOOP"):
		fail = reward.TimeLimitExceeded
	case strings.Contains(src, "CRASH"):
		fail = reward.RuntimeError
	}
	r := JudgeResult{Verdict: reward.Accepted, Total: n}
	for i := range n {
		ms := float64(len(src)%40 + 3*i)
		if fail != "" && i == n-1 {
			r.Verdict = fail
			r.Tests = append(r.Tests, TestResult{Verdict: fail, TimeMS: ms})
			break
		}
		r.Passed++
		r.Tests = append(r.Tests, TestResult{Verdict: reward.Accepted, TimeMS: ms, MemoryKB: 9000})
	}
	return r
}

func (j *countingJudge) counts() (calls, items int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.calls, j.items
}

// pickleStr assembles pickle protocol 4 of a str, as Python's pickle.dumps does.
func pickleStr(s string) string {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(len(s)))
	return "\x80\x04X" + string(b) + s + "\x94."
}

// lcbCompress is LiveCodeBench's hidden-test encoding of pickled text.
func lcbCompress(pickled string) string {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write([]byte(pickled))
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

type lcbRow map[string]any

func lcbProblemRow(id, platform, difficulty, date string, fn string, nPrivate int) lcbRow {
	testtype := "stdin"
	meta := "{}"
	if fn != "" {
		testtype = "functional"
		meta = fmt.Sprintf(`{"func_name": %q}`, fn)
	}
	var private []map[string]string
	for i := range nPrivate {
		private = append(private, map[string]string{"input": fmt.Sprint(i), "output": fmt.Sprint(i * 2), "testtype": testtype})
	}
	pj, _ := json.Marshal(private)
	pub, _ := json.Marshal([]map[string]string{{"input": "1", "output": "2", "testtype": testtype}})
	return lcbRow{
		"question_title": "title " + id, "question_content": "content", "platform": platform,
		"question_id": id, "contest_id": "c" + id, "contest_date": date, "starter_code": "",
		"difficulty": difficulty, "public_test_cases": string(pub),
		"private_test_cases": lcbCompress(pickleStr(string(pj))), "metadata": meta,
	}
}

// writeLCBFixture writes problems (with three malformed rows among them) and
// generations to dir and returns their paths.
func writeLCBFixture(t testing.TB, dir string) (problems, generations string) {
	t.Helper()
	rows := []lcbRow{
		lcbProblemRow("p1", "atcoder", "easy", "2024-01-05T00:00:00", "", 3),
		lcbProblemRow("p2", "leetcode", "medium", "2024-03-01T00:00:00", "solve", 2),
		lcbProblemRow("p3", "codeforces", "hard", "2024-06-30T00:00:00", "", 4),
	}
	badB64 := lcbProblemRow("bad1", "atcoder", "easy", "2024-01-01T00:00:00", "", 1)
	badB64["private_test_cases"] = "!!!not base64!!!"
	notStr := lcbProblemRow("bad2", "atcoder", "easy", "2024-01-01T00:00:00", "", 1)
	notStr["private_test_cases"] = lcbCompress("\x80\x04]\x94.")
	missing := lcbProblemRow("bad3", "atcoder", "easy", "2024-01-01T00:00:00", "", 1)
	delete(missing, "public_test_cases")
	var buf bytes.Buffer
	for i, r := range []lcbRow{rows[0], badB64, rows[1], notStr, missing, rows[2]} {
		b, _ := json.Marshal(r)
		buf.Write(b)
		buf.WriteByte('\n')
		if i == 2 {
			buf.WriteString("{this is not json\n")
		}
	}
	problems = filepath.Join(dir, "problems.jsonl")
	if err := os.WriteFile(problems, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gens := []map[string]any{
		{"question_id": "p1", "code_list": []string{"print(1)", "WRONG", "print(1)", "LOOP", "ok = 2"}},
		{"question_id": "p2", "output_list": []string{"```python\nclass Solution: pass\n```", "no code here", "```\nCRASH\n```", "```\nSYNTAX\n```", "```\nfine\n```"}},
		{"question_id": "p3", "code_list": []string{"a", "b", "c", "WRONG d", "e"}},
		{"question_id": "bad1", "code_list": []string{"x"}},
		{"question_id": "bad2", "code_list": []string{"x"}},
		{"question_id": "bad3", "code_list": []string{"x"}},
		{"question_id": "ghost", "code_list": []string{"x"}},
	}
	gb, _ := json.Marshal(gens)
	generations = filepath.Join(dir, "gens.json")
	if err := os.WriteFile(generations, gb, 0o644); err != nil {
		t.Fatal(err)
	}
	return problems, generations
}
