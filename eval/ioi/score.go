package ioi

import (
	"cmp"
	"math"
	"slices"
)

// DefaultSubmissions is IOI's limit of submissions per task.
const DefaultSubmissions = 50

// Submission is a judged submission as scoring sees it.
type Submission struct {
	Target       string    // the subtask it was generated for
	Length       int       // the generation's length (tokens, else characters)
	CompileError bool      // it did not compile
	Raw          []float64 // per subtask of the task, in order: the lowest test score, 0 to 1
}

// Weighted is a subtask's points times a raw score, rounded to the task's
// score precision as CMS rounds it.
func (t *Task) Weighted(subtask int, raw float64) float64 {
	p := math.Pow(10, float64(t.ScorePrecision))
	return math.Round(raw*t.Subtasks[subtask].Points*p) / p
}

// Best is the IOI score of a set of submissions (IOI 2024's rule, also
// CMS's "max subtask"): each subtask earns its best score across them, and
// the task's score is the sum. It returns the per-subtask scores and the sum.
func (t *Task) Best(subs []Submission, chosen []int) ([]float64, float64) {
	best := make([]float64, len(t.Subtasks))
	for _, i := range chosen {
		for k, raw := range subs[i].Raw {
			best[k] = max(best[k], t.Weighted(k, raw))
		}
	}
	total := 0.0
	for _, b := range best {
		total += b
	}
	p := math.Pow(10, float64(t.ScorePrecision))
	return best, math.Round(total*p) / p
}

// All is every index of subs.
func All(subs []Submission) []int {
	out := make([]int, len(subs))
	for i := range out {
		out[i] = i
	}
	return out
}

// RoundRobin chooses at most limit submissions the way open-r1 simulates a
// contestant under IOI's limit (after OpenAI's o1-ioi): submissions that do
// not compile are left out; those generated for each subtask wait in a queue,
// best first by their score on the first subtask (the samples, the only
// result a contestant sees before submitting) and then by the longest
// generation. Going round from the last subtask down, it submits the head of
// the queue of each subtask not yet solved (scored 1 by a submission already
// chosen) and not yet empty. When every subtask is solved or its queue empty,
// the remaining submissions fill the rest of the limit in the same order, then
// by target subtask, later first. It returns indices into subs, in the order
// submitted.
//
// open-r1's selection_simulator.py records solved subtasks by index but looks
// them up by name, so it never skips a solved subtask; this follows the rule
// its write-up states instead ("we skip over submissions targeting subtasks
// that have already been solved").
func (t *Task) RoundRobin(subs []Submission, limit int) []int {
	n := len(t.Subtasks)
	if n == 0 || limit <= 0 {
		return nil
	}
	index := make(map[string]int, n)
	for k, st := range t.Subtasks {
		index[st.Name] = k
	}
	samples := func(i int) float64 {
		if len(subs[i].Raw) == 0 {
			return 0
		}
		return subs[i].Raw[0]
	}
	better := func(a, b int) int {
		return cmp.Or(cmp.Compare(samples(b), samples(a)), cmp.Compare(subs[b].Length, subs[a].Length))
	}
	queues := make([][]int, n)
	var strays []int // generated for a subtask the task does not have
	for i, s := range subs {
		if s.CompileError {
			continue
		}
		if k, ok := index[s.Target]; ok {
			queues[k] = append(queues[k], i)
		} else {
			strays = append(strays, i)
		}
	}
	for k := range queues {
		slices.SortStableFunc(queues[k], better)
	}
	solved := make([]bool, n)
	solved[0] = true // the samples earn nothing to aim for
	open := func() bool {
		for k := range n {
			if !solved[k] && len(queues[k]) > 0 {
				return true
			}
		}
		return false
	}
	var chosen []int
	for k := n - 1; len(chosen) < limit && open(); k = (k - 1 + n) % n {
		if solved[k] || len(queues[k]) == 0 {
			continue
		}
		i := queues[k][0]
		queues[k] = queues[k][1:]
		chosen = append(chosen, i)
		for j, raw := range subs[i].Raw {
			if raw >= 1 {
				solved[j] = true
			}
		}
	}
	var rest []int
	for _, q := range queues {
		rest = append(rest, q...)
	}
	rest = append(rest, strays...)
	target := func(i int) int { return index[subs[i].Target] } // 0 for strays, as open-r1
	slices.SortStableFunc(rest, func(a, b int) int {
		return cmp.Or(better(a, b), cmp.Compare(target(b), target(a)))
	})
	for _, i := range rest {
		if len(chosen) >= limit {
			break
		}
		chosen = append(chosen, i)
	}
	return chosen
}
