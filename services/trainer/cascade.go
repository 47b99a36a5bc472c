package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// A cascade (Nemotron-Cascade) is GRPO run domain after domain: an ordered list of
// stages, each starting from the last checkpoint of the one before, with its own
// tasks, steps, group size, max response length, temperature, learning rate and
// dynamic filtering. After every stage the policy is evaluated on the eval prompts
// of every task trained so far, so forgetting shows as a stage × task matrix.
const (
	cascadeStateFile = "cascade.json"
	cascadeHTMLFile  = "cascade.html"
	evalNS           = "trainereval" // eval job ids: not under trainer.<run>., so no stage's consumer reads them
	evalAttempts     = 3
)

// CascadeFile is what `rewardmesh train --cascade FILE` reads.
type CascadeFile struct {
	Run  string `json:"run,omitempty"` // generated when empty
	Seed uint64 `json:"seed,omitempty"`
	// Policy is the network every stage trains: "mlp" (the default) or "transformer",
	// with Layers blocks of Heads heads.
	Policy string  `json:"policy,omitempty"`
	Layers int     `json:"layers,omitempty"`
	Heads  int     `json:"heads,omitempty"`
	Embed  int     `json:"embed,omitempty"`
	Hidden int     `json:"hidden,omitempty"`
	Clip   float64 `json:"clip,omitempty"`
	// EvalSamples is responses sampled per eval prompt (temperature 1).
	EvalSamples int     `json:"eval_samples,omitempty"`
	Stages      []Stage `json:"stages"`
}

// Stage is one stage of a cascade.
type Stage struct {
	Name        string   `json:"name"`
	Tasks       []string `json:"tasks"`
	Steps       int      `json:"steps"`
	Prompts     int      `json:"prompts,omitempty"` // per step; default 16
	Group       int      `json:"group,omitempty"`   // G; default 16
	MaxLen      int      `json:"max_len"`           // max response length in tokens; a later stage may extend it
	Temperature float64  `json:"temperature,omitempty"`
	LR          float64  `json:"lr,omitempty"`
	// Filter is AceReason's dynamic filtering: a prompt whose whole group scored
	// all right or all wrong in the last epoch sits the next epoch out.
	Filter bool `json:"filter,omitempty"`
}

// ReadCascade reads and checks a cascade file: JSON, or YAML when its name ends in
// .yaml or .yml.
func ReadCascade(path string) (CascadeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return CascadeFile{}, fmt.Errorf("read cascade: %w", err)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		if data, err = yamlToJSON(data); err != nil {
			return CascadeFile{}, fmt.Errorf("cascade %s: %w", path, err)
		}
	}
	return parseCascade(data)
}

// yamlToJSON turns a YAML cascade into the JSON parseCascade reads, so that both
// spellings go through one strict decoder: an unknown field or a wrong type is
// refused alike, with the field's JSON name.
func yamlToJSON(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("decode YAML: empty document")
	}
	var v any
	if err := doc.Content[0].Decode(&v); err != nil {
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		// A mapping with a non-string key, such as {1: a}, has no JSON spelling.
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	return out, nil
}

func parseCascade(data []byte) (CascadeFile, error) {
	var c CascadeFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decode cascade: %w", err)
	}
	c.fillDefaults()
	return c, c.validate()
}

func (c *CascadeFile) fillDefaults() {
	d := DefaultConfig()
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Embed == 0 {
		c.Embed = d.Embed
	}
	if c.Hidden == 0 {
		c.Hidden = d.Hidden
	}
	if c.Policy == policy.ModelTransformer {
		c.Layers = orDefault(c.Layers, d.Layers)
		c.Heads = orDefault(c.Heads, d.Heads)
	}
	if c.Clip == 0 {
		c.Clip = d.Clip
	}
	if c.EvalSamples == 0 {
		c.EvalSamples = 4
	}
	for i := range c.Stages {
		s := &c.Stages[i]
		if s.Prompts == 0 {
			s.Prompts = d.Prompts
		}
		if s.Group == 0 {
			s.Group = d.Group
		}
		if s.LR == 0 {
			s.LR = d.LR
		}
		if s.Temperature == 0 {
			s.Temperature = 1
		}
	}
}

