// Package ioi reads open-r1's IOI data as the Hugging Face datasets hold it
// (open-r1/ioi, open-r1/ioi-test-cases, open-r1/ioi-2024-model-solutions, each
// exported as JSON lines), turns an IOI task into what the sandbox's judge
// takes (tests, subtasks, grader files, a checker) and scores submissions by
// IOI's rules, with open-r1's round-robin choice of 50 submissions.
package ioi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
)

// Row is one row of open-r1/ioi: one subtask of a task. A task's rows share
// year, id and everything but subtask, score and test_names.
type Row struct {
	Year           int             `json:"year"`
	Name           string          `json:"name"`
	ID             string          `json:"id"`
	Day            string          `json:"day"`
	Subtask        string          `json:"subtask"`
	Score          float64         `json:"score"`
	TimeLimit      float64         `json:"time_limit"`   // seconds
	MemoryLimit    float64         `json:"memory_limit"` // bytes (MiB when under 1<<20)
	ScorePrecision *int            `json:"score_precision"`
	TaskType       string          `json:"task_type"`
	TestNames      []string        `json:"test_names"`
	GraderFiles    json.RawMessage `json:"grader_files"`
}

// Key names a task across years: IOI reuses no id within a year.
func Key(year int, id string) string {
	if year == 0 {
		return id
	}
	return strconv.Itoa(year) + "/" + id
}

// ParseRow decodes a row of open-r1/ioi and checks what judging needs.
func ParseRow(line []byte) (*Row, error) {
	var r Row
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("decode row: %w", err)
	}
	switch {
	case r.ID == "":
		return &r, errors.New("id is missing")
	case r.Subtask == "":
		return &r, errors.New("subtask is missing")
	case len(r.TestNames) == 0:
		return &r, fmt.Errorf("subtask %s has no test_names", r.Subtask)
	case r.Score < 0 || math.IsNaN(r.Score) || math.IsInf(r.Score, 0):
		return &r, fmt.Errorf("subtask %s: score %v is not a number of points", r.Subtask, r.Score)
	}
	return &r, nil
}

// Subtask is a subtask of a task: its points and the names of its tests.
type Subtask struct {
	Name   string   `json:"name"`
	Points float64  `json:"points"`
	Tests  []string `json:"tests"`
}

// Task is an IOI task put together from its subtask rows.
type Task struct {
	Year           int
	ID, Name, Day  string
	TaskType       string
	TimeLimitMS    int
	MemoryLimitMB  int
	ScorePrecision int
	Subtasks       []Subtask // in the rows' order: 00-samples first in open-r1's data
	GraderFiles    map[string]string
	TestNames      []string // every subtask's tests, each once, in first-seen order
}

// Key is the task's key (Key(year, id)).
func (t *Task) Key() string { return Key(t.Year, t.ID) }

// MaxScore is the sum of the subtasks' points.
func (t *Task) MaxScore() float64 {
	s := 0.0
	for _, st := range t.Subtasks {
		s += st.Points
	}
	return s
}

// NewTask starts a task from its first row.
func NewTask(r *Row) (*Task, error) {
	files, err := graderFiles(r.GraderFiles)
	if err != nil {
		return nil, err
	}
	t := &Task{Year: r.Year, ID: r.ID, Name: r.Name, Day: r.Day, TaskType: r.TaskType, GraderFiles: files, ScorePrecision: 2}
	if r.ScorePrecision != nil {
		// CMS rounds to a few decimals; out of range would make rounding NaN.
		t.ScorePrecision = min(max(*r.ScorePrecision, 0), 9)
	}
	if r.TimeLimit > 0 {
		t.TimeLimitMS = int(math.Round(r.TimeLimit * 1000))
	}
	switch {
	case r.MemoryLimit >= 1<<20:
		t.MemoryLimitMB = int(r.MemoryLimit / (1 << 20))
	case r.MemoryLimit > 0:
		t.MemoryLimitMB = int(r.MemoryLimit)
	}
	return t, t.Add(r)
}

