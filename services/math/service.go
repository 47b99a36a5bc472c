// Package mathsvc serves the math verifier on the mesh: op "verify" answers
// POST /v1/math/verify and op "rewards" answers /v1/rewards items of domain
// "math". The checking itself is package verify, which imports only the
// standard library; a model judge (package judge), when configured, is asked
// about the answers the rules reject.
package mathsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/rewardmesh/rewardmesh/services/math/judge"
	"github.com/rewardmesh/rewardmesh/services/math/verify"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Name is the service's name on the mesh.
const Name = "math"

// itemTimeout bounds one item's rules on top of their step budget, so a batch
// always answers even on a machine far slower than expected.
const itemTimeout = 2 * time.Second

// DefaultJudgeBudget is how many items of one batch may go to the judge.
const DefaultJudgeBudget = 32

// maxJudged bounds the texts a judge is shown: a longer "final answer" is not one.
const maxJudged = 4 << 10

// Config configures the service. The zero value checks by rules alone.
type Config struct {
	// Judge is the model judge asked when the rules say no; no URL, no judge.
	Judge judge.Config
	// JudgeBudget is how many items of one batch (one call to the service) may
	// go to the judge, so that a batch cannot flood it (DefaultJudgeBudget when 0,
	// none when negative). Items past it keep the rules' verdict, flagged.
	JudgeBudget int
}

// Service answers the math ops.
type Service struct {
	judge    *judge.Client // nil: rules only
	budget   int
	parallel int
}

// New builds the service, and its judge when one is configured. It waits on
// nothing: the judge is first asked by the first item that needs it.
func New(_ context.Context, cfg Config) (*Service, error) {
	s := &Service{budget: cfg.JudgeBudget, parallel: runtime.GOMAXPROCS(0)}
	if s.budget == 0 {
		s.budget = DefaultJudgeBudget
	}
	s.budget = max(s.budget, 0)
	if cfg.Judge.URL != "" {
		j, err := judge.New(cfg.Judge)
		if err != nil {
			return nil, fmt.Errorf("math: %w", err)
		}
		s.judge = j
		// Items waiting on the judge hold a slot without a core.
		s.parallel = max(s.parallel, cfg.Judge.Concurrency, judge.DefaultConcurrency)
	}
	return s, nil
}

// Close releases what the service holds: nothing that outlives a request.
func (s *Service) Close() error { return nil }

// Endpoints returns the service's operations.
func (s *Service) Endpoints() []mesh.Endpoint {
	return []mesh.Endpoint{
		{Name: "verify", Handler: s.batch(s.verifyItem)},
		{Name: "rewards", Handler: s.batch(s.rewardItem)},
	}
}

// MeshConfig is the service as mesh.Serve takes it.
func (s *Service) MeshConfig() mesh.Config {
	return mesh.Config{
		Name:        Name,
		Description: "math answer verification (Math-Verify compatible, Go-native)",
		Endpoints:   s.Endpoints(),
	}
}

// judgeBudget counts the judge calls one batch may still make.
type judgeBudget struct{ left atomic.Int64 }

func (b *judgeBudget) take() bool { return b.left.Add(-1) >= 0 }

// batch answers a batch item by item, with a judge budget of its own.
func (s *Service) batch(fn func(context.Context, json.RawMessage, *judgeBudget) any) mesh.Handler {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		b := &judgeBudget{}
		b.left.Store(int64(s.budget))
		return mesh.Batch(func(ctx context.Context, raw json.RawMessage) any { return fn(ctx, raw, b) }, s.parallel)(ctx, payload)
	}
}

// VerifyItem is one item of POST /v1/math/verify.
type VerifyItem struct {
	ID   json.RawMessage `json:"id,omitempty"`
	Gold Gold            `json:"gold"`
	Pred *string         `json:"pred"`
	itemOptions
}

