// Package cf reads Codeforces-style evaluation batches: problems with time and
// memory limits, tests and an optional checker, one JSON object per line, in
// rewardmesh's own shape or in DeepMind CodeContests' (which it accepts as is).
package cf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rewardmesh/rewardmesh/eval/lcb"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Defaults for problems that state no limits: Codeforces' most common ones.
const (
	DefaultTimeLimitMS   = 2000
	DefaultMemoryLimitMB = 256
)

// Checker is a special judge: `checker input output answer`, testlib exit codes.
type Checker struct {
	Language string `json:"language"`
	Source   string `json:"source"`
}

// Problem is one problem of a batch.
type Problem struct {
	ID            string
	Name          string
	Contest       string
	Source        string // the platform, lower case: codeforces, codechef, …
	Index         string
	Points        float64 // 0 when the row gives none; the report then counts 1 per problem
	Rating        int
	TimeLimitMS   int
	MemoryLimitMB int
	Compare       string // tokens (default), exact, float:EPS, lcb; ignored with a checker
	Checker       *Checker
	Tests         []reward.TestCase
}

// row is every field either shape may carry.
type row struct {
	ID            json.RawMessage `json:"id"`
	ProblemID     json.RawMessage `json:"problem_id"`
	Name          string          `json:"name"`
	Source        json.RawMessage `json:"source"`
	ContestID     json.RawMessage `json:"contest_id"`
	Index         string          `json:"index"`
	Points        *float64        `json:"points"`
	TimeLimitMS   *float64        `json:"time_limit_ms"`
	TimeLimit     json.RawMessage `json:"time_limit"`
	MemoryLimitMB *float64        `json:"memory_limit_mb"`
	MemoryBytes   *float64        `json:"memory_limit_bytes"`
	Compare       string          `json:"compare"`
	Checker       *Checker        `json:"checker"`
	Tests         []testCase      `json:"tests"`

	// CodeContests' fields.
	CFContestID json.RawMessage `json:"cf_contest_id"`
	CFIndex     string          `json:"cf_index"`
	CFPoints    *float64        `json:"cf_points"`
	CFRating    *int            `json:"cf_rating"`
	Public      *columns        `json:"public_tests"`
	Private     *columns        `json:"private_tests"`
	Generated   *columns        `json:"generated_tests"`
}

type testCase struct {
	Input  *string `json:"input"`
	Output *string `json:"output"`
}

// columns is CodeContests' test layout: parallel lists of inputs and outputs.
type columns struct {
	Input  []string `json:"input"`
	Output []string `json:"output"`
}

// codeContestsSources are CodeContests' source enum values.
var codeContestsSources = map[string]string{"0": "UNKNOWN_SOURCE", "1": "CODECHEF", "2": "CODEFORCES", "3": "HACKEREARTH", "4": "CODEJAM", "5": "ATCODER", "6": "AIZU"}

// cfName is CodeContests' Codeforces naming: "1000_A. Codehorses T-shirts".
var cfName = regexp.MustCompile(`^(\d+)_([A-Za-z]\d*)\. `)

// ParseProblem decodes a row; withTests false skips gathering the tests.
func ParseProblem(line []byte, withTests bool) (*Problem, error) {
	var r row
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("decode row: %w", err)
	}
	p := &Problem{Name: r.Name, Index: r.Index, Compare: r.Compare, Checker: r.Checker}
	var err error
	if p.ID, err = lcb.IDString(r.ID); err != nil {
		return nil, fmt.Errorf("id: %w", err)
	}
	if p.ID == "" {
		if p.ID, err = lcb.IDString(r.ProblemID); err != nil {
			return nil, fmt.Errorf("problem_id: %w", err)
		}
	}
	if p.ID == "" {
		p.ID = r.Name
	}
	if p.ID == "" {
		return nil, errors.New("the row has no id, problem_id or name")
	}
	source, _ := lcb.IDString(r.Source)
	if s, ok := codeContestsSources[source]; ok {
		source = s
	}
	if p.Contest, err = lcb.IDString(r.ContestID); err != nil {
		return p, fmt.Errorf("contest_id: %w", err)
	}
	if p.Contest == "" {
		if p.Contest, err = lcb.IDString(r.CFContestID); err != nil {
			return p, fmt.Errorf("cf_contest_id: %w", err)
		}
		if p.Contest == "0" {
			p.Contest = ""
		}
	}
	if p.Index == "" {
		p.Index = r.CFIndex
	}
	if m := cfName.FindStringSubmatch(r.Name); m != nil {
		if p.Contest == "" {
			p.Contest = m[1]
		}
		if p.Index == "" {
			p.Index = m[2]
		}
	}
	p.Source = strings.ToLower(source)
	if p.Source == "" || p.Source == "unknown_source" {
		p.Source = "codeforces"
	}
	if p.Contest == "" {
		// Without a contest the problem stands in its source's pool.
		p.Contest = p.Source
	}
	switch {
	case r.Points != nil:
		p.Points = *r.Points
	case r.CFPoints != nil:
		p.Points = *r.CFPoints
	}
	if r.CFRating != nil {
		p.Rating = *r.CFRating
	}
	if p.TimeLimitMS, err = timeLimit(r); err != nil {
		return p, err
	}
	switch {
	case r.MemoryLimitMB != nil:
		p.MemoryLimitMB = int(*r.MemoryLimitMB)
	case r.MemoryBytes != nil && *r.MemoryBytes > 0:
		p.MemoryLimitMB = int(*r.MemoryBytes / (1 << 20))
	default:
		p.MemoryLimitMB = DefaultMemoryLimitMB
	}
	if p.MemoryLimitMB <= 0 {
		return p, fmt.Errorf("memory limit %d MB is not positive", p.MemoryLimitMB)
	}
	if p.Checker != nil && (p.Checker.Language == "" || p.Checker.Source == "") {
		return p, errors.New("checker needs both language and source")
	}
	if !withTests {
		return p, nil
	}
	for i, t := range r.Tests {
		if t.Input == nil || t.Output == nil {
			return p, fmt.Errorf("test %d: needs input and output", i)
		}
		p.Tests = append(p.Tests, reward.TestCase{Input: *t.Input, Output: *t.Output})
	}
	for _, c := range []struct {
		name string
		cols *columns
	}{{"public_tests", r.Public}, {"private_tests", r.Private}, {"generated_tests", r.Generated}} {
		if c.cols == nil {
			continue
		}
		if len(c.cols.Input) != len(c.cols.Output) {
			return p, fmt.Errorf("%s: %d inputs but %d outputs", c.name, len(c.cols.Input), len(c.cols.Output))
		}
		for i := range c.cols.Input {
			p.Tests = append(p.Tests, reward.TestCase{Input: c.cols.Input[i], Output: c.cols.Output[i]})
		}
	}
	if len(p.Tests) == 0 {
		return p, errors.New("the problem has no tests")
	}
	return p, nil
}

