package trainer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Sort3 is the demonstration task: the prompt is three digits, and a correct response
// is those digits sorted ascending, written as a tuple "(a, b, c)". The math service
// scores it by tuple equality against the sorted gold tuple.
//
// The policy's actions are the ten digits; the tuple's punctuation is the response
// template, not something the policy samples (constrained decoding, as structured
// output samplers do), so chance is one in a thousand and every reward the policy
// earns comes from ordering digits, not from learning commas.
const (
	sort3Digits   = 3
	tokenPad      = 10 // fills the context slots of responses not yet generated
	sort3Vocab    = 11
	sort3Actions  = 10
	sort3Context  = 2*sort3Digits - 1 // the prompt and every earlier response digit
	sort3Response = sort3Digits
)

// sort3Spec is the network used for sort3 at the given widths.
func sort3Spec(embed, hidden int) policy.Spec {
	return policy.Spec{Vocab: sort3Vocab, Actions: sort3Actions, Context: sort3Context, Embed: embed, Hidden: hidden}
}

// samplePrompt draws three digits, repeats allowed.
func samplePrompt(rng *rand.Rand) []int32 {
	p := make([]int32, sort3Digits)
	for i := range p {
		p[i] = int32(rng.IntN(10))
	}
	return p
}

// renderTuple writes digits as the tuple the math service parses: "(1, 2, 3)".
func renderTuple(digits []int32) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range digits {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", d)
	}
	b.WriteByte(')')
	return b.String()
}

// sort3Gold is the correct answer for prompt.
func sort3Gold(prompt []int32) string {
	s := slices.Clone(prompt)
	slices.Sort(s)
	return renderTuple(s)
}

// task is one demonstration task of a cascade: its prompts, how many tokens a
// response has, and the reward item the mesh scores a response by. The trainer never
// scores a response itself: Item only writes it out for the service that does.
type task interface {
	Name() string
	PromptLen() int
	// ResponseLen is the tokens sampled for one response under a stage's max
	// response length, or 0 when the task's responses cannot fit in it.
	ResponseLen(maxLen int) int
	// Space is every prompt of the task, in a fixed order.
	Space() [][]int32
	// Eval is the prompts a cascade evaluates after each stage: held out of
	// training where the space is large enough to spare them, else the whole space.
	Eval() [][]int32
	Item(prompt, response []int32) (reward.Domain, string, json.RawMessage)
}

// cascadeTasks are the demonstration tasks a cascade can name, in the order of their
// task tokens. The order is part of every cascade checkpoint: append, never reorder.
var cascadeTasks = []task{sort3Task{}, addTask{}, exprTask{}, wordsTask{}}

func lookupTask(name string) (int, task, bool) {
	for i, t := range cascadeTasks {
		if t.Name() == name {
			return i, t, true
		}
	}
	return 0, nil, false
}

// TaskNames lists the tasks a cascade stage may name.
func TaskNames() []string {
	names := make([]string, len(cascadeTasks))
	for i, t := range cascadeTasks {
		names[i] = t.Name()
	}
	return names
}

// maxPromptLen is the widest prompt of any task: a cascade network's prompt slots.
func maxPromptLen() int {
	n := 0
	for _, t := range cascadeTasks {
		n = max(n, t.PromptLen())
	}
	return n
}

func digitsItem(domain reward.Domain, text string, ref any) (reward.Domain, string, json.RawMessage) {
	b, _ := json.Marshal(ref)
	return domain, text, b
}

// sort3Task is sort3 inside a cascade; 64 of its 1000 prompts are held out for eval.
type sort3Task struct{}

func (sort3Task) Name() string   { return "sort3" }
func (sort3Task) PromptLen() int { return sort3Digits }
func (sort3Task) ResponseLen(maxLen int) int {
	if maxLen < sort3Response {
		return 0
	}
	return sort3Response
}
func (sort3Task) Space() [][]int32 {
	var all [][]int32
	for n := range 1000 {
		all = append(all, []int32{int32(n / 100), int32(n / 10 % 10), int32(n % 10)})
	}
	held := map[int]bool{}
	for _, i := range sort3Held() {
		held[i] = true
	}
	var train [][]int32
	for i, p := range all {
		if !held[i] {
			train = append(train, p)
		}
	}
	return train
}
func (sort3Task) Eval() [][]int32 {
	var ps [][]int32
	for _, n := range sort3Held() {
		ps = append(ps, []int32{int32(n / 100), int32(n / 10 % 10), int32(n % 10)})
	}
	return ps
}
func (sort3Task) Item(prompt, response []int32) (reward.Domain, string, json.RawMessage) {
	return digitsItem(reward.Math, renderTuple(response), map[string]string{"gold": sort3Gold(prompt)})
}

// sort3Held is the held-out prompts' numbers, fixed by a seed.
func sort3Held() []int {
	return rand.New(rand.NewPCG(64, 1000)).Perm(1000)[:64]
}

// addTask: the prompt is two digits a and b from 0 to 4, the response one digit,
// their sum; the math service checks it against the gold number. Chance is 1 in 10.
type addTask struct{}

func (addTask) Name() string   { return "add" }
func (addTask) PromptLen() int { return 2 }
func (addTask) ResponseLen(maxLen int) int {
	return min(maxLen, 1)
}
func (addTask) Space() [][]int32 {
	var ps [][]int32
	for a := range int32(5) {
		for b := range int32(5) {
			ps = append(ps, []int32{a, b})
		}
	}
	return ps
}
func (t addTask) Eval() [][]int32 { return t.Space() }
func (addTask) Item(prompt, response []int32) (reward.Domain, string, json.RawMessage) {
	return digitsItem(reward.Math, fmt.Sprintf("%d", response[0]), map[string]string{"gold": fmt.Sprintf("%d", prompt[0]+prompt[1])})
}

