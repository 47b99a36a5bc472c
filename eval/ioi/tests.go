package ioi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// TestRow is one row of open-r1/ioi-test-cases.
type TestRow struct {
	Year      int    `json:"year"`
	ProblemID string `json:"problem_id"`
	TestName  string `json:"test_name"`
	Input     string `json:"test_input"`
	Output    string `json:"test_output"`
}

type span struct{ off, n int64 }

// TestIndex is where each test of a tests file lies, so that a task's tests
// are read when it is judged and never all at once (a year of IOI tests is
// about a gigabyte).
type TestIndex struct {
	r     io.ReaderAt
	tests map[string]map[string]span // task key → test name → row
	// Errors are the rows that could not be indexed, by line.
	Errors map[int]string
}

// IndexTests reads the tests file once, keeping only where each row lies.
func IndexTests(r io.Reader, at io.ReaderAt) (*TestIndex, error) {
	ix := &TestIndex{r: at, tests: map[string]map[string]span{}, Errors: map[int]string{}}
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var head struct {
				Year      int    `json:"year"`
				ProblemID string `json:"problem_id"`
				TestName  string `json:"test_name"`
			}
			switch jerr := json.Unmarshal(line, &head); {
			case jerr != nil:
				ix.Errors[n] = fmt.Sprintf("decode test row: %v", jerr)
			case head.ProblemID == "" || head.TestName == "":
				ix.Errors[n] = "test row without problem_id or test_name"
			default:
				key := Key(head.Year, head.ProblemID)
				if ix.tests[key] == nil {
					ix.tests[key] = map[string]span{}
				}
				ix.tests[key][head.TestName] = span{off, int64(len(line))}
			}
		}
		off += int64(len(line))
		if errors.Is(err, io.EOF) {
			return ix, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tests line %d: %w", n, err)
		}
	}
}

// Has reports whether the file holds tests for the task.
func (ix *TestIndex) Has(key string) bool { return len(ix.tests[key]) > 0 }

// Missing lists the names among names the file has no test for.
func (ix *TestIndex) Missing(key string, names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := ix.tests[key][n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// Load reads the named tests of a task, in the order named.
func (ix *TestIndex) Load(key string, names []string) ([]TestRow, error) {
	out := make([]TestRow, len(names))
	for i, name := range names {
		sp, ok := ix.tests[key][name]
		if !ok {
			return nil, fmt.Errorf("test %s of %s is not in the tests file", name, key)
		}
		buf := make([]byte, sp.n)
		if _, err := ix.r.ReadAt(buf, sp.off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read test %s of %s: %w", name, key, err)
		}
		if err := json.Unmarshal(buf, &out[i]); err != nil {
			return nil, fmt.Errorf("decode test %s of %s: %w", name, key, err)
		}
	}
	return out, nil
}