func (c CascadeFile) validate() error {
	var errs []error
	if len(c.Stages) == 0 || len(c.Stages) > 32 {
		errs = append(errs, fmt.Errorf("cascade: %d stages, want 1..32", len(c.Stages)))
	}
	if c.Run != "" && (!validRunID(c.Run) || len(c.Run) > 60) {
		// Stage i runs as <run>-<i>, itself a run id of at most 64.
		errs = append(errs, fmt.Errorf("cascade run %q: want 1-60 of [A-Za-z0-9_-]", c.Run))
	}
	if c.EvalSamples < 1 || c.EvalSamples > 64 {
		errs = append(errs, fmt.Errorf("eval_samples %d: want 1..64", c.EvalSamples))
	}
	if c.Embed <= 0 || c.Hidden <= 0 || c.Hidden > 4096 || c.Embed > 1024 || c.Clip <= 0 || c.Clip >= 1 {
		errs = append(errs, fmt.Errorf("embed %d hidden %d clip %v out of range", c.Embed, c.Hidden, c.Clip))
	}
	if err := checkModel(c.Policy, c.Embed, c.Layers, c.Heads); err != nil {
		errs = append(errs, err)
	}
	for i, s := range c.Stages {
		where := fmt.Sprintf("stage %d (%s)", i+1, s.Name)
		if s.Name == "" || !validRunID(s.Name) || len(s.Name) > 32 {
			errs = append(errs, fmt.Errorf("%s: name: want 1-32 of [A-Za-z0-9_-]", where))
		}
		if len(s.Tasks) == 0 {
			errs = append(errs, fmt.Errorf("%s: no tasks (one of %v)", where, TaskNames()))
		}
		if s.MaxLen < 1 || s.MaxLen > 32 {
			errs = append(errs, fmt.Errorf("%s: max_len %d: want 1..32", where, s.MaxLen))
		}
		for j, n := range s.Tasks {
			if slices.Contains(s.Tasks[:j], n) {
				errs = append(errs, fmt.Errorf("%s: task %s named twice", where, n))
			}
			if _, tk, ok := lookupTask(n); !ok {
				errs = append(errs, fmt.Errorf("%s: task %q: want one of %v", where, n, TaskNames()))
			} else if tk.ResponseLen(s.MaxLen) == 0 {
				errs = append(errs, fmt.Errorf("%s: task %s's responses do not fit max_len %d", where, n, s.MaxLen))
			}
		}
		if s.Steps <= 0 || s.Prompts <= 0 || s.Prompts > 4096 || s.Group < 2 || s.Group > 1024 {
			errs = append(errs, fmt.Errorf("%s: steps %d prompts %d group %d: want steps > 0, prompts 1..4096, group 2..1024", where, s.Steps, s.Prompts, s.Group))
		}
		if s.LR <= 0 || s.LR > 1 || s.Temperature <= 0 || s.Temperature > 10 {
			errs = append(errs, fmt.Errorf("%s: lr %v temperature %v: want (0, 1] and (0, 10]", where, s.LR, s.Temperature))
		}
	}
	return errors.Join(errs...)
}

// layout is the one network layout every stage shares: the longest max_len sets
// the response slots, so a later stage may extend the length the first trained at.
func (c CascadeFile) layout() layout {
	longest := 1
	for _, s := range c.Stages {
		longest = max(longest, s.MaxLen)
	}
	return layout{TaskToken: true, PromptSlots: maxPromptLen(), ResponseSlots: longest - 1}
}

// CascadeConfig is a cascade run: the file's stages and where and how to run them.
type CascadeConfig struct {
	File          string
	Out           string
	Resume        bool
	Backend       string
	Quiet         bool
	RewardTimeout time.Duration
	AckWait       time.Duration
}

// CascadeFromFlags is the cascade that `train --cascade FILE` flags describe.
func CascadeFromFlags(cfg Config) CascadeConfig {
	d := DefaultConfig()
	return CascadeConfig{File: cfg.Cascade, Out: cfg.Out, Resume: cfg.Resume, Backend: orDefault(cfg.Backend, d.Backend),
		Quiet: cfg.Quiet, RewardTimeout: orDefault(cfg.RewardTimeout, d.RewardTimeout), AckWait: orDefault(cfg.AckWait, d.AckWait)}
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// HoldsCascade reports whether dir holds a cascade, which `train --resume --out DIR`
// continues without naming its file again.
func HoldsCascade(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, cascadeStateFile))
	return dir != "" && err == nil
}