// itemOptions are the options an item of either op may carry.
type itemOptions struct {
	Precision *int     `json:"precision,omitempty"`
	Strict    *bool    `json:"strict,omitempty"`
	Targets   []string `json:"targets,omitempty"`
	Question  string   `json:"question,omitempty"`
	Judge     *bool    `json:"judge,omitempty"`
}

// Verdict is a verify result as the service gives it: the rules' verdict, the
// path that decided it, and what the judge said when it was asked.
type Verdict struct {
	verify.Result
	// DecidedBy is "rules", or "judge" when the judge answered.
	DecidedBy string `json:"decided_by,omitempty"`
	// Judge is set whenever the judge was wanted: asked, or not for its budget,
	// or failed (Error; the rules' verdict then stands).
	Judge *JudgeReport `json:"judge,omitempty"`
}

// JudgeReport is what became of asking the judge about one answer.
type JudgeReport struct {
	Model string   `json:"model"`
	PYes  *float64 `json:"p_yes,omitempty"`
	Error string   `json:"error,omitempty"`
}

// VerifyResult answers one VerifyItem. Reason says why an answer is not
// correct (mismatch, hedge, no_answer, too_large ...). NoCache marks a verdict
// that depends on more than the item (the judge was wanted): the gateway does
// not cache it.
type VerifyResult struct {
	ID json.RawMessage `json:"id,omitempty"`
	Verdict
	NoCache bool          `json:"no_cache,omitempty"`
	Error   *reward.Error `json:"error,omitempty"`
}

// Gold is a gold answer: a string, or a list of strings any of which is
// accepted (some datasets carry several forms of the answer).
type Gold []string

// UnmarshalJSON accepts "answer" or ["answer", "other form"].
func (g *Gold) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*g = Gold{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return reward.Errorf(reward.Invalid, "gold must be a string or a list of strings")
	}
	*g = many
	return nil
}

// targetNames are the extraction targets an item may ask for, as Math-Verify's
// match types name them.
var targetNames = map[string]verify.Targets{"latex": verify.TargetLatex, "expr": verify.TargetExpr}

// options turns the API's per-item fields into verify.Options. Strict is on
// unless the item says otherwise, as in Math-Verify.
func (o itemOptions) options() (verify.Options, *reward.Error) {
	opts := verify.Options{Strict: true, Timeout: itemTimeout, Question: o.Question}
	if o.Precision != nil {
		if *o.Precision < 0 || *o.Precision > 30 {
			return opts, reward.Errorf(reward.Invalid, "precision %d: use 1 to 30 decimal places (0 for the default, %d)", *o.Precision, verify.DefaultPrecision)
		}
		opts.Precision = *o.Precision
	}
	if o.Strict != nil {
		opts.Strict = *o.Strict
	}
	for _, t := range o.Targets {
		bit, ok := targetNames[t]
		if !ok {
			return opts, reward.Errorf(reward.Invalid, "targets: %q is not one of \"latex\", \"expr\"", t)
		}
		opts.Targets |= bit
	}
	if o.Targets != nil && opts.Targets == 0 {
		return opts, reward.Errorf(reward.Invalid, "targets: name at least one of \"latex\", \"expr\"")
	}
	return opts, nil
}

// check verifies pred against every accepted gold and keeps the first
// correct verdict (or the last one).
func check(ctx context.Context, golds Gold, pred string, opts verify.Options) verify.Result {
	var res verify.Result
	for _, g := range golds {
		res = verify.Verify(ctx, g, pred, opts)
		if res.Correct {
			break
		}
	}
	return res
}

// judgeable are the rules' reasons a judge may overturn: the answers compared
// and differed, or one of them did not parse. A hedge never goes to the judge.
var judgeable = map[string]bool{verify.ReasonMismatch: true, verify.ReasonUnparsable: true}

