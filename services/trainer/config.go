// Package trainer is rewardmesh's GRPO trainer: it samples groups of responses from a
// small policy, publishes them to the reward mesh as JetStream jobs, consumes the
// rewards as they arrive (out of order, from a durable consumer) and applies
// Nemotron-Cascade-style GRPO updates, with checkpoints a killed run resumes from.
package trainer

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// Config is a training run. Zero values take the defaults of DefaultConfig.
type Config struct {
	Task    string // only "sort3"
	Steps   int    // updates to reach, counting those of a resumed run
	Backend string // "cpu", or "cuda" in a binary built with -tags cuda
	Out     string // directory for metrics.jsonl, reward.html and checkpoint.json
	NATSURL string // the CLI connects here; empty means it starts an embedded mesh
	Resume  bool   // continue from Out/checkpoint.json
	Cascade string // a cascade file: run its stages (RunCascade) instead of one task

	Run       string  // run id, a job-id token; generated when empty
	Prompts   int     // prompts (groups) per step
	Group     int     // G, responses sampled per prompt
	LR        float64 // Adam learning rate
	Clip      float64 // ε of the clipped surrogate
	Staleness int     // policy versions a group may lag the policy it trains; 0 is strict on-policy
	Seed      uint64
	Policy    string // "mlp" (the default) or "transformer"
	Embed     int    // policy embedding width (the transformer's model width)
	Hidden    int    // policy hidden width (the transformer's MLP width)
	Layers    int    // transformer blocks
	Heads     int    // transformer attention heads
	Workers   int    // CPU backend goroutines; 0 means GOMAXPROCS

	// RewardTimeout bounds the wait for one step's rewards: past it the run fails
	// rather than stalls silently when no worker is scoring.
	RewardTimeout time.Duration
	// AckWait is how long the results consumer waits for an ack before redelivering;
	// a resumed run sees the crashed run's unacknowledged rewards again after it.
	AckWait time.Duration
	// Quiet drops the per-step progress line.
	Quiet bool

	stage *stageSetup // set by RunCascade: the run is one stage of a cascade
}

// stageSetup is what a cascade stage adds to a run.
type stageSetup struct {
	tasks       []string
	maxLen      int
	temperature float64
	filter      bool
	layout      layout
	init        *policy.State // a fresh stage starts from these parameters (the last stage's); nil: from scratch
	title       string
}

// DefaultConfig is the configuration the sort3 demonstration is tuned for.
func DefaultConfig() Config {
	return Config{
		Task: "sort3", Steps: 1000, Backend: "cpu",
		Prompts: 16, Group: 16, LR: 3e-3, Clip: 0.2, Staleness: 0, Seed: 1,
		Policy: "mlp", Embed: 16, Hidden: 128, Layers: 2, Heads: 2,
		RewardTimeout: 2 * time.Minute, AckWait: 10 * time.Second,
	}
}

