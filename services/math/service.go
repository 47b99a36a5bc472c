// Package mathsvc serves the math verifier on the mesh: op "verify" answers
// POST /v1/math/verify and op "rewards" answers /v1/rewards items of domain
// "math". The checking itself is package verify, which imports only the
// standard library.
package mathsvc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rewardmesh/rewardmesh/services/math/verify"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Name is the service's name on the mesh.
const Name = "math"

// itemTimeout bounds one item on top of its step budget, so a batch always
// answers even on a machine far slower than expected.
const itemTimeout = 2 * time.Second

// Endpoints returns the math service's operations, for mesh.Config.
func Endpoints() []mesh.Endpoint {
	return []mesh.Endpoint{
		{Name: "verify", Handler: mesh.Batch(verifyItem, 0)},
		{Name: "rewards", Handler: mesh.Batch(rewardItem, 0)},
	}
}

// Config is the service's mesh configuration.
func Config() mesh.Config {
	return mesh.Config{
		Name:        Name,
		Description: "math answer verification (Math-Verify compatible, Go-native)",
		Endpoints:   Endpoints(),
	}
}

// VerifyItem is one item of POST /v1/math/verify.
type VerifyItem struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Gold      Gold            `json:"gold"`
	Pred      *string         `json:"pred"`
	Precision *int            `json:"precision,omitempty"`
	Strict    *bool           `json:"strict,omitempty"`
}

// VerifyResult answers one VerifyItem. Reason says why an answer is not
// correct (mismatch, no_answer, too_large ...).
type VerifyResult struct {
	ID         json.RawMessage `json:"id,omitempty"`
	Correct    bool            `json:"correct"`
	Reward     int             `json:"reward"`
	GoldAnswer string          `json:"gold_answer"`
	PredAnswer string          `json:"pred_answer"`
	Reason     string          `json:"reason,omitempty"`
	Error      *reward.Error   `json:"error,omitempty"`
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

// options turns the API's per-item fields into verify.Options. Strict is on
// unless the item says otherwise, as in Math-Verify.
func options(precision *int, strict *bool) (verify.Options, *reward.Error) {
	opts := verify.Options{Strict: true, Timeout: itemTimeout}
	if precision != nil {
		if *precision < 0 || *precision > 30 {
			return opts, reward.Errorf(reward.Invalid, "precision %d: use 1 to 30 decimal places (0 for the default, %d)", *precision, verify.DefaultPrecision)
		}
		opts.Precision = *precision
	}
	if strict != nil {
		opts.Strict = *strict
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

func verifyItem(ctx context.Context, raw json.RawMessage) any {
	var item VerifyItem
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return VerifyResult{ID: rawID(raw), Error: err}
	}
	if len(item.Gold) == 0 || item.Pred == nil {
		return VerifyResult{ID: item.ID, Error: reward.Errorf(reward.Invalid, "gold and pred are both required")}
	}
	opts, err := options(item.Precision, item.Strict)
	if err != nil {
		return VerifyResult{ID: item.ID, Error: err}
	}
	res := check(ctx, item.Gold, *item.Pred, opts)
	return VerifyResult{
		ID: item.ID, Correct: res.Correct, Reward: res.Reward,
		GoldAnswer: res.GoldAnswer, PredAnswer: res.PredAnswer, Reason: res.Reason,
	}
}

// Reference is the math domain's reference in a reward.Item: {"gold": ...,
// "precision"?, "strict"?}, or the gold alone as a JSON string.
type Reference struct {
	Gold      Gold  `json:"gold"`
	Precision *int  `json:"precision,omitempty"`
	Strict    *bool `json:"strict,omitempty"`
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

func rewardItem(ctx context.Context, raw json.RawMessage) any {
	var item reward.Item
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return reward.Result{ID: rawID(raw), Domain: reward.Math, Error: err}
	}
	if item.Domain != "" && item.Domain != reward.Math {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "domain %q is not math", item.Domain))
	}
	ref, err := decodeReference(item.Reference)
	if err != nil {
		return reward.Failed(item, err)
	}
	opts, err := options(ref.Precision, ref.Strict)
	if err != nil {
		return reward.Failed(item, err)
	}
	res := check(ctx, ref.Gold, item.Response, opts)
	details, merr := json.Marshal(res)
	if merr != nil {
		return reward.Failed(item, reward.Errorf(reward.Internal, "encode details: %v", merr))
	}
	return reward.Result{ID: item.ID, Reward: float64(res.Reward), Domain: reward.Math, Details: details}
}

// rawID recovers an item's id for an error result when the item as a whole
// did not decode.
func rawID(raw json.RawMessage) json.RawMessage {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(raw, &probe)
	return probe.ID
}