// Services are the mesh services that score a cascade's tasks (for a CLI that
// embeds the mesh): the file's, or on resume the cascade.json's.
func (cfg CascadeConfig) Services() ([]string, error) {
	var c CascadeFile
	if data, err := os.ReadFile(filepath.Join(cfg.Out, cascadeStateFile)); err == nil && cfg.Resume {
		var st CascadeState
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("resume cascade: %w", err)
		}
		c = st.Cascade
	} else if c, err = ReadCascade(cfg.File); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range c.Stages {
		for _, n := range s.Tasks {
			_, tk, ok := lookupTask(n)
			if !ok {
				return nil, fmt.Errorf("task %q: want one of %v", n, TaskNames())
			}
			domain, _, _ := tk.Item(tk.Space()[0], make([]int32, tk.ResponseLen(s.MaxLen)))
			svc := map[string]string{"math": "math", "code": "sandbox", "if": "rm"}[string(domain)]
			if !seen[svc] {
				seen[svc] = true
				out = append(out, svc)
			}
		}
	}
	return out, nil
}

// CascadeState is DIR/cascade.json: the cascade as read (a resume goes on with it,
// not with the file), how far it got, and the eval matrix.
type CascadeState struct {
	Cascade CascadeFile   `json:"cascade"`
	Stages  []StageReport `json:"stages"` // one per finished stage
	Matrix  EvalMatrix    `json:"matrix"`
}

// StageReport is one finished stage.
type StageReport struct {
	Name  string   `json:"name"`
	Tasks []string `json:"tasks"`
	Dir   string   `json:"dir"`
	Steps int      `json:"steps"`
	// Mean training reward over the first and the last tenth of the stage's steps.
	FirstReward float64 `json:"first_reward"`
	LastReward  float64 `json:"last_reward"`
	Epochs      int     `json:"epochs"`
	// PromptsLeftOut is, per epoch, the prompts dynamic filtering kept out of it.
	PromptsLeftOut []int `json:"prompts_left_out"`
}

// EvalMatrix is Nemotron-Cascade's figure 1 as numbers: after each stage (a row),
// the mean reward on each task's eval prompts (a column); a task not trained yet is absent.
type EvalMatrix struct {
	Tasks []string  `json:"tasks"`
	Rows  []EvalRow `json:"rows"`
}

// EvalRow is the evaluation after one stage.
type EvalRow struct {
	Stage  string              `json:"stage"`
	Scores map[string]*float64 `json:"scores"` // task → mean reward; absent: not trained yet
	N      map[string]int      `json:"n"`      // task → responses scored
}

