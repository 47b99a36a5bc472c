// Package mathsvc is the math service on the mesh: POST /v1/math/verify and the
// "math" domain of /v1/rewards, answered by package verify.
package mathsvc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rewardmesh/rewardmesh/services/math/verify"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// ItemTimeout bounds one verification, so that no item can hold its batch.
const ItemTimeout = 2 * time.Second

// Config is the math service.
func Config() mesh.Config {
	return mesh.Config{
		Name:        "math",
		Description: "final answers checked against the ground truth",
		Endpoints:   Endpoints(),
	}
}

// Endpoints are the math ops: verify and rewards.
func Endpoints() []mesh.Endpoint {
	return []mesh.Endpoint{
		{Name: "verify", Handler: mesh.Batch(verifyItem, 0)},
		{Name: "rewards", Handler: mesh.Batch(rewardsItem, 0)},
	}
}

// verifyRequest is an item of POST /v1/math/verify.
type verifyRequest struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Gold      *string         `json:"gold"`
	Pred      *string         `json:"pred"`
	Precision int             `json:"precision,omitempty"`
	Strict    bool            `json:"strict,omitempty"`
}

type verifyResult struct {
	ID json.RawMessage `json:"id,omitempty"`
	verify.Result
	Error *reward.Error `json:"error,omitempty"`
}

func verifyItem(ctx context.Context, raw json.RawMessage) any {
	var in verifyRequest
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return verifyResult{ID: itemID(raw), Error: err}
	}
	if in.Gold == nil || in.Pred == nil {
		return verifyResult{ID: in.ID, Error: reward.Errorf(reward.Invalid, "gold and pred are both required")}
	}
	if in.Precision < 0 || in.Precision > 50 {
		return verifyResult{ID: in.ID, Error: reward.Errorf(reward.Invalid, "precision %d: use 0 to 50 decimal places", in.Precision)}
	}
	res := verify.Verify(ctx, *in.Gold, *in.Pred, verify.Options{Precision: in.Precision, Strict: in.Strict, Timeout: ItemTimeout})
	return verifyResult{ID: in.ID, Result: res}
}

// reference is a math item's reference in /v1/rewards: {"gold", "precision"?,
// "strict"?}, or the gold answer alone as a JSON string.
type reference struct {
	Gold      *string `json:"gold"`
	Precision int     `json:"precision,omitempty"`
	Strict    bool    `json:"strict,omitempty"`
}

func rewardsItem(ctx context.Context, raw json.RawMessage) any {
	var item reward.Item
	if err := mesh.DecodeItem(raw, &item); err != nil {
		return reward.Result{ID: itemID(raw), Domain: reward.Math, Error: err}
	}
	var ref reference
	var gold string
	if json.Unmarshal(item.Reference, &gold) == nil {
		ref.Gold = &gold
	} else if err := json.Unmarshal(item.Reference, &ref); err != nil || ref.Gold == nil {
		return reward.Failed(item, reward.Errorf(reward.Invalid, `math reference: want {"gold": "..."} or the gold answer as a string`))
	}
	if ref.Precision < 0 || ref.Precision > 50 {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "precision %d: use 0 to 50 decimal places", ref.Precision))
	}
	res := verify.Verify(ctx, *ref.Gold, item.Response, verify.Options{Precision: ref.Precision, Strict: ref.Strict, Timeout: ItemTimeout})
	details, _ := json.Marshal(res)
	return reward.Result{ID: item.ID, Domain: reward.Math, Reward: float64(res.Reward), Details: details}
}

func itemID(raw json.RawMessage) json.RawMessage {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}
