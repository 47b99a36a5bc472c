// Package swe scores software-engineering patches without running them: SWE-RL's
// lexical reward (a port of its calculate_search_replace_reward that matches it bit
// for bit) and Nemotron-Cascade's rule on top of it, with an optional LLM judge for
// semantic similarity. Subpackages: difflib (Python's SequenceMatcher and
// unified_diff), patch (parsing and applying model output), judge (the LLM client).
package swe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
	"github.com/rewardmesh/rewardmesh/services/swe/patch"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Rules.
const (
	RuleCascade = "cascade"
	RuleSWERL   = "swerl"
)

// Reasons a reward was given (Outcome.Reason); a format failure gives its message.
const (
	ReasonNoChange  = "no_change" // cascade: the patch changes nothing the line diff sees
	ReasonIdentical = "identical" // lexically identical to the oracle
	ReasonSemantic  = "semantic"  // the judge's score
	ReasonLexical   = "lexical"   // the mean per-file similarity
)

// Judge scores how equivalent a predicted patch is to the oracle, in [0, 1].
type Judge interface {
	Score(ctx context.Context, predicted, oracle string) (float64, error)
}

// FileSimilarity is one entry of SWE-RL's metadata["similarities"].
type FileSimilarity struct {
	Path         string  `json:"path"`
	PredChange   string  `json:"pred_change"`
	OracleChange string  `json:"oracle_change"`
	Similarity   float64 `json:"similarity"`
}

// Outcome is a scored response.
type Outcome struct {
	Reward  float64
	Lexical float64
	// Semantic is the judge's score when it was asked.
	Semantic *float64
	Reason   string
	// Similarities are per file, sorted by path (SWE-RL lists them in set order).
	Similarities []FileSimilarity
	// Thought and Answer are what SWE-RL extracts from the tags ("" without tags).
	Thought, Answer string
}

// Task is one patch to score.
type Task struct {
	Response      string
	OriginalFiles map[string]string
	// OracleFiles are the new contents of the files the oracle changes. When nil,
	// OraclePatch (a unified diff against OriginalFiles) is applied instead.
	OracleFiles map[string]string
	OraclePatch string
	Rule        string // RuleCascade (default) or RuleSWERL
	// Semantic asks for (true) or refuses (false) the judge; nil uses it when one
	// is configured. Only the cascade rule uses it.
	Semantic *bool
}

// Scorer computes rewards. The zero value scores lexically with default limits.
type Scorer struct {
	// Judge gives the semantic score; nil means none is configured.
	Judge Judge
	// AllowUntagged lets the cascade rule accept a response with none of
	// <think>, </think>, <solution>, </solution> as a bare answer. Off, such a
	// response is a format error (-1), as in SWE-RL.
	AllowUntagged bool
	// WorkBudget bounds each SequenceMatcher run (difflib.DefaultBudget when 0).
	WorkBudget int64
	// MaxFileBytes bounds a file after edits (patch.DefaultMaxFileBytes when 0).
	MaxFileBytes int
}

// asFormat finds a response's format failure, which scores -1, as opposed to a
// limit or a cancellation, which fail the item.
func asFormat(err error) (*patch.FormatError, bool) {
	var fe *patch.FormatError
	ok := errors.As(err, &fe)
	return fe, ok
}

// Score scores one task. Failures of the response itself (unparsable,
// unappliable) are an Outcome with reward -1; an error means the task could not be
// scored: invalid input, a limit (too_large), the deadline, or the judge failing.
func (s *Scorer) Score(ctx context.Context, t Task) (Outcome, error) {
	rule := t.Rule
	if rule == "" {
		rule = RuleCascade
	}
	if rule != RuleCascade && rule != RuleSWERL {
		return Outcome{}, reward.Errorf(reward.Invalid, "rule %q: want %q or %q", rule, RuleCascade, RuleSWERL)
	}
	if t.OriginalFiles == nil {
		t.OriginalFiles = map[string]string{}
	}
	oracleFiles := t.OracleFiles
	if oracleFiles == nil {
		var err error
		if oracleFiles, err = s.oracleFromPatch(t.OriginalFiles, t.OraclePatch); err != nil {
			return Outcome{}, err
		}
	}
	if rule == RuleSWERL {
		return s.swerl(ctx, t.OriginalFiles, oracleFiles, t.Response)
	}
	return s.cascade(ctx, t, oracleFiles)
}

