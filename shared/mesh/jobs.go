package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The asynchronous job protocol. A job is published once to the work-queue stream;
// a worker scores its items and publishes each item's result, as it completes, to
// the results stream on ResultsSubject(job id); the job's state lives in a KV
// bucket. api/subjects.md documents it for consumers in other languages.
const (
	JobsStream     = "REWARDMESH_JOBS"
	SubmitSubject  = "rewardmesh.jobs." + Version + ".submit"
	ResultsStream  = "REWARDMESH_RESULTS"
	resultsPrefix  = "rewardmesh.jobs." + Version + ".results."
	JobStateBucket = "rewardmesh_jobs"
	jobsConsumer   = "rewardmesh-jobs-worker"
	jobRetention   = 24 * time.Hour
)

// ResultsSubject is the subject a job's item results are published on.
func ResultsSubject(jobID string) string { return resultsPrefix + jobID }

// Job is the message on SubmitSubject.
type Job struct {
	ID    string          `json:"job_id"`
	Items []reward.Item   `json:"items"`
	Meta  json.RawMessage `json:"meta,omitempty"` // echoed in every result message
	// Rejected are items that failed on their own before scoring (one that did not
	// decode), by index: each is answered with its error, and its batch goes on.
	Rejected map[int]*reward.Error `json:"rejected,omitempty"`
}

// ResultMsg is one item's result on ResultsSubject(job id).
type ResultMsg struct {
	JobID  string          `json:"job_id"`
	Index  int             `json:"index"`
	Total  int             `json:"total"`
	Result reward.Result   `json:"result"`
	Meta   json.RawMessage `json:"meta,omitempty"`
}

// JobView is what GET /v1/jobs/{id} answers: the job's state and the results
// that have arrived so far, in item order.
type JobView struct {
	reward.Job
	Done int `json:"done"`
	// Results holds one entry per item, in item order, as /v1/rewards answers; an
	// item not scored yet is null.
	Results []*reward.Result `json:"results"`
}

var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ValidJobID reports whether id can name a job: tokens of [A-Za-z0-9_-] joined by dots.
func ValidJobID(id string) bool { return len(id) <= 200 && jobIDPattern.MatchString(id) }

// JobsStreamConfig and ResultsStreamConfig are the streams' one configuration:
// every party creates them idempotently with exactly this, since JetStream refuses
// an update that changes a stream's retention.
func JobsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      JobsStream,
		Subjects:  []string{SubmitSubject},
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    jobRetention,
	}
}

func ResultsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       ResultsStream,
		Subjects:   []string{resultsPrefix + ">"},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     jobRetention,
		Duplicates: 10 * time.Minute,
	}
}

// EnsureJobStreams creates or updates the job streams.
func EnsureJobStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range []jetstream.StreamConfig{JobsStreamConfig(), ResultsStreamConfig()} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// Jobs submits, reads and works asynchronous jobs.
type Jobs struct {
	// AckWait is how long a job may go without a sign of life from its worker
	// before JetStream gives it to another (default 30s; a running job sends one
	// every AckWait/3).
	AckWait time.Duration
	// MaxDeliver bounds how often a job is tried (default 10). The last try
	// publishes an error for every item still unanswered, so a job always ends
	// with one result per item.
	MaxDeliver int

	js       jetstream.JetStream
	kv       jetstream.KeyValue
	payloads *payloads
	log      *slog.Logger
}

// NewJobs creates the streams and the state bucket if they are missing.
func NewJobs(ctx context.Context, nc *nats.Conn, log *slog.Logger) (*Jobs, error) {
	if log == nil {
		log = slog.Default()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := EnsureJobStreams(ctx, js); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      JobStateBucket,
		Description: "rewardmesh asynchronous job states",
		TTL:         jobRetention,
	})
	if err != nil {
		return nil, fmt.Errorf("create kv %s: %w", JobStateBucket, err)
	}
	return &Jobs{js: js, kv: kv, payloads: newPayloads(nc), log: log}, nil
}

