package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// startNATS runs an embedded JetStream server on a random port for one test.
func startNATS(t testing.TB) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testWorker stands in for the gateway's job worker: it takes jobs from the jobs
// stream, scores each sort3 item locally (the response equals the gold tuple) and
// publishes every item's result per the protocol, deliberately out of order.
type testWorker struct {
	// duplicate, when set, publishes every result a second time under a fresh
	// Nats-Msg-Id, as a worker re-scoring a redelivered job would.
	duplicate bool
	// fail, when set, picks items whose result is an error instead of a reward.
	fail func(jobID string, index int) bool
	// afterJob, when set, is called after each job's results are published.
	afterJob func(job Job)

	mu        sync.Mutex
	published map[string]int // job id → results published
}

func (w *testWorker) start(t testing.TB, ctx context.Context, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{Durable: "test-worker", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	w.published = map[string]int{}
	rng := rand.New(rand.NewPCG(3, 4))
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var job Job
		if err := json.Unmarshal(m.Data(), &job); err != nil {
			_ = m.Term()
			return
		}
		order := rng.Perm(len(job.Items))
		var futures []jetstream.PubAckFuture
		for _, i := range order {
			it := job.Items[i]
			var ref struct {
				Gold string `json:"gold"`
			}
			res := reward.Result{ID: it.ID, Domain: it.Domain}
			if w.fail != nil && w.fail(job.ID, i) {
				res.Error = reward.Errorf(reward.Timeout, "scoring took too long")
			} else if err := json.Unmarshal(it.Reference, &ref); err != nil {
				res.Error = reward.Errorf(reward.Invalid, "reference: %v", err)
			} else if it.Response == ref.Gold {
				res.Reward = 1
			}
			body, _ := json.Marshal(ResultMsg{JobID: job.ID, Index: i, Total: len(job.Items), Result: res, Meta: job.Meta})
			ids := []string{ResultMsgID(job.ID, i)}
			if w.duplicate {
				ids = append(ids, ResultMsgID(job.ID, i)+"-again")
			}
			for _, id := range ids {
				f, err := js.PublishMsgAsync(&nats.Msg{Subject: ResultSubject(job.ID), Data: body, Header: nats.Header{"Nats-Msg-Id": []string{id}}})
				if err != nil {
					return // not acked: redelivered
				}
				futures = append(futures, f)
			}
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case <-f.Err():
				return
			case <-ctx.Done():
				return
			}
		}
		w.mu.Lock()
		w.published[job.ID] += len(job.Items)
		w.mu.Unlock()
		_ = m.Ack()
		if w.afterJob != nil {
			w.afterJob(job)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
}

// resultsInStream lists, per job id, the distinct item indices the results stream holds for run.
func resultsInStream(t *testing.T, nc *nats.Conn, run string) map[string]map[int]int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{ResultsPrefix + "trainer." + run + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int]int{}
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			r, err := decodeResult(m.Data())
			if err != nil {
				t.Fatalf("stream holds a bad result: %v", err)
			}
			if out[r.JobID] == nil {
				out[r.JobID] = map[int]int{}
			}
			out[r.JobID][r.Index]++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
	}
}
