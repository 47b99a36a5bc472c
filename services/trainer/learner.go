package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rewardmesh/rewardmesh/services/trainer/grpo"
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// group is one prompt's G sampled responses and the rewards that have come back for
// them. Groups waiting for rewards are part of every checkpoint, so a restart neither
// re-samples them nor loses a reward it has acknowledged.
type group struct {
	JobID     string      `json:"job_id"`
	Step      int         `json:"step"`
	Index     int         `json:"index"`
	Version   int         `json:"version"` // policy version (updates applied) that sampled it
	Prompt    []int32     `json:"prompt"`
	Responses [][]int32   `json:"responses"`
	OldLogp   [][]float32 `json:"old_logp"`
	Rewards   []float64   `json:"rewards"`
	Have      []bool      `json:"have"`
	Errors    int         `json:"errors"` // results that came back with an error instead of a reward
}

func (g *group) received() int {
	n := 0
	for _, h := range g.Have {
		if h {
			n++
		}
	}
	return n
}

func (g *group) complete() bool { return g.received() == len(g.Have) }

// learner samples from the policy and applies GRPO updates. It knows nothing of NATS.
type learner struct {
	be   policy.Backend
	spec policy.Spec
	adam policy.Adam
	clip float64
	pcg  *rand.PCG // kept to marshal the sampler's position into checkpoints
	rng  *rand.Rand
}

func newLearner(be policy.Backend, adam policy.Adam, clip float64, seed uint64) *learner {
	pcg := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &learner{be: be, spec: be.Spec(), adam: adam, clip: clip, pcg: pcg, rng: rand.New(pcg)}
}

// sample draws prompts×g responses for one step from the current policy, all rows of a
// token position in one backend call.
func (l *learner) sample(run string, step, version, prompts, g int) ([]*group, error) {
	groups := make([]*group, prompts)
	for i := range groups {
		groups[i] = &group{
			JobID: jobID(run, step, i), Step: step, Index: i, Version: version,
			Prompt:    samplePrompt(l.rng),
			Responses: make([][]int32, g), OldLogp: make([][]float32, g),
			Rewards: make([]float64, g), Have: make([]bool, g),
		}
		for j := range g {
			groups[i].Responses[j] = make([]int32, sort3Response)
			groups[i].OldLogp[j] = make([]float32, sort3Response)
		}
	}
	rows := prompts * g
	k, a := l.spec.Context, l.spec.Actions
	contexts := make([]int32, rows*k)
	probs := make([]float32, rows*a)
	for t := range sort3Response {
		for r := range rows {
			gr := groups[r/g]
			fillContext(contexts[r*k:(r+1)*k], gr.Prompt, gr.Responses[r%g], t)
		}
		if err := l.be.Probs(contexts, probs); err != nil {
			return nil, fmt.Errorf("sample token %d: %w", t, err)
		}
		for r := range rows {
			p := probs[r*a : (r+1)*a]
			act := categorical(l.rng, p)
			gr := groups[r/g]
			gr.Responses[r%g][t] = int32(act)
			gr.OldLogp[r%g][t] = float32(math.Log(max(float64(p[act]), math.SmallestNonzeroFloat32)))
		}
	}
	return groups, nil
}

// categorical draws an index with probability p[i]; rounding that leaves the sum just
// under one falls to the last index with positive mass.
func categorical(rng *rand.Rand, p []float32) int {
	u := rng.Float64()
	var acc float64
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		acc += float64(v)
		last = i
		if u < acc {
			return i
		}
	}
	return last
}

// updateStats is what one update reports for the metrics line.
type updateStats struct {
	Results        int     // rewards that came back (errors included)
	MeanReward     float64 // over the rewards that came back without error
	GroupsKept     int
	GroupsFiltered int // zero variance: every response scored the same
	GroupsFailed   int // some response's reward came back as an error
	GroupsStale    int // sampled by a policy older than the staleness bound
	StaleResults   int
	Tokens         int // tokens in the loss
	Loss           float64
	Updated        bool
}

// update applies one GRPO step to the policy from complete groups. Groups sampled by a
// policy more than staleness versions behind version are dropped and counted.
func (l *learner) update(groups []*group, version, staleness int) (updateStats, error) {
	var st updateStats
	var rewardSum float64
	var rewarded int
	k := l.spec.Context
	var contexts, actions []int32
	var tokens []grpo.Token
	row := make([]int32, k)
	for _, g := range groups {
		if version-g.Version > staleness {
			st.GroupsStale++
			st.StaleResults += g.received()
			continue
		}
		st.Results += g.received()
		for j, r := range g.Rewards {
			if g.Have[j] && !math.IsNaN(r) {
				rewardSum += r
				rewarded++
			}
		}
		if g.Errors > 0 {
			st.GroupsFailed++
			continue
		}
		adv, ok := grpo.Advantages(g.Rewards)
		if !ok {
			st.GroupsFiltered++
			continue
		}
		st.GroupsKept++
		for j, resp := range g.Responses {
			for t, act := range resp {
				fillContext(row, g.Prompt, resp, t)
				contexts = append(contexts, row...)
				actions = append(actions, act)
				tokens = append(tokens, grpo.Token{OldLogp: float64(g.OldLogp[j][t]), Adv: adv[j]})
			}
		}
	}
	if rewarded > 0 {
		st.MeanReward = rewardSum / float64(rewarded)
	}
	st.Tokens = len(tokens)
	if len(tokens) == 0 {
		return st, nil
	}
	logp := make([]float32, len(tokens))
	if err := l.be.Forward(contexts, actions, logp); err != nil {
		return st, fmt.Errorf("update forward: %w", err)
	}
	for i := range tokens {
		tokens[i].Logp = float64(logp[i])
	}
	loss, grad, err := grpo.Loss(tokens, l.clip)
	if err != nil {
		return st, fmt.Errorf("update loss: %w", err)
	}
	coef := make([]float32, len(grad))
	for i, g := range grad {
		coef[i] = float32(g)
	}
	if err := l.be.Backward(coef); err != nil {
		return st, fmt.Errorf("update backward: %w", err)
	}
	if err := l.be.Step(l.adam); err != nil {
		return st, fmt.Errorf("update adam: %w", err)
	}
	st.Loss, st.Updated = loss, true
	return st, nil
}
