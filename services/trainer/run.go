package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// backends maps --backend to a constructor. The CUDA one registers itself from a file
// built only with -tags cuda, so an untagged binary never links gorgonia.org/cu (whose
// init exits the process on a machine without a GPU).
var backends = map[string]func(spec policy.Spec, st policy.State, cfg Config) (policy.Backend, error){
	"cpu": func(spec policy.Spec, st policy.State, cfg Config) (policy.Backend, error) {
		return policy.NewCPUBackend(spec, st, cfg.Workers)
	},
}

func newBackend(spec policy.Spec, st policy.State, cfg Config) (policy.Backend, error) {
	mk, ok := backends[cfg.Backend]
	if !ok {
		if cfg.Backend == "cuda" {
			return nil, errors.New("backend cuda: this binary was built without -tags cuda")
		}
		return nil, fmt.Errorf("backend %q: want cpu or cuda", cfg.Backend)
	}
	be, err := mk(spec, st, cfg)
	if err != nil {
		return nil, fmt.Errorf("start %s backend: %w", cfg.Backend, err)
	}
	return be, nil
}

// EnsureStreams creates the jobs and results streams, or leaves them be when they
// exist with this configuration. The job worker does the same, so either may start first.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	return mesh.EnsureJobStreams(ctx, js)
}

// trainer is one run in progress.
type trainer struct {
	cfg     Config
	js      jetstream.JetStream
	learner *learner
	ck      *checkpoint // the run's identity and step counters; Policy/RNG/Pending are filled when written
	pending map[string]*group
	tasks   []int           // a cascade stage's tasks, as cascadeTasks indexes
	held    []jetstream.Msg // applied but not yet acknowledged: acked after the next checkpoint
	metrics *metricsLog
	out     io.Writer

	// counters for the step in progress
	stale, duplicates int
}

// Run trains cfg.Task for cfg.Steps GRPO steps with rewards from the mesh on nc,
// writing metrics, a plot and checkpoints to cfg.Out and a progress line per step to
// stdout. Cancelling ctx stops it at once; what it acknowledged is in the last
// checkpoint, and Run with cfg.Resume continues from there.
func Run(ctx context.Context, cfg Config, nc *nats.Conn, stdout io.Writer) (err error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := EnsureStreams(setup, js); err != nil {
		return err
	}
	t := &trainer{cfg: cfg, js: js, pending: map[string]*group{}, out: stdout}
	if err := t.start(); err != nil {
		return err
	}
	if !cfg.Resume {
		if err := runNameUnused(setup, js, t.ck.Run); err != nil {
			t.learner.be.Close()
			return err
		}
	}
	defer t.learner.be.Close()
	if t.metrics, err = openMetrics(cfg.Out, t.ck.Step); err != nil {
		return err
	}
	defer t.metrics.Close()
	defer func() {
		// The plot is a convenience: it is redrawn from metrics.jsonl, even after a failure.
		if lines, perr := readMetrics(t.metrics.f.Name()); perr == nil && len(lines) > 0 {
			title := "sort3 GRPO reward, run " + t.ck.Run
			if cfg.stage != nil {
				title = cfg.stage.title
			}
			if perr := writePlot(cfg.Out, lines, title); perr != nil && err == nil {
				err = perr
			}
		}
	}()
	return t.loop(ctx)
}