// Submit records the job as queued and publishes it. A job larger than a NATS
// message travels through the object store.
func (j *Jobs) Submit(ctx context.Context, job Job) error {
	if !ValidJobID(job.ID) {
		return reward.Errorf(reward.Invalid, "job_id %q: use tokens of [A-Za-z0-9_-] joined by dots", job.ID)
	}
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	state := reward.Job{ID: job.ID, State: reward.JobQueued, Created: time.Now().UTC(), Total: len(job.Items)}
	if err := j.putState(ctx, state); err != nil {
		return err
	}
	msg := nats.NewMsg(SubmitSubject)
	msg.Header.Set(jetstream.MsgIDHeader, job.ID)
	if j.payloads.fits(len(body)) {
		msg.Data = body
	} else {
		name, err := j.payloads.put(ctx, body)
		if err != nil {
			return reward.Errorf(reward.TooLarge, "job of %d bytes: %v", len(body), err)
		}
		msg.Header.Set(headerObject, name)
	}
	if _, err := j.js.PublishMsg(ctx, msg); err != nil {
		return reward.Errorf(reward.Unavailable, "publish job: %v", err)
	}
	return nil
}

func (j *Jobs) putState(ctx context.Context, state reward.Job) error {
	b, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode job state: %w", err)
	}
	if _, err := j.kv.Put(ctx, state.ID, b); err != nil {
		return reward.Errorf(reward.Unavailable, "store job state: %v", err)
	}
	return nil
}

// Get returns the job's state and the results published so far.
func (j *Jobs) Get(ctx context.Context, id string) (JobView, error) {
	if !ValidJobID(id) {
		return JobView{}, reward.Errorf(reward.Invalid, "job_id %q is not a valid job id", id)
	}
	entry, err := j.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return JobView{}, reward.Errorf(reward.NotFound, "no job %s", id)
	}
	if err != nil {
		return JobView{}, reward.Errorf(reward.Unavailable, "read job state: %v", err)
	}
	var view JobView
	if err := json.Unmarshal(entry.Value(), &view.Job); err != nil {
		return JobView{}, fmt.Errorf("decode job state: %w", err)
	}
	msgs, err := j.Results(ctx, id)
	if err != nil {
		return JobView{}, err
	}
	view.Done = len(msgs)
	view.Results = make([]*reward.Result, view.Total)
	for _, m := range msgs {
		if m.Index >= 0 && m.Index < len(view.Results) {
			view.Results[m.Index] = &m.Result
		}
	}
	return view, nil
}

// Results reads every result published for the job so far, in item order, one
// per index.
func (j *Jobs) Results(ctx context.Context, id string) ([]ResultMsg, error) {
	cons, err := j.js.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ResultsSubject(id)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// A backstop: the consumer is deleted below, and a reader that died
		// before that must not leave it on the server for long.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, reward.Errorf(reward.Unavailable, "read results: %v", err)
	}
	defer func() {
		if name := cons.CachedInfo().Name; name != "" {
			_ = j.js.DeleteConsumer(context.WithoutCancel(ctx), ResultsStream, name)
		}
	}()
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, reward.Errorf(reward.Unavailable, "read results: %v", err)
	}
	pending := int(info.NumPending)
	byIndex := make(map[int]ResultMsg, pending)
	for got := 0; got < pending; {
		batch, err := cons.Fetch(min(pending-got, 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, reward.Errorf(reward.Unavailable, "read results: %v", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			var rm ResultMsg
			if err := json.Unmarshal(msg.Data(), &rm); err == nil {
				byIndex[rm.Index] = rm
			}
		}
		if err := batch.Error(); err != nil && n == 0 {
			return nil, reward.Errorf(reward.Unavailable, "read results: %v", err)
		}
		if n == 0 {
			break
		}
		got += n
	}
	out := make([]ResultMsg, 0, len(byIndex))
	for _, m := range byIndex {
		out = append(out, m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, nil
}

func (j *Jobs) maxDeliver() int {
	if j.MaxDeliver > 0 {
		return j.MaxDeliver
	}
	return 10
}

func (j *Jobs) ackWait() time.Duration {
	if j.AckWait > 0 {
		return j.AckWait
	}
	return 30 * time.Second
}

// Scorer scores items and calls emit once per item, as each result is ready, from
// any goroutine.
type Scorer func(ctx context.Context, items []reward.Item, emit func(index int, r reward.Result))

// Work takes jobs from the stream until ctx ends, at most concurrency at once.
// Every replica that calls Work shares the same durable consumer. A job is acked
// only when all its results are published; a job redelivered after a crash skips
// the items whose results are already in the stream. A consumer that goes away
// (deleted, its stream recreated) is made again, and the work goes on.
func (j *Jobs) Work(ctx context.Context, score Scorer, concurrency int) error {
	if concurrency <= 0 {
		concurrency = 16
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		cons, err := j.js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
			Durable:       jobsConsumer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       j.ackWait(),
			MaxDeliver:    j.maxDeliver(),
			MaxAckPending: 1024,
		})
		if err == nil {
			backoff = 100 * time.Millisecond
			err = j.take(ctx, cons, sem, &wg, score)
		}
		if ctx.Err() != nil {
			break
		}
		j.log.Warn("jobs: cannot read the jobs consumer; making it again", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		case <-ctx.Done():
		}
	}
	return nil
}

// take starts jobs from cons as slots free up, until ctx ends or the consumer fails.
// A slot is taken before a message: a job taken from the stream starts at once, so
// it never waits in this process past its AckWait and gets worked twice.
func (j *Jobs) take(ctx context.Context, cons jetstream.Consumer, sem chan struct{}, wg *sync.WaitGroup, score Scorer) error {
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := nextJob(ctx, cons)
		if msg == nil {
			<-sem
			if err != nil {
				return err
			}
			continue // no job within the wait, or ctx ended
		}
		wg.Go(func() {
			defer func() { <-sem }()
			j.run(ctx, msg, score)
		})
	}
}

