package ioi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Generation is one row of a generations file in open-r1's shape
// (open-r1/ioi-2024-model-solutions, or huggingface/ioi's evaluate.py output):
// the model's whole answer, the subtask it was asked to solve, and its usage.
type Generation struct {
	Year           int             `json:"year"`
	ProblemID      string          `json:"problem_id"`
	Subtask        string          `json:"subtask"` // the subtask the prompt asked for
	TargetSubtask  string          `json:"target_subtask"`
	SolutionNumber int             `json:"solution_number"`
	UUID           string          `json:"uuid"`
	Generation     *string         `json:"generation"`
	Code           *string         `json:"code"`
	Metadata       json.RawMessage `json:"metadata"`
}

// Target is the subtask the generation was asked to solve.
func (g *Generation) Target() string {
	if g.TargetSubtask != "" {
		return g.TargetSubtask
	}
	return g.Subtask
}

// Source is the submission's C++ code: the last ```cpp block of the
// generation, as open-r1's extract_code takes it, or the row's code when the
// row has no generation. "" means no code was found.
func (g *Generation) Source() string {
	if g.Generation != nil {
		return ExtractCode(*g.Generation)
	}
	if g.Code != nil {
		return strings.TrimSpace(*g.Code)
	}
	return ""
}

// Length is how long the model thought, open-r1's tie-break among
// submissions: the output tokens its usage reports, else the generation's
// length in characters.
func (g *Generation) Length() int {
	var m struct {
		Usage struct {
			OutputTokens     *int `json:"output_tokens"`
			CompletionTokens *int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if len(g.Metadata) > 0 && json.Unmarshal(g.Metadata, &m) == nil {
		if m.Usage.OutputTokens != nil {
			return *m.Usage.OutputTokens
		}
		if m.Usage.CompletionTokens != nil {
			return *m.Usage.CompletionTokens
		}
	}
	if g.Generation != nil {
		return len(*g.Generation)
	}
	return 0
}

// ParseGeneration decodes one generations row.
func ParseGeneration(line []byte) (*Generation, error) {
	var g Generation
	if err := json.Unmarshal(line, &g); err != nil {
		return nil, fmt.Errorf("decode generation: %w", err)
	}
	if g.ProblemID == "" {
		return &g, errors.New("problem_id is missing")
	}
	if g.Generation == nil && g.Code == nil {
		return &g, errors.New("neither generation nor code is present")
	}
	return &g, nil
}

// ExtractCode takes the code of a model's answer as open-r1's IOI generation
// script does: what follows the last "```cpp" line opening, up to the next
// ```, trimmed; "" when the answer has no ```cpp block.
func ExtractCode(text string) string {
	i := strings.LastIndex(text, "```cpp\n")
	if i < 0 {
		return ""
	}
	block := text[i+len("```cpp\n"):]
	if j := strings.Index(block, "```"); j >= 0 {
		block = block[:j]
	}
	return strings.TrimSpace(block)
}

// AddIncludes puts in front of a submission what models often forget and
// open-r1 adds before judging: <bits/stdc++.h>, the task's header, and
// `using namespace std;`, each unless the code has it already.
func AddIncludes(code, problemID string) string {
	var b strings.Builder
	b.WriteString("#include <bits/stdc++.h>\n")
	if inc := `#include "` + problemID + `.h"`; !strings.Contains(code, inc) {
		b.WriteString(inc + "\n")
	}
	if !strings.Contains(code, "using namespace std;") {
		b.WriteString("\nusing namespace std;\n\n")
	}
	b.WriteString(code)
	return b.String()
}