// start loads the checkpoint on resume or builds a fresh run.
func (t *trainer) start() error {
	cfg := t.cfg
	ck, err := readCheckpoint(cfg.Out)
	switch {
	case err == nil && !cfg.Resume:
		return fmt.Errorf("%s already holds a run (%s): pass --resume to continue it, or choose another --out", cfg.Out, checkpointFile)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	case err != nil && cfg.Resume:
		return fmt.Errorf("resume: no checkpoint in %s", cfg.Out)
	}
	if ck == nil {
		run := cfg.Run
		if run == "" {
			run = "r" + strconv.FormatUint(rand.Uint64()>>16, 36)
		}
		spec := sort3Spec(cfg.Embed, cfg.Hidden)
		if cfg.stage != nil {
			spec = cfg.stage.layout.spec(cfg.Embed, cfg.Hidden)
		}
		spec = withModel(spec, cfg.Policy, cfg.Layers, cfg.Heads)
		init := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
		ck = &checkpoint{
			Format: checkpointFormat, Run: run, Task: cfg.Task, Spec: spec,
			Prompts: cfg.Prompts, Group: cfg.Group, LR: cfg.LR, Clip: cfg.Clip, Stale: cfg.Staleness,
			Policy: policy.NewState(spec.Init(init)),
		}
		if st := cfg.stage; st != nil {
			if st.init != nil {
				// The stage starts from the last one's parameters; Adam starts afresh.
				ck.Policy = policy.NewState(st.init.Params)
			}
			l := st.layout
			ck.Task, ck.Tasks, ck.Layout, ck.MaxLen, ck.Temperature = "", st.tasks, &l, st.maxLen, st.temperature
			ck.Pool = &promptPool{Filter: st.filter}
		}
		if err := ck.check(); err != nil {
			return fmt.Errorf("start run: %w", err)
		}
	} else if cfg.Run != "" && cfg.Run != ck.Run {
		return fmt.Errorf("resume: checkpoint is of run %q, not %q", ck.Run, cfg.Run)
	}
	be, err := newBackend(ck.Spec, ck.Policy, cfg)
	if err != nil {
		return err
	}
	t.learner = newLearner(be, policy.DefaultAdam(ck.LR), ck.Clip, cfg.Seed)
	if ck.Layout != nil {
		t.learner.layout, t.learner.maxLen, t.learner.temp = *ck.Layout, ck.MaxLen, ck.Temperature
		if t.tasks, err = taskIndexes(ck.Tasks); err != nil {
			be.Close()
			return err
		}
	}
	if ck.RNG != nil {
		if err := t.learner.pcg.UnmarshalBinary(ck.RNG); err != nil {
			be.Close()
			return fmt.Errorf("resume: sampler state: %w", err)
		}
	}
	for _, g := range ck.Pending {
		t.pending[g.JobID] = g
	}
	ck.Policy, ck.Pending = policy.State{}, nil // live copies are in the backend and t.pending
	t.ck = ck
	return nil
}

// loop runs the steps. Each iteration: sample the steps the staleness bound lets run
// ahead, checkpoint (so every published job is in a checkpoint before any result of
// it can be acked), ack what that checkpoint covers, publish, wait for the oldest
// step's rewards, update.
func (t *trainer) loop(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errc, err := t.consume(ctx)
	if err != nil {
		return err
	}
	republish := t.pendingGroups() // a resumed run's jobs may not have reached the stream
	for t.ck.Step < t.cfg.Steps {
		stepStart := time.Now()
		var fresh []*group
		for t.ck.Sampled < t.cfg.Steps && t.ck.Sampled <= t.ck.Step+t.ck.Stale {
			gs, err := t.learner.sample(t.ck.Run, t.ck.Sampled, t.ck.Step, t.draw(), t.ck.Group)
			if err != nil {
				return err
			}
			for _, g := range gs {
				t.pending[g.JobID] = g
			}
			fresh = append(fresh, gs...)
			t.ck.Sampled++
		}
		if err := t.commit(); err != nil {
			return err
		}
		if err := t.publish(ctx, append(republish, fresh...)); err != nil {
			return err
		}
		republish = nil
		waitStart := time.Now()
		if err := t.await(ctx, msgs, errc); err != nil {
			return err
		}
		wait := time.Since(waitStart)
		if err := t.update(stepStart, wait); err != nil {
			return err
		}
	}
	if err := t.commit(); err != nil {
		return err
	}
	// A finished run's consumer would otherwise linger on the server until its
	// inactivity threshold.
	cleanup, cancelCleanup := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelCleanup()
	if err := t.js.DeleteConsumer(cleanup, ResultsStream, t.consumerName()); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete results consumer: %w", err)
	}
	return nil
}