// decide runs the rules and, when they say no and a judge is configured (and
// the item does not refuse it), asks the judge within the batch's budget. A
// judge that fails leaves the rules' verdict, flagged: never a silent 1.
func (s *Service) decide(ctx context.Context, golds Gold, pred string, o itemOptions, budget *judgeBudget) (Verdict, *reward.Error) {
	opts, err := o.options()
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Result: check(ctx, golds, pred, opts), DecidedBy: "rules"}
	if s.judge == nil || v.Correct || !judgeable[v.Reason] || o.Judge != nil && !*o.Judge {
		return v, nil
	}
	v.Judge = &JudgeReport{Model: s.judge.Model()}
	q := judge.Query{Question: o.Question, Gold: v.GoldAnswer, Answer: v.PredAnswer}
	switch {
	case q.Answer == "" || q.Gold == "":
		v.Judge.Error = "skipped: nothing extracted to show the judge"
	case len(q.Answer) > maxJudged || len(q.Gold) > maxJudged || len(q.Question) > 4*maxJudged:
		v.Judge.Error = fmt.Sprintf("skipped: an answer over %d bytes or a question over %d", maxJudged, 4*maxJudged)
	case !budget.take():
		v.Judge.Error = fmt.Sprintf("skipped: this batch's judge budget (%d items) is spent", s.budget)
	default:
		verdict, err := s.judge.Judge(ctx, q)
		if err != nil {
			v.Judge.Error = err.Error()
			break
		}
		v.DecidedBy, v.Judge.PYes = "judge", &verdict.PYes
		if verdict.Correct {
			v.Correct, v.Reward, v.Reason = true, 1, ""
		}
	}
	return v, nil
}

func (s *Service) verifyItem(ctx context.Context, raw json.RawMessage, budget *judgeBudget) any {
	var item VerifyItem
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return VerifyResult{ID: mesh.ItemID(raw), Error: err}
	}
	if len(item.Gold) == 0 || item.Pred == nil {
		return VerifyResult{ID: item.ID, Error: reward.Errorf(reward.Invalid, "gold and pred are both required")}
	}
	v, err := s.decide(ctx, item.Gold, *item.Pred, item.itemOptions, budget)
	if err != nil {
		return VerifyResult{ID: item.ID, Error: err}
	}
	return VerifyResult{ID: item.ID, Verdict: v, NoCache: v.Judge != nil}
}

// Reference is the math domain's reference in a reward.Item: {"gold": ...,
// "precision"?, "strict"?, "targets"?, "question"?, "judge"?}, or the gold
// alone as a JSON string.
type Reference struct {
	Gold Gold `json:"gold"`
	itemOptions
}

func decodeReference(raw json.RawMessage) (Reference, *reward.Error) {
	var ref Reference
	var gold string
	if json.Unmarshal(raw, &gold) == nil {
		ref.Gold = Gold{gold}
		return ref, nil
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return ref, reward.Errorf(reward.Invalid, "decode math reference: %v", err)
	}
	if len(ref.Gold) == 0 {
		return ref, reward.Errorf(reward.Invalid, "math reference needs a gold answer")
	}
	return ref, nil
}

// rewardResult is a reward.Result that may ask the gateway not to cache it.
type rewardResult struct {
	reward.Result
	NoCache bool `json:"no_cache,omitempty"`
}

func (s *Service) rewardItem(ctx context.Context, raw json.RawMessage, budget *judgeBudget) any {
	var item reward.Item
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return reward.Result{ID: mesh.ItemID(raw), Domain: reward.Math, Error: err}
	}
	if item.Domain != "" && item.Domain != reward.Math {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "domain %q is not math", item.Domain))
	}
	ref, err := decodeReference(item.Reference)
	if err != nil {
		return reward.Failed(item, err)
	}
	v, err := s.decide(ctx, ref.Gold, item.Response, ref.itemOptions, budget)
	if err != nil {
		return reward.Failed(item, err)
	}
	details, merr := json.Marshal(v)
	if merr != nil {
		return reward.Failed(item, reward.Errorf(reward.Internal, "encode details: %v", merr))
	}
	res := reward.Result{ID: item.ID, Reward: float64(v.Reward), Domain: reward.Math, Details: details}
	return rewardResult{Result: res, NoCache: v.Judge != nil}
}