// nextJob waits up to a few seconds for one job. It returns nil and no error when
// none came or ctx ended, and an error when the consumer cannot be read.
func nextJob(ctx context.Context, cons jetstream.Consumer) (jetstream.Msg, error) {
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
	if err != nil {
		return nil, fmt.Errorf("fetch a job: %w", err)
	}
	select {
	case msg, ok := <-batch.Messages():
		if ok {
			return msg, nil
		}
	case <-ctx.Done():
		return nil, nil // a job delivered now is redelivered after its AckWait
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return nil, fmt.Errorf("fetch a job: %w", err)
	}
	return nil, nil
}

func (j *Jobs) run(ctx context.Context, msg jetstream.Msg, score Scorer) {
	// Tell JetStream the job is alive while it runs, so a long job is not
	// redelivered to another worker; a dead worker stops these and the job moves.
	_ = msg.InProgress()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(j.ackWait() / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-stop:
				return
			}
		}
	}()
	last := false
	if meta, err := msg.Metadata(); err == nil {
		last = meta.NumDelivered >= uint64(j.maxDeliver())
	}
	// retryLater hands the job back for another try, or, on the last one, ends it.
	retryLater := func(job *Job, why string) {
		if ctx.Err() != nil {
			return // a worker that is stopping leaves the job to be redelivered after AckWait
		}
		if !last {
			_ = msg.NakWithDelay(time.Second)
			return
		}
		if job != nil && j.finishWithErrors(ctx, *job, why) == nil {
			_ = msg.Ack()
			return
		}
		j.log.Error("jobs: job dropped after its last try", "tries", j.maxDeliver(), "why", why)
		_ = msg.Term()
	}

	body := msg.Data()
	object := ""
	if msg.Headers() != nil {
		object = msg.Headers().Get(headerObject)
	}
	if object != "" {
		store, err := j.payloads.bucket(ctx)
		if err == nil {
			body, err = store.GetBytes(ctx, object)
		}
		if err != nil {
			j.log.Error("jobs: fetch job body", "object", object, "err", err)
			retryLater(nil, "fetch the job's body: "+err.Error())
			return
		}
	}
	var job Job
	if err := json.Unmarshal(body, &job); err != nil || !ValidJobID(job.ID) {
		j.log.Error("jobs: undecodable job dropped", "err", err)
		_ = msg.Term()
		return
	}
	// A redelivered job (its worker died) skips what was already answered. A
	// first delivery has nothing to skip, and reading back costs a consumer.
	skip := map[int]bool{}
	if meta, err := msg.Metadata(); err == nil && meta.NumDelivered > 1 {
		done, err := j.Results(ctx, job.ID)
		if err != nil {
			retryLater(&job, "read back the job's results: "+err.Error())
			return
		}
		for _, d := range done {
			skip[d.Index] = true
		}
	}
	state := reward.Job{ID: job.ID, State: reward.JobRunning, Total: len(job.Items), Created: time.Now().UTC()}
	if entry, err := j.kv.Get(ctx, job.ID); err == nil {
		_ = json.Unmarshal(entry.Value(), &state)
		state.State = reward.JobRunning
	}
	_ = j.putState(ctx, state)

	// A reward-model group is normalized over the members scored together, so an
	// unanswered member is scored with its whole group; only its result is published.
	unanswered := map[string]bool{}
	for i, item := range job.Items {
		if g := item.NormalizedGroup(); g != "" && !skip[i] {
			unanswered[g] = true
		}
	}
	var mu sync.Mutex
	var publishErr error
	var published int
	publish := func(index int, r reward.Result) {
		err := j.publishResult(ctx, job, index, r)
		mu.Lock()
		if err != nil {
			publishErr = errors.Join(publishErr, err)
		} else {
			published++
		}
		mu.Unlock()
	}
	var todo []reward.Item
	var todoIndex []int
	want := 0
	for i, item := range job.Items {
		if skip[i] {
			if unanswered[item.NormalizedGroup()] {
				todo = append(todo, item)
				todoIndex = append(todoIndex, i)
			}
			continue
		}
		want++
		if e := job.Rejected[i]; e != nil {
			publish(i, reward.Result{ID: item.ID, Domain: item.Domain, Error: e})
			continue
		}
		todo = append(todo, item)
		todoIndex = append(todoIndex, i)
	}
	if want > 0 {
		score(ctx, todo, func(k int, r reward.Result) {
			if i := todoIndex[k]; !skip[i] {
				publish(i, r)
			}
		})
	}
	if publishErr == nil && published < want {
		publishErr = fmt.Errorf("%d of %d results published before the worker stopped", published, want)
	}
	if publishErr != nil {
		j.log.Warn("jobs: some results not published; job will be tried again", "job", job.ID, "err", publishErr, "last_try", last)
		retryLater(&job, publishErr.Error())
		return
	}
	state.State = reward.JobDone
	state.Finished = time.Now().UTC()
	_ = j.putState(ctx, state)
	if err := msg.DoubleAck(ctx); err != nil {
		j.log.Warn("jobs: ack", "job", job.ID, "err", err)
	}
	if object != "" {
		if store, err := j.payloads.bucket(ctx); err == nil {
			_ = store.Delete(context.WithoutCancel(ctx), object)
		}
	}
}