// ParseFlags parses `rewardmesh train` arguments. For -h it returns an error that
// wraps flag.ErrHelp; print Usage then.
func ParseFlags(args []string) (Config, error) {
	cfg := DefaultConfig()
	fs := flagSet(&cfg)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("train flags: %w", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("train flags: unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.validate()
}

// PrintFlags writes the flags of `rewardmesh train` and their defaults.
func PrintFlags(w io.Writer) {
	cfg := DefaultConfig()
	fs := flagSet(&cfg)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func flagSet(cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.StringVar(&cfg.Task, "task", cfg.Task, "task to train on (sort3)")
	fs.IntVar(&cfg.Steps, "steps", cfg.Steps, "GRPO updates to run, counting a resumed run's")
	fs.StringVar(&cfg.Backend, "backend", cfg.Backend, "policy backend: cpu, or cuda in a -tags cuda build")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output directory (metrics.jsonl, reward.html, checkpoint.json)")
	fs.StringVar(&cfg.Cascade, "cascade", cfg.Cascade, "cascade file (JSON, or YAML named .yaml/.yml): stages run in order, each from the last one's checkpoint; --task and the GRPO flags are the file's")
	fs.StringVar(&cfg.NATSURL, "nats", cfg.NATSURL, "NATS URL of the mesh; empty starts an embedded one")
	fs.BoolVar(&cfg.Resume, "resume", cfg.Resume, "resume from OUT/checkpoint.json")
	fs.StringVar(&cfg.Run, "run", cfg.Run, "run id (letters, digits, _ and -); generated when empty")
	fs.IntVar(&cfg.Prompts, "prompts", cfg.Prompts, "prompts (groups) per step")
	fs.IntVar(&cfg.Group, "group", cfg.Group, "responses per prompt (G)")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	fs.Float64Var(&cfg.Clip, "clip", cfg.Clip, "clip ε of the surrogate loss")
	fs.IntVar(&cfg.Staleness, "staleness", cfg.Staleness, "policy versions a group may lag (0: strict on-policy)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	fs.StringVar(&cfg.Policy, "policy", cfg.Policy, "policy network: mlp, or transformer (a small causal transformer)")
	fs.IntVar(&cfg.Embed, "embed", cfg.Embed, "policy embedding width (the transformer's model width)")
	fs.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "policy hidden width (the transformer's MLP width)")
	fs.IntVar(&cfg.Layers, "layers", cfg.Layers, "transformer blocks (--policy transformer)")
	fs.IntVar(&cfg.Heads, "heads", cfg.Heads, "attention heads per block, dividing --embed (--policy transformer)")
	fs.DurationVar(&cfg.RewardTimeout, "reward-timeout", cfg.RewardTimeout, "longest wait for one step's rewards")
	fs.BoolVar(&cfg.Quiet, "quiet", cfg.Quiet, "no per-step progress line")
	return fs
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.Task == "" {
		c.Task = d.Task
	}
	if c.Backend == "" {
		c.Backend = d.Backend
	}
	if c.Prompts == 0 {
		c.Prompts = d.Prompts
	}
	if c.Group == 0 {
		c.Group = d.Group
	}
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Clip == 0 {
		c.Clip = d.Clip
	}
	if c.Policy == "" {
		c.Policy = d.Policy
	}
	if c.Embed == 0 {
		c.Embed = d.Embed
	}
	if c.Hidden == 0 {
		c.Hidden = d.Hidden
	}
	if c.Layers == 0 {
		c.Layers = d.Layers
	}
	if c.Heads == 0 {
		c.Heads = d.Heads
	}
	if c.RewardTimeout == 0 {
		c.RewardTimeout = d.RewardTimeout
	}
	if c.AckWait == 0 {
		c.AckWait = d.AckWait
	}
}

func (c Config) validate() error {
	var errs []error
	if c.stage == nil && c.Task != "sort3" {
		errs = append(errs, fmt.Errorf("task %q: only sort3 is known", c.Task))
	}
	if c.Steps <= 0 {
		errs = append(errs, fmt.Errorf("steps %d must be positive", c.Steps))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("out: an output directory is required"))
	}
	if c.Run != "" && !validRunID(c.Run) {
		errs = append(errs, fmt.Errorf("run %q: want 1-64 of [A-Za-z0-9_-]", c.Run))
	}
	if c.Prompts <= 0 || c.Prompts > 4096 {
		errs = append(errs, fmt.Errorf("prompts %d: want 1..4096", c.Prompts))
	}
	if c.Group < 2 || c.Group > 1024 {
		errs = append(errs, fmt.Errorf("group %d: want 2..1024 (GRPO needs two responses to compare)", c.Group))
	}
	if c.LR <= 0 || c.LR > 1 {
		errs = append(errs, fmt.Errorf("lr %v: want (0, 1]", c.LR))
	}
	if c.Clip <= 0 || c.Clip >= 1 {
		errs = append(errs, fmt.Errorf("clip %v: want (0, 1)", c.Clip))
	}
	if c.Staleness < 0 || c.Staleness > 8 {
		errs = append(errs, fmt.Errorf("staleness %d: want 0..8", c.Staleness))
	}
	if c.Embed <= 0 || c.Hidden <= 0 || c.Hidden > 4096 || c.Embed > 1024 {
		errs = append(errs, fmt.Errorf("policy widths embed %d hidden %d out of range", c.Embed, c.Hidden))
	}
	if err := checkModel(c.Policy, c.Embed, c.Layers, c.Heads); err != nil {
		errs = append(errs, err)
	}
	if c.RewardTimeout <= 0 || c.AckWait <= 0 {
		errs = append(errs, errors.New("reward-timeout and ack wait must be positive"))
	}
	return errors.Join(errs...)
}

// checkModel reports a policy name or transformer shape that cannot be built.
func checkModel(name string, embed, layers, heads int) error {
	switch name {
	case "", "mlp":
		return nil
	case policy.ModelTransformer:
		if layers < 1 || layers > 64 || heads < 1 || embed%heads != 0 {
			return fmt.Errorf("transformer layers %d heads %d: want 1..64 layers and heads that divide embed %d", layers, heads, embed)
		}
		return nil
	}
	return fmt.Errorf("policy %q: want mlp or transformer", name)
}

// withModel gives spec the network that name (and, for a transformer, layers and
// heads) describe.
func withModel(spec policy.Spec, name string, layers, heads int) policy.Spec {
	if name == policy.ModelTransformer {
		spec.Model, spec.Layers, spec.Heads = policy.ModelTransformer, layers, heads
	}
	return spec
}

// sameTaskShape reports whether a and b read and emit the same tokens, whatever their networks.
func sameTaskShape(a, b policy.Spec) bool {
	return a.Vocab == b.Vocab && a.Actions == b.Actions && a.Context == b.Context
}
