package trainer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
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

// fillContext writes the context for generating response token t: the prompt, then the
// response so far, then padding, so each slot always means the same thing.
func fillContext(dst []int32, prompt, response []int32, t int) {
	n := copy(dst, prompt)
	n += copy(dst[n:], response[:t])
	for i := n; i < len(dst); i++ {
		dst[i] = tokenPad
	}
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
