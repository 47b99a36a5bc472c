package policy

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkCPUTrainStep is one trainer step's worth of training (768 tokens: forward,
// backward, Adam) on the sort3 network, on one goroutine (the baseline) and on all.
func BenchmarkCPUTrainStep(b *testing.B) {
	s := Spec{Vocab: 11, Actions: 10, Context: 5, Embed: 16, Hidden: 128}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			be, err := NewCPU(s, NewState(s.Init(rand.New(rand.NewPCG(1, 1)))), workers)
			if err != nil {
				b.Fatal(err)
			}
			contexts, actions, coef := randomBatch(s, 768, 1)
			logp := make([]float32, 768)
			b.ReportAllocs()
			for b.Loop() {
				if err := be.Forward(contexts, actions, logp); err != nil {
					b.Fatal(err)
				}
				if err := be.Backward(coef); err != nil {
					b.Fatal(err)
				}
				if err := be.Step(DefaultAdam(1e-4)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(768*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
