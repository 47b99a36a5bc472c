// Package grpo holds the arithmetic of Group Relative Policy Optimization as the
// Nemotron-Cascade recipe runs it: group-normalised advantages with no critic, no KL
// term, and a token-level clipped policy-gradient loss averaged over every kept token.
package grpo

import (
	"fmt"
	"math"
)

// Epsilon keeps a near-zero standard deviation from blowing advantages up; 1e-6 as in verl.
const Epsilon = 1e-6

// Advantages returns A_i = (r_i − mean)/(std + ε) for one group, std the unbiased
// (n−1) standard deviation. ok is false for a group that teaches nothing: fewer than
// two rewards, or every reward equal (zero variance). The trainer filters those.
func Advantages(rewards []float64) (adv []float64, ok bool) {
	n := len(rewards)
	if n < 2 {
		return nil, false
	}
	var sum float64
	for _, r := range rewards {
		sum += r
	}
	mean := sum / float64(n)
	same := true
	var ss float64
	for _, r := range rewards {
		same = same && r == rewards[0]
		ss += (r - mean) * (r - mean)
	}
	if same {
		return nil, false
	}
	std := math.Sqrt(ss / float64(n-1))
	adv = make([]float64, n)
	for i, r := range rewards {
		adv[i] = (r - mean) / (std + Epsilon)
	}
	return adv, true
}

// Token is one generated token in the loss: its log-probability under the policy
// being trained, under the policy that sampled it, and its sequence's advantage.
type Token struct {
	Logp    float64
	OldLogp float64
	Adv     float64
}

// Loss is the clipped surrogate averaged over all tokens (token-level, as in DAPO and
// Nemotron-Cascade, so long responses weigh by their length rather than being averaged
// per sequence first):
//
//	L = −(1/N) Σ_t min(ρ_t·A_t, clip(ρ_t, 1−ε, 1+ε)·A_t),  ρ_t = exp(logp_t − oldLogp_t)
//
// It returns L and ∂L/∂logp_t for each token. Strictly on-policy ρ ≡ 1, the clip never
// binds and the gradient is the plain policy gradient −A_t/N. When the min picks the
// clipped term the token's gradient is zero.
func Loss(tokens []Token, clip float64) (loss float64, grad []float64, err error) {
	if clip < 0 || math.IsNaN(clip) {
		return 0, nil, fmt.Errorf("grpo loss: clip %v must be ≥ 0", clip)
	}
	if len(tokens) == 0 {
		return 0, nil, nil
	}
	n := float64(len(tokens))
	grad = make([]float64, len(tokens))
	for i, t := range tokens {
		ratio := math.Exp(t.Logp - t.OldLogp)
		unclipped := ratio * t.Adv
		clipped := min(max(ratio, 1-clip), 1+clip) * t.Adv
		if unclipped <= clipped {
			loss -= unclipped
			grad[i] = -unclipped / n // ∂(ρA)/∂logp = ρA
		} else {
			loss -= clipped
		}
	}
	return loss / n, grad, nil
}
