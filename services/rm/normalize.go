package rm

import "math"

// NormEpsilon keeps a group whose scores are all equal from dividing by zero,
// as verl's GRPO advantage does (1e-6).
const NormEpsilon = 1e-6

// member is one scored item of a group.
type member struct {
	index int // position in the batch
	score float64
}

// normalizeGroups returns, for every member, (score - mean) / (std + ε) over its
// group. std is the sample standard deviation (divisor n-1), as torch.std's
// default that verl's and TRL's GRPO use: the group is a sample of the policy's
// responses to one prompt. A group of one has no spread to measure, so its
// member gets 0, the group mean, rather than an arbitrary scale.
func normalizeGroups(groups map[string][]member) map[int]float64 {
	out := make(map[int]float64)
	for _, g := range groups {
		n := len(g)
		if n == 1 {
			out[g[0].index] = 0
			continue
		}
		var sum float64
		for _, m := range g {
			sum += m.score
		}
		mean := sum / float64(n)
		var ss float64
		for _, m := range g {
			d := m.score - mean
			ss += d * d
		}
		std := math.Sqrt(ss / float64(n-1))
		for _, m := range g {
			out[m.index] = (m.score - mean) / (std + NormEpsilon)
		}
	}
	return out
}

// sigmoid is 1/(1+e^-x), computed without overflow for large |x|.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// IFRLReward is Nemotron-Cascade's IF-RL reward: R_IF + sigmoid(group-normalized
// R_RM) when the response follows every instruction, else 0. R_IF is 1 then
// (the fraction of instructions followed and the all-followed indicator agree
// whenever the reward is not zeroed), so the reward lies in {0} ∪ (1, 2): any
// response that follows the instructions beats any that does not, and the
// reward model orders the ones that do.
func IFRLReward(followAll bool, normalizedRM float64) float64 {
	if !followAll {
		return 0
	}
	return 1 + sigmoid(normalizedRM)
}