// publishResult publishes one item's result, de-duplicated on job and index. A
// result too large for a message (an enormous id or details) is replaced by an
// error that says so, without them: the item is answered either way.
func (j *Jobs) publishResult(ctx context.Context, job Job, index int, r reward.Result) error {
	b, _ := json.Marshal(ResultMsg{JobID: job.ID, Index: index, Total: len(job.Items), Result: r, Meta: job.Meta})
	if limit := j.maxPayload(); limit > 0 && int64(len(b)) > limit-4096 {
		small := reward.Result{Domain: r.Domain, Error: reward.Errorf(reward.TooLarge,
			"the result of %d bytes (its id and details) is over the server's message limit of %d bytes", len(b), limit)}
		b, _ = json.Marshal(ResultMsg{JobID: job.ID, Index: index, Total: len(job.Items), Result: small})
	}
	out := nats.NewMsg(ResultsSubject(job.ID))
	out.Data = b
	out.Header.Set(jetstream.MsgIDHeader, job.ID+"/"+strconv.Itoa(index))
	_, err := j.js.PublishMsg(ctx, out)
	return err
}

func (j *Jobs) maxPayload() int64 {
	if nc := j.js.Conn(); nc != nil {
		return nc.MaxPayload()
	}
	return 0
}

// finishWithErrors ends a job on its last try: every item without a result gets an
// error result saying why, and the job is done.
func (j *Jobs) finishWithErrors(ctx context.Context, job Job, why string) error {
	done, err := j.Results(ctx, job.ID)
	if err != nil {
		return err
	}
	answered := map[int]bool{}
	for _, d := range done {
		answered[d.Index] = true
	}
	var errs []error
	for i, item := range job.Items {
		if answered[i] {
			continue
		}
		r := reward.Result{ID: item.ID, Domain: item.Domain, Error: reward.Errorf(reward.Internal,
			"no result after %d tries of the job: %s", j.maxDeliver(), why)}
		errs = append(errs, j.publishResult(ctx, job, i, r))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	state := reward.Job{ID: job.ID, Created: time.Now().UTC(), Total: len(job.Items)}
	if entry, err := j.kv.Get(ctx, job.ID); err == nil {
		_ = json.Unmarshal(entry.Value(), &state)
	}
	state.State, state.Finished = reward.JobDone, time.Now().UTC()
	return j.putState(ctx, state)
}
