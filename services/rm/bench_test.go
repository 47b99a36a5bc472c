package rm

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkScore scores 256 conversations against the local vLLM-shaped
// server, one per request (the baseline) and batched.
func BenchmarkScore(b *testing.B) {
	convs := promptConvs(256)
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f := newFakeRM(b)
			c := testClient(b, f, ClientConfig{Protocol: VLLMPooling, BatchSize: batch, Concurrency: 8})
			b.ReportAllocs()
			for b.Loop() {
				for _, sc := range c.Score(context.Background(), convs) {
					if sc.Err != nil {
						b.Fatal(sc.Err)
					}
				}
			}
		})
	}
}

// BenchmarkBatchingSpeedup times the baseline (one conversation per request)
// and batches of 32 in the same run and reports how many times faster
// batching is. The server does no model work, so this is the protocol's and
// the client's overhead alone; a real model adds GPU batching on top.
func BenchmarkBatchingSpeedup(b *testing.B) {
	convs := promptConvs(256)
	f := newFakeRM(b)
	single := testClient(b, f, ClientConfig{Protocol: VLLMPooling, BatchSize: 1, Concurrency: 8})
	batched := testClient(b, f, ClientConfig{Protocol: VLLMPooling, BatchSize: 32, Concurrency: 8})
	var base, fast time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		single.Score(context.Background(), convs)
		mid := time.Now()
		batched.Score(context.Background(), convs)
		base += mid.Sub(start)
		fast += time.Since(mid)
	}
	b.ReportMetric(float64(base)/float64(fast), "x_faster_than_unbatched")
}

// BenchmarkRewardsGroups runs a rewards batch of 64 groups of 8 rm items
// (the shape of a GRPO step) through the handler, reward model included.
func BenchmarkRewardsGroups(b *testing.B) {
	f := newFakeRM(b)
	s := testService(b, f, VLLMPooling)
	payload := []byte(`{"items":[`)
	for g := range 64 {
		for k := range 8 {
			if g+k > 0 {
				payload = append(payload, ',')
			}
			payload = fmt.Appendf(payload, `{"domain":"rm","response":"r #%d","reference":{"prompt":"q%d"},"group":"g%d"}`, k, g, g)
		}
	}
	payload = append(payload, "]}"...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.handleRewards(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}