// timeLimit reads time_limit_ms, or time_limit as seconds or as CodeContests'
// {"seconds","nanos"}.
func timeLimit(r row) (int, error) {
	if r.TimeLimitMS != nil {
		if *r.TimeLimitMS <= 0 {
			return 0, fmt.Errorf("time_limit_ms %g is not positive", *r.TimeLimitMS)
		}
		return int(*r.TimeLimitMS), nil
	}
	raw := bytes.TrimSpace(r.TimeLimit)
	if len(raw) == 0 || string(raw) == "null" {
		return DefaultTimeLimitMS, nil
	}
	if raw[0] == '{' {
		var d struct {
			Seconds float64 `json:"seconds"`
			Nanos   float64 `json:"nanos"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return 0, fmt.Errorf("time_limit: %w", err)
		}
		ms := int(d.Seconds*1000 + d.Nanos/1e6)
		if ms <= 0 {
			return DefaultTimeLimitMS, nil
		}
		return ms, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs <= 0 {
		return 0, fmt.Errorf("time_limit %s: want positive seconds", raw)
	}
	return int(secs * 1000), nil
}

// Generation is one problem's samples.
type Generation struct {
	ID       string
	Language string
	Codes    []string
}

// ParseGenerations reads a JSON list (or JSON lines) of
// {"id"|"problem_id"|"question_id", "language"?, "code_list"|"output_list"}.
// Responses in output_list have their code extracted as LiveCodeBench does.
// Entries that cannot be read are returned as errors; the rest stand.
func ParseGenerations(data []byte, defaultLanguage string) (map[string]*Generation, []lcb.RowError, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, errors.New("generations file is empty")
	}
	var entries []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, nil, fmt.Errorf("decode generations list: %w", err)
		}
	} else {
		for _, line := range bytes.Split(data, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				entries = append(entries, line)
			}
		}
	}
	out := map[string]*Generation{}
	var errs []lcb.RowError
	for i, raw := range entries {
		var e struct {
			ID         json.RawMessage `json:"id"`
			ProblemID  json.RawMessage `json:"problem_id"`
			QuestionID json.RawMessage `json:"question_id"`
			Language   string          `json:"language"`
			CodeList   []string        `json:"code_list"`
			OutputList []string        `json:"output_list"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			errs = append(errs, lcb.RowError{Line: i + 1, Err: "decode entry: " + err.Error()})
			continue
		}
		var id string
		for _, f := range []json.RawMessage{e.ID, e.ProblemID, e.QuestionID} {
			if s, err := lcb.IDString(f); err == nil && s != "" {
				id = s
				break
			}
		}
		if id == "" {
			errs = append(errs, lcb.RowError{Line: i + 1, Err: "no id, problem_id or question_id"})
			continue
		}
		g := &Generation{ID: id, Language: cmpOr(e.Language, defaultLanguage), Codes: e.CodeList}
		if g.Codes == nil {
			for _, o := range e.OutputList {
				g.Codes = append(g.Codes, lcb.ExtractCode(o))
			}
		}
		if len(g.Codes) == 0 {
			errs = append(errs, lcb.RowError{Line: i + 1, QuestionID: id, Err: "no code_list or output_list"})
			continue
		}
		if _, dup := out[id]; dup {
			errs = append(errs, lcb.RowError{Line: i + 1, QuestionID: id, Err: "id appears twice; the first entry is kept"})
			continue
		}
		out[id] = g
	}
	return out, errs, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// SortKey orders problems by contest (numerically where both are numbers) and index.
func SortKey(a, b *Problem) int {
	if c := compareMaybeNumbers(a.Contest, b.Contest); c != 0 {
		return c
	}
	if c := strings.Compare(a.Index, b.Index); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func compareMaybeNumbers(a, b string) int {
	na, ea := strconv.Atoi(a)
	nb, eb := strconv.Atoi(b)
	if ea == nil && eb == nil {
		return na - nb
	}
	return strings.Compare(a, b)
}
