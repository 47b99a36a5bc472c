package sandbox

import (
	"context"
	"encoding/json"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// ServiceName is the sandbox's name on the mesh.
const ServiceName = "sandbox"

// MeshConfig is the sandbox's service on the mesh.
func (s *Sandbox) MeshConfig() mesh.Config {
	return mesh.Config{
		Name:        ServiceName,
		Description: "untrusted programs judged in Docker",
		Endpoints:   s.Endpoints(),
	}
}

// Endpoints are the sandbox's mesh operations: run, judge and rewards.
func (s *Sandbox) Endpoints() []mesh.Endpoint {
	// Items beyond the judging slots wait in the bounded queue; admitting more at
	// once than slots plus queue would only turn them into busy answers.
	parallel := s.cfg.Concurrency + s.cfg.QueueSize
	return []mesh.Endpoint{
		{Name: "run", Handler: mesh.Batch(s.runItem, parallel)},
		{Name: "judge", Handler: mesh.Batch(s.judgeItem, parallel)},
		{Name: "rewards", Handler: mesh.Batch(s.rewardItem, parallel)},
	}
}

func (s *Sandbox) runItem(ctx context.Context, raw json.RawMessage) any {
	var it RunItem
	if err := mesh.DecodeItem(raw, &it); err != nil {
		return mesh.ItemError{Error: err}
	}
	res, err := s.Run(ctx, it)
	if err != nil {
		return mesh.ItemError{Error: reward.AsError(err)}
	}
	return res
}

func (s *Sandbox) judgeItem(ctx context.Context, raw json.RawMessage) any {
	var it JudgeItem
	if err := mesh.DecodeItem(raw, &it); err != nil {
		return mesh.ItemError{Error: err}
	}
	res, err := s.Judge(ctx, it)
	if err != nil {
		return mesh.ItemError{Error: reward.AsError(err)}
	}
	return res
}

// CodeReference is the `reference` of a "code" reward item: a judge item
// without the source, which comes from the model's response.
type CodeReference struct {
	Language      string            `json:"language,omitempty"`
	Tests         []reward.TestCase `json:"tests"`
	Mode          string            `json:"mode,omitempty"`
	FnName        string            `json:"fn_name,omitempty"`
	TimeLimitMS   int               `json:"time_limit_ms,omitempty"`
	MemoryLimitMB int               `json:"memory_limit_mb,omitempty"`
	Compare       string            `json:"compare,omitempty"`
	Checker       *Checker          `json:"checker,omitempty"`
	// Interactor makes the problem interactive (JudgeItem.Interactor).
	Interactor *Checker `json:"interactor,omitempty"`
	// Subtasks make the reward IOI's score over its most, 0 to 1, where
	// without them it is 1 for a program that passes every test and else 0.
	Subtasks []Subtask `json:"subtasks,omitempty"`
	// Files go beside the program, as a judge item's do (an IOI grader).
	Files map[string]string `json:"files,omitempty"`
}

// RewardDetails are the details of a code reward.
type RewardDetails struct {
	Verdict  reward.Verdict `json:"verdict"`
	Passed   int            `json:"passed"`
	Total    int            `json:"total"`
	Language Language       `json:"language,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	// With subtasks: the points earned and the most there are.
	Score    *float64 `json:"score,omitempty"`
	MaxScore *float64 `json:"max_score,omitempty"`
}

func (s *Sandbox) rewardItem(ctx context.Context, raw json.RawMessage) any {
	var item reward.Item
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return reward.Result{Domain: reward.Code, Error: err}
	}
	return s.Reward(ctx, item)
}

// Reward scores a model's response: 1 when the program it contains passes every
// test, else 0. The program is the last fenced code block (LiveCodeBench's
// extraction); a response without one scores 0 with verdict CE.
func (s *Sandbox) Reward(ctx context.Context, item reward.Item) reward.Result {
	if item.Domain == "" {
		item.Domain = reward.Code
	}
	if item.Domain != reward.Code {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "domain %q: the sandbox scores code", item.Domain))
	}
	var ref CodeReference
	if len(item.Reference) == 0 {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "reference: tests are needed"))
	}
	if err := json.Unmarshal(item.Reference, &ref); err != nil {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "decode reference: %v", err))
	}
	var want Language
	if ref.Language != "" {
		l, ok := ParseLanguage(ref.Language)
		if !ok {
			return reward.Failed(item, reward.Errorf(reward.Invalid, "reference.language %q: want one of %s", ref.Language, languageNames()))
		}
		want = l
	}
	code, tagged, ok := ExtractCode(item.Response, want)
	lang := want
	if lang == "" {
		lang = tagged
	}
	if lang == "" {
		lang = Python
	}
	stop := true
	ji := JudgeItem{
		Language: string(lang), Source: code, Tests: ref.Tests, Mode: ref.Mode, FnName: ref.FnName,
		TimeLimitMS: ref.TimeLimitMS, MemoryLimitMB: ref.MemoryLimitMB, Compare: ref.Compare,
		Checker: ref.Checker, Interactor: ref.Interactor, StopOnFail: &stop, Subtasks: ref.Subtasks, Files: ref.Files,
	}
	sp, err := s.validateJudge(ji)
	if err != nil {
		return reward.Failed(item, err)
	}
	details := RewardDetails{Total: len(ref.Tests), Language: lang}
	if !ok || code == "" {
		details.Verdict, details.Reason = reward.CompileError, "no fenced code block in the response"
		return rewardResult(item, 0, details)
	}
	release, err := s.admit(ctx)
	if err != nil {
		return reward.Failed(item, err)
	}
	res, err := s.judge(ctx, sp)
	release()
	if err != nil {
		return reward.Failed(item, err)
	}
	details.Verdict, details.Passed = res.Verdict, res.Passed
	if res.Verdict == reward.SystemError {
		// Our failure, not the program's: no reward a trainer could learn from,
		// and nothing a cache may keep.
		r := rewardResult(item, 0, details)
		r.Error = reward.Errorf(reward.Internal, "the sandbox failed to judge this program (SE); send it again")
		r.Error.Retryable = true
		return r
	}
	score := 0.0
	switch {
	case res.Score != nil:
		details.Score, details.MaxScore = res.Score, res.MaxScore
		if *res.MaxScore > 0 {
			score = min(1, *res.Score / *res.MaxScore)
		}
	case res.Verdict == reward.Accepted:
		score = 1
	}
	return rewardResult(item, score, details)
}

func rewardResult(item reward.Item, score float64, d RewardDetails) reward.Result {
	raw, _ := json.Marshal(d)
	return reward.Result{ID: item.ID, Reward: score, Domain: reward.Code, Details: raw}
}
