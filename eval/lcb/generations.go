package lcb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Generation is what a model wrote for one problem: the code to judge
// (CodeList) and, where the file had it, the raw responses it came from.
type Generation struct {
	QuestionID string   `json:"question_id"`
	CodeList   []string `json:"code_list"`
	OutputList []string `json:"output_list,omitempty"`
}

// Generations is a generations file: by question id, or, for lcb_runner's bare
// list-of-lists form, by position among the problems sorted by question_id.
type Generations struct {
	ByID       map[string]*Generation
	Positional [][]string // set only for the list-of-lists form
	Order      []string   // question ids in file order (ByID form)
	Errors     []RowError // entries that could not be read; the rest stand
}

// ParseGenerations reads a generations file: a JSON list of
// {"question_id","code_list"} or {"question_id","output_list"} (code extracted
// from each response's first fenced block, as lcb_runner does), JSON lines of
// the same objects, or a JSON list of lists of code.
func ParseGenerations(data []byte) (*Generations, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("generations file is empty")
	}
	var entries []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, fmt.Errorf("decode generations list: %w", err)
		}
	} else {
		for _, line := range bytes.Split(data, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				entries = append(entries, line)
			}
		}
	}
	g := &Generations{ByID: make(map[string]*Generation)}
	if len(entries) > 0 && bytes.HasPrefix(bytes.TrimSpace(entries[0]), []byte("[")) {
		for i, e := range entries {
			var codes []string
			if err := json.Unmarshal(e, &codes); err != nil {
				return nil, fmt.Errorf("generations entry %d: want a list of code strings: %w", i, err)
			}
			g.Positional = append(g.Positional, codes)
		}
		return g, nil
	}
	for i, e := range entries {
		gen, err := parseGeneration(e)
		if err != nil {
			re := RowError{Line: i + 1, Err: err.Error()}
			if gen != nil {
				re.QuestionID = gen.QuestionID
			}
			g.Errors = append(g.Errors, re)
			continue
		}
		if _, dup := g.ByID[gen.QuestionID]; dup {
			g.Errors = append(g.Errors, RowError{Line: i + 1, QuestionID: gen.QuestionID, Err: "question_id appears twice; the first entry is kept"})
			continue
		}
		g.ByID[gen.QuestionID] = gen
		g.Order = append(g.Order, gen.QuestionID)
	}
	return g, nil
}

func parseGeneration(raw json.RawMessage) (*Generation, error) {
	var e struct {
		QuestionID json.RawMessage `json:"question_id"`
		CodeList   []string        `json:"code_list"`
		OutputList []string        `json:"output_list"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("decode entry: %w", err)
	}
	id, err := IDString(e.QuestionID)
	if err != nil {
		return nil, fmt.Errorf("question_id: %w", err)
	}
	g := &Generation{QuestionID: id, CodeList: e.CodeList, OutputList: e.OutputList}
	if id == "" {
		return g, errors.New("question_id is missing")
	}
	switch {
	case e.CodeList != nil:
	case e.OutputList != nil:
		g.CodeList = make([]string, len(e.OutputList))
		for i, out := range e.OutputList {
			g.CodeList[i] = ExtractCode(out)
		}
	default:
		return g, errors.New("neither code_list nor output_list is present")
	}
	if len(g.CodeList) == 0 {
		return g, errors.New("the entry has no code")
	}
	return g, nil
}

// ExtractCode returns the code of a model response the way lcb_runner's
// extract_code does for chat models: the lines strictly between the first two
// lines that contain ``` anywhere, joined by newlines; "" when there are fewer
// than two such lines (the sample is then graded as failing, as there).
func ExtractCode(response string) string {
	lines := strings.Split(response, "\n")
	first, second := -1, -1
	for i, line := range lines {
		if !strings.Contains(line, "```") {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		second = i
		break
	}
	if second < 0 {
		return ""
	}
	return strings.Join(lines[first+1:second], "\n")
}