// draw chooses one step's prompts: from the stage's pool in a cascade, else sort3
// prompts at random.
func (t *trainer) draw() []drawn {
	if t.ck.Pool != nil {
		return t.ck.Pool.draw(t.ck.Prompts, t.tasks, t.learner.rng)
	}
	ds := make([]drawn, t.ck.Prompts)
	for i := range ds {
		ds[i] = drawn{Prompt: samplePrompt(t.learner.rng)}
	}
	return ds
}

func (t *trainer) consumerName() string { return "trainer_" + t.ck.Run }

// runNameUnused refuses a fresh run whose name the mesh has seen: its job ids and
// results consumer are named after the run, so a second run of the same name would
// have its jobs dropped as duplicates of the first's and read the first run's
// rewards as its own.
func runNameUnused(ctx context.Context, js jetstream.JetStream, run string) error {
	used := func(what string) error {
		return fmt.Errorf("run %q already has %s on this mesh: choose another --run, or --resume from that run's checkpoint", run, what)
	}
	switch _, err := js.Consumer(ctx, ResultsStream, "trainer_"+run); {
	case err == nil:
		return used("a results consumer (trainer_" + run + ")")
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("check run name: %w", err)
	}
	stream, err := js.Stream(ctx, ResultsStream)
	if err != nil {
		return fmt.Errorf("check run name: %w", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(ResultsPrefix+jobIDTrainerNS+"."+run+".>"))
	if err != nil {
		return fmt.Errorf("check run name: %w", err)
	}
	if n := len(info.State.Subjects); n > 0 {
		return used(fmt.Sprintf("rewards of %d jobs", n))
	}
	return nil
}

// consume starts the durable results consumer and feeds its messages to a channel.
func (t *trainer) consume(ctx context.Context) (<-chan jetstream.Msg, <-chan error, error) {
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	perStep := t.ck.Prompts * t.ck.Group
	cons, err := t.js.CreateOrUpdateConsumer(setup, ResultsStream, jetstream.ConsumerConfig{
		Durable:       t.consumerName(),
		FilterSubject: ResultsPrefix + jobIDTrainerNS + "." + t.ck.Run + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.cfg.AckWait,
		// Acks are held until a checkpoint, so the server must let every result of
		// the steps in flight out at once, or the run would wait on itself.
		MaxAckPending: 2 * perStep * (1 + t.ck.Stale),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// A crashed run's consumer goes away on its own after an hour; a resume
		// after that re-reads the run's results, and the checkpoint drops the ones
		// already applied.
		InactiveThreshold: time.Hour,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create results consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(min(perStep, 1000)))
	if err != nil {
		return nil, nil, fmt.Errorf("consume results: %w", err)
	}
	msgs := make(chan jetstream.Msg, perStep)
	errc := make(chan error, 1)
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					errc <- fmt.Errorf("consume results: %w", err)
				}
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return msgs, errc, nil
}

func (t *trainer) pendingGroups() []*group {
	gs := make([]*group, 0, len(t.pending))
	for _, g := range t.pending {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int { return (a.Step-b.Step)*1_000_000 + (a.Index - b.Index) })
	return gs
}

// commit writes the checkpoint, then acknowledges the results it covers.
func (t *trainer) commit() error {
	st, err := t.learner.be.State()
	if err != nil {
		return fmt.Errorf("checkpoint: read policy: %w", err)
	}
	rng, err := t.learner.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("checkpoint: sampler state: %w", err)
	}
	ck := *t.ck
	ck.Policy, ck.RNG, ck.Pending = st, rng, t.pendingGroups()
	if err := writeCheckpoint(t.cfg.Out, &ck); err != nil {
		return err
	}
	for _, m := range t.held {
		// A lost ack means a redelivery, which apply drops as a duplicate: safe, so
		// no round trip to confirm each one.
		if err := m.Ack(); err != nil {
			return fmt.Errorf("ack result: %w", err)
		}
	}
	t.held = t.held[:0]
	return nil
}

