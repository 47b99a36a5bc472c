// Package lcb reads LiveCodeBench's own files: its problem rows (the
// livecodebench/code_generation dataset, one JSON object per line) and the
// generations a model wrote for them, in either of the forms lcb_runner accepts.
package lcb

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rewardmesh/rewardmesh/eval/pickle"
)

// MaxTestsBytes bounds what one problem's hidden tests may inflate to, so a
// hostile row cannot exhaust memory (LiveCodeBench's largest are a few hundred MB).
const MaxTestsBytes = 2 << 30

// TestType says how a test feeds a program: stdin text, or a call of a function.
type TestType string

const (
	Stdin      TestType = "stdin"
	Functional TestType = "functional"
)

// Test is one of a problem's tests as LiveCodeBench stores it.
type Test struct {
	Input    string   `json:"input"`
	Output   string   `json:"output"`
	TestType TestType `json:"testtype"`
}

// Problem is one row of LiveCodeBench's code_generation dataset, tests decoded.
type Problem struct {
	QuestionTitle   string    `json:"question_title"`
	QuestionContent string    `json:"question_content"`
	Platform        string    `json:"platform"`
	QuestionID      string    `json:"question_id"`
	ContestID       string    `json:"contest_id"`
	ContestDate     time.Time `json:"-"`
	ContestDateRaw  string    `json:"contest_date"`
	StarterCode     string    `json:"starter_code"`
	Difficulty      string    `json:"difficulty"`
	FuncName        string    `json:"-"` // metadata.func_name; empty for stdin problems
	Public          []Test    `json:"-"`
	Private         []Test    `json:"-"`
}

// Tests are the public tests followed by the private ones, the order lcb_runner
// grades them in.
func (p *Problem) Tests() []Test {
	return append(append([]Test(nil), p.Public...), p.Private...)
}

// Mode is how the problem's programs are run: functional when it names a
// function (LiveCodeBench's own rule: fn_name present means call-based).
func (p *Problem) Mode() TestType {
	if p.FuncName != "" {
		return Functional
	}
	return Stdin
}

// row is the raw row: test fields and metadata stay raw until decoded.
type row struct {
	QuestionTitle    string          `json:"question_title"`
	QuestionContent  string          `json:"question_content"`
	Platform         string          `json:"platform"`
	QuestionID       json.RawMessage `json:"question_id"`
	ContestID        json.RawMessage `json:"contest_id"`
	ContestDate      string          `json:"contest_date"`
	StarterCode      string          `json:"starter_code"`
	Difficulty       string          `json:"difficulty"`
	PublicTestCases  json.RawMessage `json:"public_test_cases"`
	PrivateTestCases json.RawMessage `json:"private_test_cases"`
	Metadata         json.RawMessage `json:"metadata"`
}

// ParseHeader decodes a row's fields without decoding its tests, which are the
// bulk of a row and decoded only when the problem is judged.
func ParseHeader(line []byte) (*Problem, error) {
	return parse(line, false)
}

// ParseProblem decodes a whole row, tests included.
func ParseProblem(line []byte) (*Problem, error) {
	return parse(line, true)
}

func parse(line []byte, withTests bool) (*Problem, error) {
	var r row
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("decode row: %w", err)
	}
	id, err := IDString(r.QuestionID)
	if err != nil {
		return nil, fmt.Errorf("question_id: %w", err)
	}
	if id == "" {
		return nil, errors.New("question_id is missing")
	}
	p := &Problem{
		QuestionTitle:   r.QuestionTitle,
		QuestionContent: r.QuestionContent,
		Platform:        r.Platform,
		QuestionID:      id,
		ContestDateRaw:  r.ContestDate,
		StarterCode:     r.StarterCode,
		Difficulty:      r.Difficulty,
	}
	if p.ContestID, err = IDString(r.ContestID); err != nil {
		return p, fmt.Errorf("contest_id: %w", err)
	}
	if r.ContestDate != "" {
		if p.ContestDate, err = ParseDate(r.ContestDate); err != nil {
			return p, fmt.Errorf("contest_date: %w", err)
		}
	}
	if p.FuncName, err = funcName(r.Metadata); err != nil {
		return p, fmt.Errorf("metadata: %w", err)
	}
	if r.PublicTestCases == nil {
		return p, errors.New("public_test_cases is missing")
	}
	if r.PrivateTestCases == nil {
		return p, errors.New("private_test_cases is missing")
	}
	if !withTests {
		return p, nil
	}
	if p.Public, err = DecodeTests(r.PublicTestCases); err != nil {
		return p, fmt.Errorf("public_test_cases: %w", err)
	}
	if p.Private, err = DecodeTests(r.PrivateTestCases); err != nil {
		return p, fmt.Errorf("private_test_cases: %w", err)
	}
	if len(p.Public)+len(p.Private) == 0 {
		return p, errors.New("the problem has no tests")
	}
	return p, nil
}