// RunCascade runs (or, with Resume, continues) a cascade over the mesh on nc.
func RunCascade(ctx context.Context, cfg CascadeConfig, nc *nats.Conn, stdout io.Writer) error {
	if cfg.Out == "" {
		return errors.New("cascade: --out is required")
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	statePath := filepath.Join(cfg.Out, cascadeStateFile)
	var st CascadeState
	data, err := os.ReadFile(statePath)
	switch {
	case err == nil && !cfg.Resume:
		return fmt.Errorf("%s already holds a cascade (%s): pass --resume to continue it, or choose another --out", cfg.Out, cascadeStateFile)
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("resume cascade: %w", err)
		}
		st.Cascade.fillDefaults()
		if err := st.Cascade.validate(); err != nil {
			return fmt.Errorf("resume cascade: %w", err)
		}
		if len(st.Stages) > len(st.Cascade.Stages) {
			return fmt.Errorf("resume cascade: %d stages finished of %d", len(st.Stages), len(st.Cascade.Stages))
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read cascade state: %w", err)
	case cfg.Resume:
		return fmt.Errorf("resume: no %s in %s", cascadeStateFile, cfg.Out)
	default:
		if st.Cascade, err = ReadCascade(cfg.File); err != nil {
			return err
		}
		if st.Cascade.Run == "" {
			st.Cascade.Run = "c" + strconv.FormatUint(rand.Uint64()>>16, 36)
		}
		if err := writeCascadeState(cfg.Out, &st); err != nil {
			return err
		}
	}
	c := st.Cascade
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for i := len(st.Stages); i < len(c.Stages); i++ {
		s := c.Stages[i]
		dir := fmt.Sprintf("stage%d-%s", i+1, s.Name)
		var init *policy.State
		if i > 0 {
			prev, err := readCheckpoint(filepath.Join(cfg.Out, st.Stages[i-1].Dir))
			if err != nil {
				return fmt.Errorf("stage %d starts from stage %d's checkpoint: %w", i+1, i, err)
			}
			init = &prev.Policy
		}
		rc := Config{
			Steps: s.Steps, Backend: cfg.Backend, Out: filepath.Join(cfg.Out, dir),
			Run: fmt.Sprintf("%s-%d", c.Run, i+1), Prompts: s.Prompts, Group: s.Group, LR: s.LR, Clip: c.Clip,
			Seed: c.Seed + uint64(i), Policy: c.Policy, Embed: c.Embed, Hidden: c.Hidden, Layers: c.Layers, Heads: c.Heads,
			RewardTimeout: cfg.RewardTimeout, AckWait: cfg.AckWait, Quiet: cfg.Quiet,
			stage: &stageSetup{tasks: s.Tasks, maxLen: s.MaxLen, temperature: s.Temperature, filter: s.Filter,
				layout: c.layout(), init: init, title: fmt.Sprintf("cascade %s, stage %d (%s): GRPO reward", c.Run, i+1, s.Name)},
		}
		if _, err := os.Stat(filepath.Join(rc.Out, checkpointFile)); err == nil {
			rc.Resume = true // killed mid-stage: the stage resumes at its step
		} else if err := dropUnusedConsumer(ctx, js, rc.Run); err != nil {
			return fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err)
		}
		fmt.Fprintf(stdout, "cascade %s: stage %d/%d %s (%s), %d steps\n", c.Run, i+1, len(c.Stages), s.Name, strings.Join(s.Tasks, ", "), s.Steps)
		if err := Run(ctx, rc, nc, stdout); err != nil {
			return fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err)
		}
		report, err := stageReport(rc.Out, dir, s)
		if err != nil {
			return err
		}
		row, err := evaluate(ctx, js, cfg, c, i, rc.Out)
		if err != nil {
			return fmt.Errorf("stage %d (%s): eval: %w", i+1, s.Name, err)
		}
		st.Stages = append(st.Stages, report)
		st.Matrix.Tasks = trainedTasks(c, len(c.Stages)-1)
		st.Matrix.Rows = append(st.Matrix.Rows, row)
		if err := writeCascadeState(cfg.Out, &st); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cascade %s: after stage %d (%s): %s; prompts left out per epoch %v\n", c.Run, i+1, s.Name, row, report.PromptsLeftOut)
	}
	return nil
}

// dropUnusedConsumer deletes the results consumer of a stage that was killed before
// its first checkpoint. A run publishes no job before a checkpoint holds it, so that
// consumer has read nothing, and without this the stage, whose run id the cascade
// fixes, could never start again: a fresh run refuses a name the mesh has seen.
func dropUnusedConsumer(ctx context.Context, js jetstream.JetStream, run string) error {
	del, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := js.DeleteConsumer(del, ResultsStream, "trainer_"+run)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("remove the results consumer of a stage killed before its first checkpoint: %w", err)
	}
	return nil
}

func (r EvalRow) String() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(r.Scores)) {
		parts = append(parts, fmt.Sprintf("%s %.3f", t, *r.Scores[t]))
	}
	return "eval " + strings.Join(parts, ", ")
}