// publish sends one job per group, deduplicated on its id, and waits for the stream
// to have them all.
func (t *trainer) publish(ctx context.Context, groups []*group) error {
	if len(groups) == 0 {
		return nil
	}
	pubCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(groups))
	for _, g := range groups {
		data, err := json.Marshal(t.jobFor(g))
		if err != nil {
			return fmt.Errorf("encode job %s: %w", g.JobID, err)
		}
		msg := &nats.Msg{Subject: JobsSubject, Data: data, Header: nats.Header{headerMsgID: []string{g.JobID}}}
		f, err := t.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish job %s: %w", g.JobID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish job %s: %w", groups[i].JobID, err)
		case <-pubCtx.Done():
			return fmt.Errorf("publish jobs: no stream ack: %w", pubCtx.Err())
		}
	}
	return nil
}

// jobFor is the reward job of a group: one item per response, written out by its
// task for the service that scores it (sort3 alone: math items, the sorted prompt
// as the gold tuple).
func (t *trainer) jobFor(g *group) Job {
	meta, _ := json.Marshal(jobMeta{Run: t.ck.Run, Step: g.Step, Group: g.Index, Version: g.Version})
	return Job{ID: g.JobID, Items: groupItems(g, g.JobID), Meta: meta}
}

// groupItems are the reward items of a group's responses. The group is named only
// where the domain scores a group together: elsewhere it would be part of the
// item's cache key, and the same response to the same prompt, sampled again in
// another step, could not be answered from the mesh's cache.
func groupItems(g *group, groupID string) []reward.Item {
	items := make([]reward.Item, len(g.Responses))
	for j, r := range g.Responses {
		domain, text, ref := cascadeTasks[g.Task].Item(g.Prompt, r)
		items[j] = reward.Item{
			ID:        json.RawMessage(strconv.Itoa(j)),
			Domain:    domain,
			Response:  text,
			Reference: ref,
		}
		if domain.WholeGroup() {
			items[j].Group = groupID
		}
	}
	return items
}

