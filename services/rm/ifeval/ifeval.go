// Package ifeval reimplements IFEval's 25 verifiable instruction checkers
// (google-research instruction_following_eval, as packaged by
// josejg/instruction_following_eval), in strict and loose mode.
//
// Every checker follows the official Python line by line; where Python's
// string and regex semantics differ from Go's (Unicode \w and \s, str.strip,
// str.isupper) the internal/py package supplies Python's. Sentence and word
// counting use the punkt package (NLTK's Punkt and Treebank tokenizers, ported)
// and language identification uses the langdetect package (a port of
// langdetect 1.0.9 with seed 0).
package ifeval

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/langdetect"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval/punkt"
)

// Input is one response to judge against a prompt's instructions.
type Input struct {
	Prompt         string           `json:"prompt"`
	Response       string           `json:"response"`
	InstructionIDs []string         `json:"instruction_id_list"`
	Kwargs         []map[string]any `json:"kwargs"`
}

// Verdict is IFEval's per-prompt result in one mode.
type Verdict struct {
	FollowAll  bool   `json:"follow_all_instructions"`
	FollowList []bool `json:"follow_instruction_list"`
}

// Output holds the strict and loose verdicts.
type Output struct {
	Strict Verdict `json:"strict"`
	Loose  Verdict `json:"loose"`
}

// ErrInvalid marks errors caused by the input (unknown instruction id, missing
// or mistyped kwargs); Check returns only errors that wrap it.
var ErrInvalid = errors.New("invalid ifeval input")

// Check runs IFEval's checkers; an error means the input itself is wrong (unknown
// instruction id, kwargs of the wrong type, len(Kwargs) != len(InstructionIDs)).
// The error wraps ErrInvalid.
func Check(in Input) (Output, error) {
	if len(in.Kwargs) != len(in.InstructionIDs) {
		return Output{}, fmt.Errorf("%w: %d instruction ids but %d kwargs", ErrInvalid, len(in.InstructionIDs), len(in.Kwargs))
	}
	checkers := make([]checker, len(in.InstructionIDs))
	for i, id := range in.InstructionIDs {
		c, err := build(id, in.Kwargs[i])
		if err != nil {
			return Output{}, fmt.Errorf("%w: instruction %d (%s): %w", ErrInvalid, i, id, err)
		}
		checkers[i] = c
	}
	out := Output{
		Strict: Verdict{FollowAll: true, FollowList: make([]bool, len(checkers))},
		Loose:  Verdict{FollowAll: true, FollowList: make([]bool, len(checkers))},
	}
	strict := []string{in.Response}
	loose := looseVariants(in.Response)
	for i, c := range checkers {
		out.Strict.FollowList[i] = followsAny(c, strict)
		out.Loose.FollowList[i] = followsAny(c, loose)
		out.Strict.FollowAll = out.Strict.FollowAll && out.Strict.FollowList[i]
		out.Loose.FollowAll = out.Loose.FollowAll && out.Loose.FollowList[i]
	}
	return out, nil
}

// followsAny is the evaluator's `any(r.strip() and check(r) for r in responses)`:
// a variant that is blank after stripping never counts as followed.
func followsAny(c checker, responses []string) bool {
	for _, r := range responses {
		if strip(r) != "" && c(r) {
			return true
		}
	}
	return false
}

// looseVariants are the 8 responses loose mode tries, in the evaluator's order:
// the response, without '*', and with the first line, the last line, or both
// removed (stripped), each of those three also without '*'.
func looseVariants(response string) []string {
	lines := strings.Split(response, "\n")
	join := func(ls []string) string { return strip(strings.Join(ls, "\n")) }
	var dropFirst, dropLast, dropBoth string
	if len(lines) > 1 {
		dropFirst = join(lines[1:])
		dropLast = join(lines[:len(lines)-1])
		dropBoth = join(lines[1 : len(lines)-1])
	} else {
		// Python's lines[1:], lines[:-1] and lines[1:-1] of a one-element list are empty.
		dropFirst, dropLast, dropBoth = "", "", ""
	}
	noStar := func(s string) string { return strings.ReplaceAll(s, "*", "") }
	variants := []string{
		response,
		noStar(response),
		dropFirst,
		dropLast,
		dropBoth,
		noStar(dropFirst),
		noStar(dropLast),
		noStar(dropBoth),
	}
	// Checkers are pure, so a repeated variant cannot change any(); skipping it
	// saves a langdetect or Punkt run when the response has no '*' or one line.
	seen := make(map[string]bool, len(variants))
	unique := variants[:0]
	for _, v := range variants {
		if !seen[v] {
			seen[v] = true
			unique = append(unique, v)
		}
	}
	return unique
}

// Preload loads the language profiles and the Punkt parameters now, which
// otherwise happens on the first Check that needs them (most of a second).
func Preload() error {
	punkt.English()
	if err := langdetect.Load(); err != nil {
		return fmt.Errorf("load langdetect profiles: %w", err)
	}
	return nil
}

// Instructions lists the 25 supported instruction ids, sorted.
func Instructions() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