func (s *Scorer) oracleFromPatch(original map[string]string, text string) (map[string]string, error) {
	if strings.TrimSpace(text) == "" {
		return map[string]string{}, nil // the oracle changes nothing
	}
	files, err := patch.ApplyUnifiedDiff(original, text)
	if err != nil {
		if errors.Is(err, patch.ErrTooLarge) {
			return nil, reward.Errorf(reward.TooLarge, "apply oracle_patch: %v", err)
		}
		return nil, reward.Errorf(reward.Invalid, "apply oracle_patch: %v", err)
	}
	return files, nil
}

// formatOutcome is the -1 a response earns when it cannot be parsed or applied.
func formatOutcome(msg string) Outcome {
	return Outcome{Reward: -1, Lexical: -1, Reason: msg}
}

// swerl is SWE-RL's calculate_search_replace_reward.
func (s *Scorer) swerl(ctx context.Context, original, oracle map[string]string, output string) (Outcome, error) {
	thought, answer, err := patch.ThoughtSolution(output)
	if err != nil {
		return formatOutcome(err.Error()), nil
	}
	blocks := patch.ParseSearchReplace(answer)
	if len(blocks) == 0 {
		return formatOutcome("No valid search blocks found"), nil
	}
	pred, err := patch.ApplySearchReplace(original, blocks, patch.ApplyOptions{MaxFileBytes: s.MaxFileBytes})
	if err != nil {
		return s.applyFailure(err)
	}
	sims, lexical, err := s.Lexical(ctx, original, oracle, pred)
	if err != nil {
		return Outcome{}, err
	}
	reason := ReasonLexical
	if lexical == 1 {
		reason = ReasonIdentical
	}
	return Outcome{Reward: lexical, Lexical: lexical, Reason: reason, Similarities: sims, Thought: thought, Answer: answer}, nil
}

func (s *Scorer) applyFailure(err error) (Outcome, error) {
	if fe, ok := asFormat(err); ok {
		return formatOutcome(fe.Msg), nil
	}
	if errors.Is(err, patch.ErrTooLarge) {
		return Outcome{}, reward.Errorf(reward.TooLarge, "apply response: %v", err)
	}
	return Outcome{}, reward.Errorf(reward.Internal, "apply response: %v", err)
}

// cascade is Nemotron-Cascade's rule: -1 unparsable or unappliable; 0 when the
// patch changes nothing the line diff can see; 1 when lexically identical;
// otherwise the judge's score, or the lexical one without a judge.
func (s *Scorer) cascade(ctx context.Context, t Task, oracle map[string]string) (Outcome, error) {
	thought, answer, err := s.cascadeAnswer(t.Response)
	if err != nil {
		return formatOutcome(err.Error()), nil
	}
	var pred map[string]string
	if blocks := patch.ParseSearchReplace(answer); len(blocks) > 0 {
		// Unlike SWE-RL, a SEARCH == REPLACE block is not an error: it changes
		// nothing, so a response of only such blocks scores 0 (no change) and one
		// beside real edits is scored on those edits. Its text must still occur.
		pred, err = patch.ApplySearchReplace(t.OriginalFiles, blocks, patch.ApplyOptions{AllowIdentical: true, MaxFileBytes: s.MaxFileBytes})
	} else if diffText := patch.ExtractDiff(answer); diffText != "" {
		pred, err = patch.ApplyUnifiedDiff(t.OriginalFiles, diffText)
	} else {
		return formatOutcome("No valid search blocks found"), nil
	}
	if err != nil {
		return s.applyFailure(err)
	}
	predPatch, err := s.filePatches(ctx, t.OriginalFiles, pred)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Thought: thought, Answer: answer}
	if len(predPatch) == 0 {
		// "No change" is judged on the line diff, the same view the lexical score
		// takes: a change only to line endings or the final newline is none.
		out.Reason = ReasonNoChange
		return out, nil
	}
	oraclePatch, err := s.filePatches(ctx, t.OriginalFiles, oracle)
	if err != nil {
		return Outcome{}, err
	}
	out.Similarities, out.Lexical, err = s.similarities(ctx, predPatch, oraclePatch)
	if err != nil {
		return Outcome{}, err
	}
	if out.Lexical == 1 {
		out.Reward, out.Reason = 1, ReasonIdentical
		return out, nil
	}
	useJudge := s.Judge != nil
	if t.Semantic != nil {
		if *t.Semantic && s.Judge == nil {
			return Outcome{}, reward.Errorf(reward.Unavailable, "semantic scoring asked for, but no judge is configured")
		}
		useJudge = *t.Semantic
	}
	if !useJudge {
		out.Reward, out.Reason = out.Lexical, ReasonLexical
		return out, nil
	}
	score, err := s.Judge.Score(ctx, JoinPatch(predPatch), JoinPatch(oraclePatch))
	if err != nil {
		return Outcome{}, fmt.Errorf("semantic judge: %w", err)
	}
	out.Semantic = &score
	out.Reward, out.Reason = score, ReasonSemantic
	return out, nil
}