// await applies results until every group of the oldest pending step is complete.
func (t *trainer) await(ctx context.Context, msgs <-chan jetstream.Msg, errc <-chan error) error {
	step := t.ck.Step
	timer := time.NewTimer(t.cfg.RewardTimeout)
	defer timer.Stop()
	for !t.stepComplete(step) {
		select {
		case m := <-msgs:
			t.apply(m)
		case err := <-errc:
			return err
		case <-timer.C:
			have, want := t.stepProgress(step)
			return fmt.Errorf("step %d: %d of %d rewards after %s: is a job worker scoring %s?", step, have, want, t.cfg.RewardTimeout, JobsSubject)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (t *trainer) stepComplete(step int) bool {
	have, want := t.stepProgress(step)
	return have == want
}

func (t *trainer) stepProgress(step int) (have, want int) {
	for _, g := range t.pending {
		if g.Step == step {
			have += g.received()
			want += len(g.Have)
		}
	}
	return have, want
}

// apply stores one result in its group. Every message ends up acked (after the next
// checkpoint) or terminated: a result that cannot be applied now never will be.
func (t *trainer) apply(m jetstream.Msg) {
	r, err := decodeResult(m.Data())
	if err != nil {
		_ = m.Term()
		return
	}
	g, ok := t.pending[r.JobID]
	if !ok {
		// Not pending: its group was trained on already (a redelivery, a job
		// re-scored after a resume, or a result read again by a resumed run's new
		// consumer) or dropped. Either way it must not count again, and no checkpoint
		// needs it, so it is acked now: held, a resume's re-read of every old result
		// would fill MaxAckPending and the run would wait on itself.
		if version, ok := resultVersion(t.ck.Run, r); ok && version < t.ck.Step-t.ck.Stale {
			t.stale++
		} else {
			t.duplicates++
		}
		_ = m.Ack() // a lost ack is a redelivery, dropped again here
		return
	}
	if r.Total != len(g.Have) {
		_ = m.Term()
		return
	}
	t.held = append(t.held, m)
	if g.Have[r.Index] {
		t.duplicates++
		return
	}
	g.Have[r.Index] = true
	if r.Result.Error != nil {
		g.Errors++
		if g.Failed == nil {
			g.Failed = make([]bool, len(g.Have))
		}
		g.Failed[r.Index] = true
		return
	}
	g.Rewards[r.Index] = r.Result.Reward
}

// taskRewards is the mean reward per task over the rewards that came back without error.
func taskRewards(groups []*group) map[string]float64 {
	sum, n := map[string]float64{}, map[string]int{}
	for _, g := range groups {
		name := cascadeTasks[g.Task].Name()
		for j, r := range g.Rewards {
			if g.scored(j) {
				sum[name] += r
				n[name]++
			}
		}
	}
	for name := range sum {
		sum[name] /= float64(n[name])
	}
	return sum
}

// resultVersion is the policy version that sampled a result's response: from the
// job's meta, or failing that its step (the version strictly on-policy).
func resultVersion(run string, r ResultMsg) (int, bool) {
	var meta jobMeta
	if json.Unmarshal(r.Meta, &meta) == nil && meta.Run == run {
		return meta.Version, true
	}
	step, _, err := parseJobID(run, r.JobID)
	return step, err == nil
}

// update trains on the oldest step's groups, logs the step and drops them from pending.
func (t *trainer) update(stepStart time.Time, wait time.Duration) error {
	step := t.ck.Step
	var groups []*group
	for id, g := range t.pending {
		if g.Step == step {
			groups = append(groups, g)
			delete(t.pending, id)
		}
	}
	slices.SortFunc(groups, func(a, b *group) int { return a.Index - b.Index })
	st, err := t.learner.update(groups, step, t.ck.Stale)
	if err != nil {
		return fmt.Errorf("step %d: %w", step, err)
	}
	t.ck.Step++
	tokens := 0
	for _, g := range groups {
		for _, r := range g.Responses {
			tokens += len(r)
		}
		if t.ck.Pool != nil {
			t.ck.Pool.settle(g)
		}
	}
	elapsed := time.Since(stepStart)
	m := Metrics{
		Step: step, MeanReward: st.MeanReward,
		GroupsKept: st.GroupsKept, GroupsFiltered: st.GroupsFiltered, GroupsFailed: st.GroupsFailed,
		StaleDropped: t.stale + st.StaleResults, Duplicates: t.duplicates, ResultsApplied: st.Results,
		Tokens: tokens, LossTokens: st.Tokens, TokensPerS: float64(tokens) / elapsed.Seconds(), Loss: st.Loss,
		StepSeconds: elapsed.Seconds(), RewardWaitS: wait.Seconds(), PolicyVersion: step,
		Backend: t.learner.be.Name(), UnixMillis: time.Now().UnixMilli(),
	}
	if p := t.ck.Pool; p != nil {
		m.Epoch, m.PromptsLeftOut = p.Epoch, p.LeftOut[len(p.LeftOut)-1]
	}
	if len(t.tasks) > 1 {
		m.TaskRewards = taskRewards(groups)
	}
	t.stale, t.duplicates = 0, 0
	if err := t.metrics.append(m); err != nil {
		return err
	}
	if !t.cfg.Quiet {
		fmt.Fprintf(t.out, "step %d/%d reward %.3f kept %d filtered %d failed %d stale %d loss %+.4f tok/s %.0f wait %s\n",
			step+1, t.cfg.Steps, m.MeanReward, m.GroupsKept, m.GroupsFiltered, m.GroupsFailed, m.StaleDropped,
			m.Loss, m.TokensPerS, wait.Round(time.Millisecond))
	}
	return nil
}
