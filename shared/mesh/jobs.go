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

// ResultMsgID is the Nats-Msg-Id of one item's result, on which JetStream
// de-duplicates a result published again (by a worker that took the job over).
func ResultMsgID(jobID string, index int) string { return jobID + "/" + strconv.Itoa(index) }

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
// an update that changes a stream's retention. replicas is Replicas' count; a
// stream made with fewer is scaled up by the update.
func JobsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:      JobsStream,
		Subjects:  []string{SubmitSubject},
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    jobRetention,
		Replicas:  replicas,
	}
}

func ResultsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       ResultsStream,
		Subjects:   []string{resultsPrefix + ">"},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     jobRetention,
		Duplicates: 10 * time.Minute,
		Replicas:   replicas,
	}
}

// EnsureJobStreams creates or updates the job streams, replicated as Replicas says.
func EnsureJobStreams(ctx context.Context, js jetstream.JetStream) error {
	replicas := Replicas(js.Conn())
	for _, cfg := range []jetstream.StreamConfig{JobsStreamConfig(replicas), ResultsStreamConfig(replicas)} {
		err := ensureStore(ctx, "create stream "+cfg.Name, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return err
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
	// ReadTimeout bounds reading a job's state and results back (Get, and a
	// redelivered job's answered items); default 15s.
	ReadTimeout time.Duration

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
	var kv jetstream.KeyValue
	err = ensureStore(ctx, "create kv "+JobStateBucket, func(ctx context.Context) (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      JobStateBucket,
			Description: "rewardmesh asynchronous job states",
			TTL:         jobRetention,
			Replicas:    Replicas(nc),
		})
		return err
	})
	if err != nil {
		return nil, err
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

// Get returns the job's state and the results published so far. It answers
// within ReadTimeout (or ctx's deadline, if sooner): a mesh that cannot be read
// now (a store without a leader, a server gone) is a retryable unavailable
// error, never a job with fewer results than were published.
func (j *Jobs) Get(ctx context.Context, id string) (JobView, error) {
	if !ValidJobID(id) {
		return JobView{}, reward.Errorf(reward.Invalid, "job_id %q is not a valid job id", id)
	}
	ctx, cancel := context.WithTimeout(ctx, j.readTimeout())
	defer cancel()
	entry, err := j.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return JobView{}, reward.Errorf(reward.NotFound, "no job %s", id)
	}
	if err != nil {
		return JobView{}, unreadable("read job state", err)
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

// defaultReadTimeout bounds reading a job back: time for a store's leader to be
// elected again after its server is lost (a few seconds), and for 20,000 results.
const defaultReadTimeout = 15 * time.Second

func (j *Jobs) readTimeout() time.Duration {
	if j.ReadTimeout > 0 {
		return j.ReadTimeout
	}
	return defaultReadTimeout
}

// unreadable is a failure to read the job's stores: the mesh's, so retryable.
func unreadable(what string, err error) *reward.Error {
	e := reward.Errorf(reward.Unavailable, "%s: %v", what, err)
	e.Retryable = true
	return e
}

// Results reads every result published for the job so far, in item order, one
// per index, within ReadTimeout (or ctx's deadline, if sooner). It reads all of
// them or fails: a caller skips what it returns (a redelivered job) or shows it
// as the job's progress.
//
// A plain pull consumer, not an ordered one: an ordered consumer's Fetch makes
// its consumer again, retrying without end and without a context while the
// stream has no leader, which is how GET /v1/jobs/{id} hung with a NATS
// server killed.
func (j *Jobs) Results(ctx context.Context, id string) ([]ResultMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, j.readTimeout())
	defer cancel()
	cons, err := j.js.CreateConsumer(ctx, ResultsStream, jetstream.ConsumerConfig{
		FilterSubject: ResultsSubject(id),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckNonePolicy,
		MemoryStorage: true,
		Replicas:      1,
		// A backstop: the consumer is deleted below, and a reader that died
		// before that must not leave it on the server for long.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, unreadable("read results", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = j.js.DeleteConsumer(ctx, ResultsStream, cons.CachedInfo().Name)
	}()
	pending := int(cons.CachedInfo().NumPending)
	byIndex := make(map[int]ResultMsg, pending)
	for got := 0; got < pending; {
		if ctx.Err() != nil {
			return nil, unreadable("read results", fmt.Errorf("%d of %d read: %w", got, pending, ctx.Err()))
		}
		batch, err := cons.Fetch(min(pending-got, 1000), jetstream.FetchContext(ctx))
		if err != nil {
			return nil, unreadable("read results", err)
		}
		for msg := range batch.Messages() {
			got++
			var rm ResultMsg
			if err := json.Unmarshal(msg.Data(), &rm); err == nil {
				byIndex[rm.Index] = rm
			}
		}
		if err := batch.Error(); err != nil {
			return nil, unreadable("read results", fmt.Errorf("%d of %d read: %w", got, pending, err))
		}
	}
	out := make([]ResultMsg, 0, len(byIndex))
	for _, m := range byIndex {
		out = append(out, m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, nil
}
