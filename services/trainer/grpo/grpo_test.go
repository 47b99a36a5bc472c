package grpo

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAdvantages(t *testing.T) {
	tests := []struct {
		name    string
		rewards []float64
		want    []float64 // nil when the group is filtered
	}{
		// mean 0.25, unbiased var (0.5625+3·0.0625)/3 = 0.25, std 0.5
		{"one right of four", []float64{1, 0, 0, 0}, []float64{0.75 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6)}},
		// mean 0.5, var 0.5/1, std √0.5
		{"pair", []float64{0, 1}, []float64{-0.5 / (math.Sqrt(0.5) + 1e-6), 0.5 / (math.Sqrt(0.5) + 1e-6)}},
		// mean 0.5, var 1/3, std 0.57735…
		{"half right", []float64{1, 0, 1, 0}, []float64{0.5 / (math.Sqrt(1.0/3) + 1e-6), -0.5 / (math.Sqrt(1.0/3) + 1e-6), 0.5 / (math.Sqrt(1.0/3) + 1e-6), -0.5 / (math.Sqrt(1.0/3) + 1e-6)}},
		// graded rewards: mean 0.5, var (0.25+0+0.25)/2 = 0.25, std 0.5
		{"graded", []float64{0, 0.5, 1}, []float64{-0.5 / 0.500001, 0, 0.5 / 0.500001}},
		{"all right is zero variance", []float64{1, 1, 1, 1}, nil},
		{"all wrong is zero variance", []float64{0, 0, 0}, nil},
		{"single response", []float64{1}, nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv, ok := Advantages(tt.rewards)
			if ok != (tt.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, tt.want != nil)
			}
			for i := range tt.want {
				if !near(adv[i], tt.want[i], 1e-12) {
					t.Errorf("A[%d] = %.12f, want %.12f", i, adv[i], tt.want[i])
				}
			}
		})
	}
}

// Rewards arrive in any order and land in their response's slot; the advantage of a
// response must not depend on the order its group filled in.
func TestAdvantagesIgnoreArrivalOrder(t *testing.T) {
	rewards := []float64{1, 0, 0, 1, 0, 0, 0, 1}
	want, _ := Advantages(rewards)
	arrival := []int{7, 2, 5, 0, 3, 6, 1, 4}
	slots := make([]float64, len(rewards))
	for _, i := range arrival {
		slots[i] = rewards[i]
	}
	got, ok := Advantages(slots)
	if !ok {
		t.Fatal("group filtered")
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("A[%d] = %v after out-of-order arrival, want %v", i, got[i], want[i])
		}
	}
	// Advantages sum to zero: the group is its own baseline.
	var sum float64
	for _, a := range got {
		sum += a
	}
	if !near(sum, 0, 1e-12) {
		t.Errorf("advantages sum to %v, want 0", sum)
	}
}

func TestLoss(t *testing.T) {
	tests := []struct {
		name     string
		tokens   []Token
		wantLoss float64
		wantGrad []float64
	}{
		{
			// On-policy (ρ = 1): L = −(3·1.5 − 3·0.5)/6 = −0.5; ∂L/∂logp = −A/6.
			name: "on-policy, token-level mean",
			tokens: []Token{
				{0, 0, 1.5}, {0, 0, 1.5}, {0, 0, 1.5},
				{-1, -1, -0.5}, {-1, -1, -0.5}, {-1, -1, -0.5},
			},
			wantLoss: -0.5,
			wantGrad: []float64{-0.25, -0.25, -0.25, 0.5 / 6, 0.5 / 6, 0.5 / 6},
		},
		{
			// ε = 0.2. ρ=1.5,A=1: min(1.5, 1.2) clipped → 0 grad.  ρ=0.5,A=1: min(0.5, 0.8)
			// unclipped → grad −0.5/4.  ρ=1.5,A=−1: min(−1.5, −1.2) unclipped → grad 1.5/4.
			// ρ=0.5,A=−1: min(−0.5, −0.8) clipped → 0.  L = (−1.2 −0.5 +1.5 +0.8)/4 = 0.15.
			name: "off-policy clipping",
			tokens: []Token{
				{math.Log(1.5), 0, 1}, {math.Log(0.5), 0, 1},
				{math.Log(1.5), 0, -1}, {math.Log(0.5), 0, -1},
			},
			wantLoss: 0.15,
			wantGrad: []float64{0, -0.125, 0.375, 0},
		},
		{
			name:     "no tokens",
			tokens:   nil,
			wantLoss: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loss, grad, err := Loss(tt.tokens, 0.2)
			if err != nil {
				t.Fatal(err)
			}
			if !near(loss, tt.wantLoss, 1e-12) {
				t.Errorf("loss = %v, want %v", loss, tt.wantLoss)
			}
			if len(grad) != len(tt.wantGrad) {
				t.Fatalf("%d gradients, want %d", len(grad), len(tt.wantGrad))
			}
			for i := range grad {
				if !near(grad[i], tt.wantGrad[i], 1e-12) {
					t.Errorf("grad[%d] = %v, want %v", i, grad[i], tt.wantGrad[i])
				}
			}
		})
	}
}

// The returned gradient is the derivative of the returned loss.
func TestLossGradientMatchesFiniteDifference(t *testing.T) {
	tokens := []Token{{-0.1, -0.3, 1.2}, {-2, -1.9, -0.7}, {-0.5, -0.5, 0.4}, {-1.1, -1.3, -1.5}}
	_, grad, err := Loss(tokens, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	const h = 1e-6
	for i := range tokens {
		up := append([]Token(nil), tokens...)
		down := append([]Token(nil), tokens...)
		up[i].Logp += h
		down[i].Logp -= h
		lu, _, _ := Loss(up, 0.2)
		ld, _, _ := Loss(down, 0.2)
		if fd := (lu - ld) / (2 * h); !near(fd, grad[i], 1e-6) {
			t.Errorf("token %d: grad %v, finite difference %v", i, grad[i], fd)
		}
	}
}

func TestLossRejectsBadClip(t *testing.T) {
	for _, clip := range []float64{-0.1, math.NaN()} {
		if _, _, err := Loss([]Token{{0, 0, 1}}, clip); err == nil {
			t.Errorf("clip %v accepted", clip)
		}
	}
}