// Add adds a subtask row of the task.
func (t *Task) Add(r *Row) error {
	for _, st := range t.Subtasks {
		if st.Name == r.Subtask {
			return fmt.Errorf("subtask %s appears twice", r.Subtask)
		}
	}
	t.Subtasks = append(t.Subtasks, Subtask{Name: r.Subtask, Points: r.Score, Tests: r.TestNames})
	seen := make(map[string]bool, len(t.TestNames))
	for _, n := range t.TestNames {
		seen[n] = true
	}
	for _, n := range r.TestNames {
		if !seen[n] {
			seen[n] = true
			t.TestNames = append(t.TestNames, n)
		}
	}
	return nil
}

// graderFiles reads grader_files: open-r1's list of [name, content] pairs (an
// object of name → content is taken too). Pairs with no content are left out,
// as open-r1 leaves them out of the sandbox.
func graderFiles(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		var obj map[string]string
		if json.Unmarshal(raw, &obj) != nil {
			return nil, fmt.Errorf("grader_files: want a list of [name, content] pairs: %w", err)
		}
		for k, v := range obj {
			if v != "" {
				out[k] = v
			}
		}
		return out, nil
	}
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("grader_files[%d]: want [name, content], got %d strings", i, len(p))
		}
		if p[1] != "" {
			out[p[0]] = p[1]
		}
	}
	return out, nil
}

// Unsupported says why a task cannot be judged here, or "" when it can. Batch
// tasks (a grader linked with the contestant's functions, or plain stdin) run;
// a Communication task needs a manager process talking to the submission
// through pipes, and an OutputOnly task has no program to run.
func (t *Task) Unsupported() string {
	switch strings.ToLower(t.TaskType) {
	case "", "batch":
	case "communication":
		return "task type Communication: it needs a manager process that talks to the submission over pipes, which the sandbox does not run"
	case "outputonly", "output_only":
		return "task type OutputOnly: the answers are files, not a program to run"
	default:
		return fmt.Sprintf("task type %q is not one this evaluator knows", t.TaskType)
	}
	for name := range t.GraderFiles {
		if path.Base(name) == "manager.cpp" {
			return "the grader files hold a manager (manager.cpp), which runs beside the submission; the sandbox does not run one"
		}
	}
	return ""
}

// Judging is what a task gives every judge item of its submissions.
type Judging struct {
	Files   map[string]string // the grader and its headers, beside the program
	Checker string            // C++ checker source, "" to compare tokens
	Ignored []string          // grader files that play no part here (open-r1's compile and run scripts)
}

// Judging lays the task's grader files out for the sandbox. open-r1 keeps the
// grader in graders/ and compiles the contestant's file there; the sandbox
// compiles the program at the top of its working directory, so graders/ is
// flattened to the top, where `#include "ID.h"` finds the header. The checker
// (checker/checker.cpp) becomes the item's checker, see CheckerSource.
func (t *Task) Judging() (Judging, error) {
	j := Judging{Files: map[string]string{}}
	for name, text := range t.GraderFiles {
		dir, base := path.Split(path.Clean(name))
		switch {
		case dir == "graders/" || dir == "":
			switch path.Ext(base) {
			case ".cpp", ".cc", ".cxx", ".h", ".hpp":
				if base == strings.ToLower(t.ID)+".cpp" {
					// The contestant's own file: the submission replaces it.
					j.Ignored = append(j.Ignored, name)
					continue
				}
				if prev, dup := j.Files[base]; dup && prev != text {
					return j, fmt.Errorf("grader files: two different files named %s", base)
				}
				j.Files[base] = text
			default:
				j.Ignored = append(j.Ignored, name)
			}
		case dir == "checker/":
			// Read below with the includes it names.
		default:
			j.Ignored = append(j.Ignored, name)
		}
	}
	if src, ok := t.GraderFiles["checker/checker.cpp"]; ok {
		checker, err := CheckerSource(src, t.GraderFiles)
		if err != nil {
			return j, err
		}
		j.Checker = checker
	}
	return j, nil
}