var tags = []string{"<think>", "</think>", "<solution>", "</solution>"}

// cascadeAnswer applies SWE-RL's tag rules, or with AllowUntagged takes a
// response with no tag at all as the answer itself.
func (s *Scorer) cascadeAnswer(response string) (thought, answer string, err error) {
	if s.AllowUntagged && !slices.ContainsFunc(tags, func(tag string) bool { return strings.Contains(response, tag) }) {
		return "", difflib.Strip(response), nil
	}
	return patch.ThoughtSolution(response)
}

// Lexical is SWE-RL's calculate_reward: per-file line diffs of the oracle and
// the prediction against the original, compared with SequenceMatcher (autojunk
// off, prediction first) and averaged over the union of changed files. It is 1.0
// when neither side changes anything the line diff can see.
func (s *Scorer) Lexical(ctx context.Context, original, oracle, pred map[string]string) ([]FileSimilarity, float64, error) {
	oraclePatch, err := s.filePatches(ctx, original, oracle)
	if err != nil {
		return nil, 0, err
	}
	predPatch, err := s.filePatches(ctx, original, pred)
	if err != nil {
		return nil, 0, err
	}
	return s.similarities(ctx, predPatch, oraclePatch)
}

func (s *Scorer) similarities(ctx context.Context, predPatch, oraclePatch map[string]string) ([]FileSimilarity, float64, error) {
	paths := make([]string, 0, len(predPatch)+len(oraclePatch))
	for p := range predPatch {
		paths = append(paths, p)
	}
	for p := range oraclePatch {
		if _, ok := predPatch[p]; !ok {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return []FileSimilarity{}, 1.0, nil
	}
	slices.Sort(paths)
	sims := make([]FileSimilarity, 0, len(paths))
	// Python sums in set order, which varies with string hashing; sorted order is
	// one of the orders it can take.
	var sum float64
	for _, p := range paths {
		fs := FileSimilarity{Path: p, PredChange: predPatch[p], OracleChange: oraclePatch[p]}
		if fs.PredChange != "" && fs.OracleChange != "" {
			r, err := difflib.Ratio(ctx, fs.PredChange, fs.OracleChange, difflib.Options{Budget: s.WorkBudget})
			if err != nil {
				return nil, 0, limitError("compare diffs of "+p, err)
			}
			fs.Similarity = r
		}
		sum += fs.Similarity
		sims = append(sims, fs)
	}
	return sims, sum / float64(len(sims)), nil
}

// filePatches is SWE-RL's get_unidiff_from_patched_files: the line diff of each
// new file against its original ("" when absent), leaving out empty diffs.
func (s *Scorer) filePatches(ctx context.Context, original, files map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for path, content := range files {
		d, err := difflib.UnifiedDiff(ctx, difflib.SplitLines(original[path]), difflib.SplitLines(content), 3, s.WorkBudget)
		if err != nil {
			return nil, limitError("diff "+path, err)
		}
		if d != "" {
			out[path] = d
		}
	}
	return out, nil
}

// limitError maps a difflib failure to the API's codes.
func limitError(what string, err error) error {
	switch {
	case errors.Is(err, difflib.ErrBudget):
		return reward.Errorf(reward.TooLarge, "%s: %v", what, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return reward.Errorf(reward.Timeout, "%s: %v", what, err)
	}
	return reward.Errorf(reward.Internal, "%s: %v", what, err)
}

// JoinPatch renders per-file line diffs as one multi-file unified diff, in path
// order, for the judge's prompt.
func JoinPatch(files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n%s\n", p, p, files[p])
	}
	return b.String()
}
