package trainer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// Bench measures each policy backend, for each policy network (the MLP and the
// transformer, at the trainer's default widths), on sort3 at the trainer's default
// batch (16 prompts × 16 responses × 3 tokens): training tokens per second (forward,
// backward and an Adam step over the batch) and sampling tokens per second (the
// batched softmax the sampler calls). Speeds are shown as ratios against the
// single-goroutine CPU backend of the MLP, measured in the same run. It backs
// `rewardmesh bench trainer`.
func Bench(ctx context.Context, w io.Writer) error {
	cfg := DefaultConfig()
	rows := cfg.Prompts * cfg.Group * sort3Response
	mlp := sort3Spec(cfg.Embed, cfg.Hidden)
	specs := []policy.Spec{mlp, withModel(mlp, policy.ModelTransformer, cfg.Layers, cfg.Heads)}

	type target struct {
		name string
		cfg  Config
	}
	targets := []target{{"cpu (1 goroutine)", Config{Backend: "cpu", Workers: 1}}}
	if n := runtime.GOMAXPROCS(0); n > 1 {
		targets = append(targets, target{fmt.Sprintf("cpu (%d goroutines)", n), Config{Backend: "cpu", Workers: n}})
	}
	names := make([]string, 0, len(backends))
	for name := range backends {
		if name != "cpu" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		targets = append(targets, target{name, Config{Backend: name}})
	}

	fmt.Fprintf(w, "trainer backends on sort3, batch %d tokens; ratios against the MLP on 1 CPU goroutine\n", rows)
	var baseTrain, baseSample float64
	for _, spec := range specs {
		contexts, actions, coef := benchBatch(spec, rows)
		model := "mlp"
		if spec.Model != policy.ModelMLP {
			model = spec.Model
		}
		fmt.Fprintf(w, "%s %+v, %d parameters\n", model, spec, spec.Size())
		fmt.Fprintf(w, "  %-22s %16s %8s %16s %8s\n", "backend", "train tokens/s", "ratio", "sample tokens/s", "ratio")
		for _, tg := range targets {
			if err := ctx.Err(); err != nil {
				return err
			}
			st := policy.NewState(spec.Init(rand.New(rand.NewPCG(1, 1))))
			be, err := newBackend(spec, st, tg.cfg)
			if err != nil {
				fmt.Fprintf(w, "  %-22s unavailable: %v\n", tg.name, err)
				continue
			}
			train, sample, err := measureBackend(ctx, be, contexts, actions, coef)
			be.Close()
			if err != nil {
				return fmt.Errorf("bench %s %s: %w", model, tg.name, err)
			}
			if baseTrain == 0 {
				baseTrain, baseSample = train, sample
			}
			fmt.Fprintf(w, "  %-22s %16.0f %7.2fx %16.0f %7.2fx\n", tg.name, train, train/baseTrain, sample, sample/baseSample)
		}
	}
	return nil
}

func benchBatch(spec policy.Spec, rows int) (contexts, actions []int32, coef []float32) {
	rng := rand.New(rand.NewPCG(2, 2))
	contexts = make([]int32, rows*spec.Context)
	for i := range contexts {
		contexts[i] = int32(rng.IntN(spec.Vocab))
	}
	actions, coef = make([]int32, rows), make([]float32, rows)
	for i := range actions {
		actions[i] = int32(rng.IntN(spec.Actions))
		coef[i] = float32(rng.NormFloat64() / float64(rows))
	}
	return contexts, actions, coef
}

// measureBackend runs training steps, then sampling calls, each for about a second
// after a warm-up, and returns tokens per second for both.
func measureBackend(ctx context.Context, be policy.Backend, contexts, actions []int32, coef []float32) (train, sample float64, err error) {
	rows := len(actions)
	logp := make([]float32, rows)
	probs := make([]float32, rows*be.Spec().Actions)
	trainStep := func() error {
		if err := be.Forward(contexts, actions, logp); err != nil {
			return err
		}
		if err := be.Backward(coef); err != nil {
			return err
		}
		return be.Step(policy.DefaultAdam(1e-4))
	}
	sampleStep := func() error { return be.Probs(contexts, probs) }
	rate := func(step func() error) (float64, error) {
		for range 3 {
			if err := step(); err != nil {
				return 0, err
			}
		}
		start, n := time.Now(), 0
		for time.Since(start) < time.Second && ctx.Err() == nil {
			if err := step(); err != nil {
				return 0, err
			}
			n++
		}
		return float64(n*rows) / time.Since(start).Seconds(), ctx.Err()
	}
	if train, err = rate(trainStep); err != nil {
		return 0, 0, err
	}
	sample, err = rate(sampleStep)
	return train, sample, err
}