// trainedTasks are the tasks of stages 0..last, in the order they first appear.
func trainedTasks(c CascadeFile, last int) []string {
	var out []string
	for _, s := range c.Stages[:last+1] {
		for _, t := range s.Tasks {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

func stageReport(out, dir string, s Stage) (StageReport, error) {
	lines, err := readMetrics(filepath.Join(out, metricsFile))
	if err != nil {
		return StageReport{}, err
	}
	ck, err := readCheckpoint(out)
	if err != nil {
		return StageReport{}, err
	}
	r := StageReport{Name: s.Name, Tasks: s.Tasks, Dir: dir, Steps: len(lines)}
	if n := max(1, len(lines)/10); len(lines) > 0 {
		r.FirstReward, r.LastReward = meanOf(lines[:n]), meanOf(lines[len(lines)-n:])
	}
	if ck.Pool != nil {
		r.Epochs, r.PromptsLeftOut = ck.Pool.Epoch, ck.Pool.LeftOut
	}
	return r, nil
}

func meanOf(lines []Metrics) float64 {
	var s float64
	for _, m := range lines {
		s += m.MeanReward
	}
	return s / float64(len(lines))
}

// evaluate samples EvalSamples responses to every eval prompt of every task trained
// up to stage k from stage k's final policy, has the mesh score them, and averages
// per task. A result that comes back as an error is the mesh failing, not a 0: its
// job is published again under a new id, and an eval still failing after
// evalAttempts fails the cascade.
func evaluate(ctx context.Context, js jetstream.JetStream, cfg CascadeConfig, c CascadeFile, k int, stageOut string) (EvalRow, error) {
	ck, err := readCheckpoint(stageOut)
	if err != nil {
		return EvalRow{}, err
	}
	be, err := newBackend(ck.Spec, ck.Policy, Config{Backend: cfg.Backend})
	if err != nil {
		return EvalRow{}, err
	}
	defer be.Close()
	row := EvalRow{Stage: c.Stages[k].Name, Scores: map[string]*float64{}, N: map[string]int{}}
	for _, name := range trainedTasks(c, k) {
		ti, tk, _ := lookupTask(name)
		l := newLearner(be, policy.Adam{}, c.Clip, c.Seed^uint64(0xe7a1+k*64+ti))
		l.layout = c.layout()
		// Each task is evaluated at the max length of the latest stage that trained it.
		for _, s := range c.Stages[:k+1] {
			if slices.Contains(s.Tasks, name) {
				l.maxLen = s.MaxLen
			}
		}
		var prompts []drawn
		for _, p := range tk.Eval() {
			prompts = append(prompts, drawn{Task: ti, Prompt: p})
		}
		groups, err := l.sample("eval", 0, 0, prompts, c.EvalSamples)
		if err != nil {
			return EvalRow{}, err
		}
		base := fmt.Sprintf("%s.%s.%d.%s", evalNS, c.Run, k+1, name)
		rewards, err := scoreOnMesh(ctx, js, base, groups, cfg.RewardTimeout)
		if err != nil {
			return EvalRow{}, fmt.Errorf("task %s: %w", name, err)
		}
		var sum float64
		for _, r := range rewards {
			sum += r
		}
		mean := sum / float64(len(rewards))
		row.Scores[name], row.N[name] = &mean, len(rewards)
	}
	return row, nil
}

// scoreOnMesh publishes one job per group and reads every item's reward from the
// results stream. Jobs with an item that came back as an error are published again.
func scoreOnMesh(ctx context.Context, js jetstream.JetStream, base string, groups []*group, timeout time.Duration) ([]float64, error) {
	todo := groups
	var rewards []float64
	for attempt := 1; len(todo) > 0; attempt++ {
		if attempt > evalAttempts {
			return nil, fmt.Errorf("%d groups still have errors after %d attempts", len(todo), evalAttempts)
		}
		prefix := fmt.Sprintf("%s.a%d", base, attempt)
		ids := make(map[string]*group, len(todo))
		for _, g := range todo {
			id := fmt.Sprintf("%s.%d", prefix, g.Index)
			ids[id] = g
			data, err := json.Marshal(Job{ID: id, Items: groupItems(g, id)})
			if err != nil {
				return nil, err
			}
			pub, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err = js.PublishMsg(pub, &nats.Msg{Subject: JobsSubject, Data: data, Header: nats.Header{headerMsgID: []string{id}}})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("publish eval job %s: %w", id, err)
			}
		}
		failed, err := collect(ctx, js, prefix, ids, timeout)
		if err != nil {
			return nil, err
		}
		todo = todo[:0:0]
		for id, g := range ids {
			if failed[id] {
				clear(g.Have) // scored again in full: a group's rewards come from one job
				clear(g.Rewards)
				todo = append(todo, g)
				continue
			}
			rewards = append(rewards, g.Rewards...)
		}
	}
	return rewards, nil
}

// collect fills the groups' rewards from the results of the jobs under prefix and
// says which jobs had an item come back as an error.
func collect(ctx context.Context, js jetstream.JetStream, prefix string, ids map[string]*group, timeout time.Duration) (map[string]bool, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A plain consumer, not an ordered one: an ordered consumer makes its
	// consumer again on every read, retrying without end and without a
	// deadline while the stream has no leader (how GET /v1/jobs/{id} hung).
	cons, err := js.CreateConsumer(cctx, ResultsStream, jetstream.ConsumerConfig{
		FilterSubject:     ResultSubject(prefix + ".>"),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 5 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("read eval results: %w", err)
	}
	defer func() {
		// Not left on the server until its inactivity threshold.
		if name := cons.CachedInfo().Name; name != "" {
			del, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = js.DeleteConsumer(del, ResultsStream, name)
			cancel()
		}
	}()
	want := 0
	for _, g := range ids {
		want += len(g.Have)
	}
	failed := map[string]bool{}
	for have := 0; have < want; {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Until(deadlineOf(cctx))))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if cctx.Err() != nil || errors.Is(err, nats.ErrTimeout) {
				return nil, fmt.Errorf("eval: %d of %d rewards after %s: is a job worker scoring %s?", have, want, timeout, JobsSubject)
			}
			return nil, fmt.Errorf("read eval results: %w", err)
		}
		r, err := decodeResult(msg.Data())
		if err != nil {
			continue
		}
		g, ok := ids[r.JobID]
		if !ok || r.Total != len(g.Have) || g.Have[r.Index] {
			continue
		}
		g.Have[r.Index] = true
		have++
		if r.Result.Error != nil || math.IsNaN(r.Result.Reward) {
			failed[r.JobID] = true
			continue
		}
		g.Rewards[r.Index] = r.Result.Reward
	}
	return failed, nil
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func writeCascadeState(dir string, st *CascadeState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cascade state: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, cascadeStateFile), append(data, '\n')); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, cascadeHTMLFile), []byte(cascadeHTML(st)))
}