// exprTask: the prompt names a function f(x) = x OP k (OP one of + - *, k 1..3);
// the response is a Python expression of two tokens from a vocabulary of six, the
// operator (action mod 3) and the operand (action mod 3, plus 1), written into a
// program that reads x and prints the expression. The sandbox runs it on three tests.
type exprTask struct{}

var exprOps = []string{"+", "-", "*"}

func (exprTask) Name() string   { return "expr" }
func (exprTask) PromptLen() int { return 2 }
func (exprTask) ResponseLen(maxLen int) int {
	if maxLen < 2 {
		return 0
	}
	return 2
}
func (exprTask) Space() [][]int32 {
	var ps [][]int32
	for op := range int32(3) {
		for k := range int32(3) {
			ps = append(ps, []int32{op, k})
		}
	}
	return ps
}
func (t exprTask) Eval() [][]int32 { return t.Space() }

// exprSource is the program a response writes.
func exprSource(response []int32) string {
	return fmt.Sprintf("x = int(input())\nprint(x %s %d)\n", exprOps[response[0]%3], response[1]%3+1)
}

func (exprTask) Item(prompt, response []int32) (reward.Domain, string, json.RawMessage) {
	op, k := exprOps[prompt[0]%3], int(prompt[1]%3)+1
	var tests []reward.TestCase
	for _, x := range []int{2, 5, 11} {
		y := map[string]int{"+": x + k, "-": x - k, "*": x * k}[op]
		tests = append(tests, reward.TestCase{Input: fmt.Sprintf("%d\n", x), Output: fmt.Sprintf("%d\n", y)})
	}
	return digitsItem(reward.Code, "```python\n"+exprSource(response)+"```\n", map[string]any{"language": "python", "tests": tests})
}

// wordsTask: instruction following. The prompt is three switches: all lowercase,
// no commas, and an ending (none, "world", "yes" or "bye"); the response is words
// from a vocabulary of ten, as many as the stage's max response length; the rm
// service's IFEval checks score it (1 when every instruction is followed).
type wordsTask struct{}

var ifWords = []string{"hello", "Hello", "world", "World,", "yes", "Yes", "ok,", "OK", "bye", "Bye,"}
var ifEndings = []string{"", "world", "yes", "bye"}

func (wordsTask) Name() string   { return "words" }
func (wordsTask) PromptLen() int { return 3 }
func (wordsTask) ResponseLen(maxLen int) int {
	return maxLen
}
func (wordsTask) Space() [][]int32 {
	var ps [][]int32
	for lower := range int32(2) {
		for comma := range int32(2) {
			for end := range int32(len(ifEndings)) {
				if lower+comma+end > 0 {
					ps = append(ps, []int32{lower, comma, end})
				}
			}
		}
	}
	return ps
}
func (t wordsTask) Eval() [][]int32 { return t.Space() }

// wordsText is the text a response writes.
func wordsText(response []int32) string {
	ws := make([]string, len(response))
	for i, a := range response {
		ws[i] = ifWords[a]
	}
	return strings.Join(ws, " ")
}

func (wordsTask) Item(prompt, response []int32) (reward.Domain, string, json.RawMessage) {
	var ids []string
	var kwargs []map[string]any
	text := []string{"Write a few words"}
	if prompt[0] == 1 {
		ids, kwargs = append(ids, "change_case:english_lowercase"), append(kwargs, map[string]any{})
		text = append(text, "in lowercase only")
	}
	if prompt[1] == 1 {
		ids, kwargs = append(ids, "punctuation:no_comma"), append(kwargs, map[string]any{})
		text = append(text, "without commas")
	}
	if e := ifEndings[prompt[2]]; e != "" {
		ids, kwargs = append(ids, "startend:end_checker"), append(kwargs, map[string]any{"end_phrase": e})
		text = append(text, "ending with "+e)
	}
	return digitsItem(reward.IF, wordsText(response), map[string]any{
		"prompt": strings.Join(text, ", ") + ".", "instruction_id_list": ids, "kwargs": kwargs,
	})
}

// layout is where a context's tokens sit. sort3 alone: the prompt, then the response
// so far, padded (5 tokens, vocabulary 11). A cascade: a token naming the task, the
// prompt padded to the widest task's, then the response so far padded, so one
// network serves every stage.
type layout struct {
	TaskToken     bool `json:"task_token,omitempty"`
	PromptSlots   int  `json:"prompt_slots"`
	ResponseSlots int  `json:"response_slots"` // the longest response, less its last token
}

var sort3Layout = layout{PromptSlots: sort3Digits, ResponseSlots: sort3Response - 1}

func (l layout) context() int {
	n := l.PromptSlots + l.ResponseSlots
	if l.TaskToken {
		n++
	}
	return n
}

// vocab: ten action tokens, the pad, then one token per task.
func (l layout) vocab() int {
	if l.TaskToken {
		return sort3Vocab + len(cascadeTasks)
	}
	return sort3Vocab
}

func (l layout) spec(embed, hidden int) policy.Spec {
	return policy.Spec{Vocab: l.vocab(), Actions: sort3Actions, Context: l.context(), Embed: embed, Hidden: hidden}
}

// fill writes the context for generating response token t of a task's prompt.
func (l layout) fill(dst []int32, taskIndex int, prompt, response []int32, t int) {
	n := 0
	if l.TaskToken {
		dst[0] = int32(sort3Vocab + taskIndex)
		n = 1
	}
	n += copy(dst[n:], prompt)
	for end := n - len(prompt) + l.PromptSlots; n < end; n++ {
		dst[n] = tokenPad
	}
	n += copy(dst[n:], response[:t])
	for i := n; i < len(dst); i++ {
		dst[i] = tokenPad
	}
}
