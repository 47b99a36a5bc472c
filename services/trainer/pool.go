package trainer

import (
	"fmt"
	"math/rand/v2"
)

// promptPool is a cascade stage's prompts, drawn in epochs: each epoch is the
// stage's tasks' prompt spaces in a fresh order, drawn without replacement. With
// dynamic filtering (AceReason-Nemotron), a prompt whose whole group scored the same
// (all right or all wrong: no signal) in the last epoch sits the next one out.
// It lives in the checkpoint, so a resumed stage draws what it would have drawn.
type promptPool struct {
	Filter  bool           `json:"filter"`
	Epoch   int            `json:"epoch"` // 1 is the first; 0 until the first draw
	Order   []drawn        `json:"order"` // this epoch's prompts, in draw order
	Next    int            `json:"next"`
	Settled map[string]int `json:"settled,omitempty"` // prompt → the last epoch its group scored all the same
	// LeftOut counts, per epoch from the first, the prompts the filter kept out of it.
	LeftOut []int `json:"left_out"`
}

func promptKey(taskIndex int, prompt []int32) string {
	return fmt.Sprint(taskIndex, prompt)
}

// draw takes the next n prompts, starting epochs as the pool runs out.
func (p *promptPool) draw(n int, tasks []int, rng *rand.Rand) []drawn {
	out := make([]drawn, 0, n)
	for len(out) < n {
		if p.Next >= len(p.Order) {
			p.nextEpoch(tasks, rng)
		}
		out = append(out, p.Order[p.Next])
		p.Next++
	}
	return out
}

func (p *promptPool) nextEpoch(tasks []int, rng *rand.Rand) {
	p.Epoch++
	var all, kept []drawn
	for _, ti := range tasks {
		for _, pr := range cascadeTasks[ti].Space() {
			d := drawn{Task: ti, Prompt: pr, Epoch: p.Epoch}
			all = append(all, d)
			if !p.Filter || p.Settled[promptKey(ti, pr)] != p.Epoch-1 || p.Epoch == 1 {
				kept = append(kept, d)
			}
		}
	}
	if len(kept) == 0 {
		kept = all // every prompt settled: nothing would be left to draw
	}
	p.LeftOut = append(p.LeftOut, len(all)-len(kept))
	rng.Shuffle(len(kept), func(i, j int) { kept[i], kept[j] = kept[j], kept[i] })
	p.Order, p.Next = kept, 0
}

// settle records a trained group: a zero-variance group marks its prompt for the filter.
func (p *promptPool) settle(g *group) {
	if g.Errors > 0 || !g.complete() {
		return
	}
	for _, r := range g.Rewards[1:] {
		if r != g.Rewards[0] {
			return
		}
	}
	if p.Settled == nil {
		p.Settled = map[string]int{}
	}
	k := promptKey(g.Task, g.Prompt)
	p.Settled[k] = max(p.Settled[k], g.Epoch)
}

// check rejects a pool that does not fit its stage's tasks.
func (p *promptPool) check(tasks []int) error {
	if p.Next < 0 || p.Next > len(p.Order) || p.Epoch < 0 {
		return fmt.Errorf("prompt pool at %d of %d in epoch %d", p.Next, len(p.Order), p.Epoch)
	}
	for _, d := range p.Order {
		if err := checkPrompt(d.Task, d.Prompt, tasks); err != nil {
			return err
		}
	}
	return nil
}