// cascadeHTML is the matrix as a table, shaded by score, with each stage's
// training summary and a link to its reward curve.
func cascadeHTML(st *CascadeState) string {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!doctype html><meta charset=utf-8><title>cascade %s</title>\n", esc(st.Cascade.Run))
	b.WriteString("<style>body{font:14px sans-serif;margin:2em}td,th{padding:.4em .8em;text-align:right;border:1px solid #ccc}table{border-collapse:collapse;margin-bottom:2em}</style>\n")
	fmt.Fprintf(&b, "<h1>cascade %s</h1>\n<h2>eval reward after each stage (rows) on each task (columns)</h2>\n<table><tr><th>after stage</th>", esc(st.Cascade.Run))
	for _, t := range st.Matrix.Tasks {
		fmt.Fprintf(&b, "<th>%s</th>", esc(t))
	}
	b.WriteString("</tr>\n")
	for _, r := range st.Matrix.Rows {
		fmt.Fprintf(&b, "<tr><th>%s</th>", esc(r.Stage))
		for _, t := range st.Matrix.Tasks {
			if v := r.Scores[t]; v != nil {
				fmt.Fprintf(&b, `<td style="background:hsl(%d,70%%,80%%)">%.3f</td>`, int(120**v), *v)
			} else {
				b.WriteString("<td>–</td>")
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n<h2>stages</h2>\n<table><tr><th>stage</th><th>tasks</th><th>steps</th><th>reward, first tenth</th><th>reward, last tenth</th><th>epochs</th><th>prompts left out per epoch</th><th>curve</th></tr>\n")
	for _, s := range st.Stages {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%d</td><td>%v</td><td><a href=\"%s/%s\">reward</a></td></tr>\n",
			esc(s.Name), esc(strings.Join(s.Tasks, ", ")), s.Steps, s.FirstReward, s.LastReward, s.Epochs, s.PromptsLeftOut, esc(s.Dir), plotFile)
	}
	b.WriteString("</table>\n")
	return b.String()
}
