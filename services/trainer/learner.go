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
	Version   int         `json:"version"`         // policy version (updates applied) that sampled it
	Task      int         `json:"task,omitempty"`  // index in cascadeTasks; sort3 alone is 0
	Epoch     int         `json:"epoch,omitempty"` // the prompt pool's epoch it was drawn in
	Prompt    []int32     `json:"prompt"`
	Responses [][]int32   `json:"responses"`
	OldLogp   [][]float32 `json:"old_logp"`
	Rewards   []float64   `json:"rewards"`
	Have      []bool      `json:"have"`
	Errors    int         `json:"errors"`           // results that came back with an error instead of a reward
	Failed    []bool      `json:"failed,omitempty"` // which responses those were: their reward is not a 0, it is missing
}

// scored reports whether response j's reward came back, and not as an error.
func (g *group) scored(j int) bool {
	return g.Have[j] && (g.Failed == nil || !g.Failed[j]) && !math.IsNaN(g.Rewards[j])
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
	be     policy.Backend
	spec   policy.Spec
	layout layout
	maxLen int     // a cascade stage's max response length; 0 for sort3 alone
	temp   float64 // sampling temperature; 0 or 1 samples π itself
	adam   policy.Adam
	clip   float64
	pcg    *rand.PCG // kept to marshal the sampler's position into checkpoints
	rng    *rand.Rand
}

func newLearner(be policy.Backend, adam policy.Adam, clip float64, seed uint64) *learner {
	pcg := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &learner{be: be, spec: be.Spec(), layout: sort3Layout, adam: adam, clip: clip, pcg: pcg, rng: rand.New(pcg)}
}

// responseLen is how many tokens a response to task has under the learner's max length.
func (l *learner) responseLen(taskIndex int) int {
	if l.maxLen == 0 {
		return sort3Response
	}
	return cascadeTasks[taskIndex].ResponseLen(l.maxLen)
}

// drawn is one prompt chosen for a step.
type drawn struct {
	Task   int     `json:"task"`
	Prompt []int32 `json:"prompt"`
	Epoch  int     `json:"epoch,omitempty"`
}

// sample draws g responses to each prompt from the current policy, all rows of a
// token position in one backend call.
func (l *learner) sample(run string, step, version int, prompts []drawn, g int) ([]*group, error) {
	groups := make([]*group, len(prompts))
	longest := 0
	for i, d := range prompts {
		groups[i] = &group{
			JobID: jobID(run, step, i), Step: step, Index: i, Version: version,
			Task: d.Task, Epoch: d.Epoch, Prompt: d.Prompt,
			Responses: make([][]int32, g), OldLogp: make([][]float32, g),
			Rewards: make([]float64, g), Have: make([]bool, g),
		}
		n := l.responseLen(d.Task)
		longest = max(longest, n)
		for j := range g {
			groups[i].Responses[j] = make([]int32, n)
			groups[i].OldLogp[j] = make([]float32, n)
		}
	}
	rows := len(prompts) * g
	k, a := l.spec.Context, l.spec.Actions
	contexts := make([]int32, rows*k)
	probs := make([]float32, rows*a)
	tempered := make([]float32, a)
	for t := range longest {
		for r := range rows {
			gr := groups[r/g]
			if t < len(gr.Responses[r%g]) {
				l.layout.fill(contexts[r*k:(r+1)*k], gr.Task, gr.Prompt, gr.Responses[r%g], t)
			} else {
				l.layout.fill(contexts[r*k:(r+1)*k], gr.Task, gr.Prompt, gr.Responses[r%g], 0)
			}
		}
		if err := l.be.Probs(contexts, probs); err != nil {
			return nil, fmt.Errorf("sample token %d: %w", t, err)
		}
		for r := range rows {
			gr := groups[r/g]
			if t >= len(gr.Responses[r%g]) {
				continue
			}
			p := probs[r*a : (r+1)*a]
			act := categorical(l.rng, l.tempered(p, tempered))
			gr.Responses[r%g][t] = int32(act)
			// The loss's log-probs are π's own at temperature 1 (the backends have no
			// tempered forward), so strictly on-policy ρ is still exactly 1.
			gr.OldLogp[r%g][t] = float32(math.Log(max(float64(p[act]), math.SmallestNonzeroFloat32)))
		}
	}
	return groups, nil
}

// tempered is p^(1/T), normalised, in dst; p itself at temperature 0 or 1.
func (l *learner) tempered(p, dst []float32) []float32 {
	if l.temp == 0 || l.temp == 1 {
		return p
	}
	var sum float64
	for i, v := range p {
		w := math.Pow(float64(v), 1/l.temp)
		dst[i] = float32(w)
		sum += w
	}
	for i := range dst {
		dst[i] = float32(float64(dst[i]) / sum)
	}
	return dst
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
			if g.scored(j) {
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
				l.layout.fill(row, g.Task, g.Prompt, resp, t)
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
