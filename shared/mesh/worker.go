package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The job worker: it takes jobs from the work-queue stream, has a Scorer score
// their items, publishes each result as it comes, and acks a job only when every
// result is out.

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

// run works one delivery of a job: it scores what the job has left to answer,
// publishes each result as it comes, and acks the job once every result is out.
// A delivery that could not finish hands the job back for another try.
func (j *Jobs) run(ctx context.Context, msg jetstream.Msg, score Scorer) {
	defer j.keepAlive(msg)()
	d := j.delivery(msg)
	body, object, err := j.jobBody(ctx, msg)
	if err != nil {
		j.log.Error("jobs: fetch job body", "object", object, "err", err)
		j.retryLater(ctx, d, nil, "fetch the job's body: "+err.Error())
		return
	}
	var job Job
	if err := json.Unmarshal(body, &job); err != nil || !ValidJobID(job.ID) {
		j.log.Error("jobs: undecodable job dropped", "err", err)
		_ = msg.Term()
		return
	}
	skip, err := j.answered(ctx, d, job.ID)
	if err != nil {
		j.retryLater(ctx, d, &job, "read back the job's results: "+err.Error())
		return
	}
	state := j.markRunning(ctx, job)
	if err := j.answer(ctx, job, skip, score); err != nil {
		j.log.Warn("jobs: some results not published; job will be tried again", "job", job.ID, "err", err, "last_try", d.last)
		j.retryLater(ctx, d, &job, err.Error())
		return
	}
	state.State = reward.JobDone
	state.Finished = time.Now().UTC()
	_ = j.putState(ctx, state)
	if err := msg.DoubleAck(ctx); err != nil {
		j.log.Warn("jobs: ack", "job", job.ID, "err", err)
	}
	if object != "" {
		j.payloads.remove(context.WithoutCancel(ctx), object)
	}
}

// delivery is one delivery of a job message.
type delivery struct {
	msg         jetstream.Msg
	redelivered bool // an earlier worker had it (and died, or gave it back)
	last        bool // JetStream will not deliver it again
}

func (j *Jobs) delivery(msg jetstream.Msg) delivery {
	d := delivery{msg: msg}
	if meta, err := msg.Metadata(); err == nil {
		d.redelivered = meta.NumDelivered > 1
		d.last = meta.NumDelivered >= uint64(j.maxDeliver())
	}
	return d
}

// keepAlive tells JetStream the job is alive while it runs, so that a long job is
// not redelivered to another worker; a dead worker stops telling it and the job
// moves. It returns the function that stops it.
func (j *Jobs) keepAlive(msg jetstream.Msg) (stop func()) {
	_ = msg.InProgress()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(j.ackWait() / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// jobBody is the job message's body, fetched from the object store when it was
// too large for a message (object names it there; "" otherwise).
func (j *Jobs) jobBody(ctx context.Context, msg jetstream.Msg) (body []byte, object string, err error) {
	if msg.Headers() != nil {
		object = msg.Headers().Get(headerObject)
	}
	if object == "" {
		return msg.Data(), "", nil
	}
	store, err := j.payloads.bucket(ctx)
	if err == nil {
		body, err = store.GetBytes(ctx, object)
	}
	return body, object, err
}

// retryLater hands the job back for another try, or, on the last one, ends it
// with an error for every item still unanswered (job nil: it could not be read).
func (j *Jobs) retryLater(ctx context.Context, d delivery, job *Job, why string) {
	if ctx.Err() != nil {
		return // a worker that is stopping leaves the job to be redelivered after AckWait
	}
	if !d.last {
		_ = d.msg.NakWithDelay(time.Second)
		return
	}
	if job != nil && j.finishWithErrors(ctx, *job, why) == nil {
		_ = d.msg.Ack()
		return
	}
	j.log.Error("jobs: job dropped after its last try", "tries", j.maxDeliver(), "why", why)
	_ = d.msg.Term()
}

// answered is the items of a redelivered job whose results an earlier worker
// already published, by index. A first delivery has nothing to skip, and reading
// back costs a consumer.
func (j *Jobs) answered(ctx context.Context, d delivery, jobID string) (map[int]bool, error) {
	skip := map[int]bool{}
	if !d.redelivered {
		return skip, nil
	}
	done, err := j.Results(ctx, jobID)
	if err != nil {
		return nil, err
	}
	for _, r := range done {
		skip[r.Index] = true
	}
	return skip, nil
}

// markRunning records the job as running, keeping when it was created.
func (j *Jobs) markRunning(ctx context.Context, job Job) reward.Job {
	state := reward.Job{ID: job.ID, State: reward.JobRunning, Total: len(job.Items), Created: time.Now().UTC()}
	if entry, err := j.kv.Get(ctx, job.ID); err == nil {
		_ = json.Unmarshal(entry.Value(), &state)
		state.State = reward.JobRunning
	}
	_ = j.putState(ctx, state)
	return state
}

// answer publishes a result for every item of the job not in skip: a rejected
// item's error at once, the others as score answers them. It returns an error
// when a result went unpublished, so that the job is tried again.
func (j *Jobs) answer(ctx context.Context, job Job, skip map[int]bool, score Scorer) error {
	left := job.remaining(skip)
	var out tally
	publish := func(index int, r reward.Result) { out.add(j.publishResult(ctx, job, index, r)) }
	for _, i := range left.rejected {
		publish(i, reward.Result{ID: job.Items[i].ID, Domain: job.Items[i].Domain, Error: job.Rejected[i]})
	}
	if left.want > 0 {
		score(ctx, left.items, func(k int, r reward.Result) {
			if i := left.at[k]; !skip[i] {
				publish(i, r)
			}
		})
	}
	return out.err(left.want)
}

// remainder is what a delivery of a job has to answer.
type remainder struct {
	items    []reward.Item // to score
	at       []int         // items[k] is the job's item at[k]
	rejected []int         // items answered with their Rejected error, unscored
	want     int           // how many results the delivery must publish
}

// remaining is what is left of the job when the items in skip are answered. A
// reward-model group is normalized over the members scored together, so an
// unanswered member is scored with its whole group; only its result is published.
func (job Job) remaining(skip map[int]bool) remainder {
	unanswered := map[string]bool{}
	for i, item := range job.Items {
		if g := item.NormalizedGroup(); g != "" && !skip[i] {
			unanswered[g] = true
		}
	}
	var l remainder
	for i, item := range job.Items {
		switch {
		case skip[i]:
			if unanswered[item.NormalizedGroup()] {
				l.items, l.at = append(l.items, item), append(l.at, i)
			}
			continue
		case job.Rejected[i] != nil:
			l.rejected = append(l.rejected, i)
		default:
			l.items, l.at = append(l.items, item), append(l.at, i)
		}
		l.want++
	}
	return l
}

// tally counts the results a delivery published, from any goroutine.
type tally struct {
	mu        sync.Mutex
	published int
	errs      error
}

func (t *tally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs = errors.Join(t.errs, err)
	} else {
		t.published++
	}
}

// err says why fewer than want results were published, or nil when all were.
func (t *tally) err(want int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.errs == nil && t.published < want {
		return fmt.Errorf("%d of %d results published before the worker stopped", t.published, want)
	}
	return t.errs
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
	out.Header.Set(jetstream.MsgIDHeader, ResultMsgID(job.ID, index))
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