// IDString accepts an id written as a JSON string or number; a missing or
// null one is "".
func IDString(raw json.RawMessage) (string, error) {
	text, quoted, err := unquote(raw)
	if err != nil || quoted || text == "" {
		return text, err
	}
	var n json.Number
	if err := json.Unmarshal([]byte(text), &n); err != nil {
		return "", fmt.Errorf("want a string or a number, got %.40s", text)
	}
	return n.String(), nil
}

// unquote reads a field that may hold its value as a JSON string: a string
// comes back decoded with quoted true, anything else as its trimmed JSON text,
// and a missing or null field as "".
func unquote(raw json.RawMessage) (text string, quoted bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	if raw[0] != '"' {
		return string(raw), false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	return s, true, nil
}

// ParseDate reads a contest_date: an ISO date-time as datetime.isoformat writes
// it (no zone), with a zone, or a bare date.
func ParseDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO date", s)
}

// funcName reads metadata.func_name. LiveCodeBench stores metadata as a JSON
// string holding a JSON object; an object in its place is accepted too.
func funcName(raw json.RawMessage) (string, error) {
	text, _, err := unquote(raw)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(text) == "" {
		return "", nil
	}
	var meta struct {
		FuncName *string `json:"func_name"`
	}
	if err := json.Unmarshal([]byte(text), &meta); err != nil {
		return "", fmt.Errorf("want a JSON object: %w", err)
	}
	if meta.FuncName == nil {
		return "", nil
	}
	return *meta.FuncName, nil
}

// DecodeTests decodes a test-case field: a JSON string holding a JSON list
// (public tests, and private ones in early releases), the same list inline, or a
// string of base64 → zlib → pickle of the JSON text (private tests in the
// released dataset).
func DecodeTests(raw json.RawMessage) ([]Test, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		return decodeTestList([]byte(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("want a string or a list: %w", err)
	}
	trimmed := strings.TrimSpace(s)
	if trimmed == "" {
		return nil, nil
	}
	if trimmed[0] == '[' {
		return decodeTestList([]byte(trimmed))
	}
	text, err := DecodeCompressed(trimmed)
	if err != nil {
		return nil, err
	}
	return decodeTestList([]byte(text))
}

// DecodeCompressed undoes LiveCodeBench's encoding of hidden tests:
// base64, then zlib, then a pickled str.
func DecodeCompressed(s string) (string, error) {
	compressed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("base64: %w", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return "", fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, MaxTestsBytes+1))
	if err != nil {
		return "", fmt.Errorf("zlib: %w", err)
	}
	if len(data) > MaxTestsBytes {
		return "", fmt.Errorf("zlib: tests inflate past %d bytes", MaxTestsBytes)
	}
	text, err := pickle.DecodeString(data)
	if err != nil {
		return "", err
	}
	return text, nil
}

func decodeTestList(b []byte) ([]Test, error) {
	var tests []Test
	if err := json.Unmarshal(b, &tests); err != nil {
		return nil, fmt.Errorf("test list: %w", err)
	}
	for i, t := range tests {
		switch t.TestType {
		case Stdin, Functional:
		case "":
			// Older rows leave the type out; the problem's metadata decides.
		default:
			return nil, fmt.Errorf("test %d: testtype %q is neither stdin nor functional", i, t.TestType)
		}
	}
	return tests, nil
}

// RowError is a row that could not be read, and why.
type RowError struct {
	Line       int    `json:"line"`
	QuestionID string `json:"question_id,omitempty"`
	Err        string `json:"error"`
}

// ReadLines calls fn with each non-blank line of r and its 1-based number. Lines
// may be of any length: LiveCodeBench rows reach hundreds of megabytes.
func ReadLines(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(n, line); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
	}
}
