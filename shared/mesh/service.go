// Package mesh is how rewardmesh services talk: NATS, and nothing else. A service is
// a nats.go/micro service (discovery, stats and queue groups come free) whose
// endpoints answer on versioned subjects, rewardmesh.<service>.v1.<op>. Payloads
// larger than the server's max payload travel through the JetStream object store.
package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Version is the API version in every subject.
const Version = "v1"

// Subject is the subject a service's operation answers on.
func Subject(service, op string) string {
	return "rewardmesh." + service + "." + Version + "." + op
}

// Handler answers one request to an endpoint: payload is the request body (already
// fetched from the object store if it was large), and the returned bytes are the
// response body. An error becomes a NATS service error; an *reward.Error keeps its code.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// Endpoint is one operation of a service.
type Endpoint struct {
	Name    string
	Handler Handler
}

// ItemFunc scores one item of a batch. A failure of the item alone belongs in the
// returned result (with an "error" field), never in a Go error: it must not fail
// the items beside it.
type ItemFunc func(ctx context.Context, item json.RawMessage) any

// Batch turns an ItemFunc into a Handler for `{"items":[...]}` →
// `{"results":[...]}`, results in item order, at most parallel items at once
// (GOMAXPROCS when parallel ≤ 0).
func Batch(fn ItemFunc, parallel int) Handler {
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var req struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, reward.Errorf(reward.Invalid, "decode batch: %v", err)
		}
		results := make([]any, len(req.Items))
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for i, item := range req.Items {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				results[i] = withID(item, fn(ctx, item))
			})
		}
		wg.Wait()
		return json.Marshal(struct {
			Results []any `json:"results"`
		}{results})
	}
}

// withID returns result as JSON, with the item's id in it when the item has one and
// the result does not: every endpoint echoes ids, as the API promises, also for an
// item that failed to decode, whichever service answers it.
func withID(item json.RawMessage, result any) any {
	out, err := json.Marshal(result)
	if err != nil || len(out) < 2 || out[0] != '{' {
		return result
	}
	// Results that carry an id put it first (reward.Result and the services' own
	// types do): then neither side needs decoding, which keeps this off the hot path.
	if bytes.HasPrefix(out, []byte(`{"id":`)) {
		return json.RawMessage(out)
	}
	var in, has struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(item, &in) != nil || len(in.ID) == 0 || string(in.ID) == "null" {
		return json.RawMessage(out)
	}
	if json.Unmarshal(out, &has) == nil && len(has.ID) > 0 {
		return json.RawMessage(out)
	}
	spliced := make([]byte, 0, len(out)+len(in.ID)+7)
	spliced = append(spliced, `{"id":`...)
	spliced = append(spliced, in.ID...)
	if len(out) > 2 {
		spliced = append(spliced, ',')
	}
	spliced = append(spliced, out[1:]...)
	return json.RawMessage(spliced)
}

// DecodeItem decodes one batch item into v, with the error a client can act on.
func DecodeItem(item json.RawMessage, v any) *reward.Error {
	if err := json.Unmarshal(item, v); err != nil {
		return reward.Errorf(reward.Invalid, "decode item: %v", err)
	}
	return nil
}

// Config describes a service to run on the mesh.
type Config struct {
	Name        string // the service: math, sandbox, swe, rm, trainer
	Description string
	Endpoints   []Endpoint
	// MaxInFlight bounds the requests this replica works on at once; past it a
	// request is answered busy at once, so a caller can try another replica.
	MaxInFlight int
	Logger      *slog.Logger
}

// Service is a running mesh service.
type Service struct {
	micro    micro.Service
	payloads *payloads
	slots    chan struct{}
	inflight sync.WaitGroup
	log      *slog.Logger
	stopOnce sync.Once
}

// Headers the mesh sets on requests and responses.
const (
	headerDeadline = "Rewardmesh-Deadline" // unix milliseconds: the caller's deadline
	headerObject   = "Rewardmesh-Object"   // the body lives in the object store under this name
	headerProgress = "Rewardmesh-Progress" // a heartbeat on the reply subject: still working
)

// Heartbeat is how often a service tells a caller it is still working on its
// request; a caller hears a replica's death as the heartbeats stopping.
const Heartbeat = time.Second

// Serve starts cfg's endpoints on nc. They keep answering until Stop.
func Serve(nc *nats.Conn, cfg Config) (*Service, error) {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	svc := &Service{
		payloads: newPayloads(nc),
		slots:    make(chan struct{}, cfg.MaxInFlight),
		log:      cfg.Logger.With("service", cfg.Name),
	}
	m, err := micro.AddService(nc, micro.Config{
		Name:        cfg.Name,
		Version:     "1.0.0",
		Description: cfg.Description,
	})
	if err != nil {
		return nil, fmt.Errorf("add service %s: %w", cfg.Name, err)
	}
	svc.micro = m
	group := m.AddGroup("rewardmesh." + cfg.Name + "." + Version)
	for _, ep := range cfg.Endpoints {
		if err := group.AddEndpoint(ep.Name, svc.handle(ep)); err != nil {
			_ = m.Stop()
			return nil, fmt.Errorf("add endpoint %s.%s: %w", cfg.Name, ep.Name, err)
		}
	}
	// Once Serve returns, the server routes requests here: a caller that starts
	// right away must not be told nobody is serving.
	if err := nc.Flush(); err != nil {
		svc.log.Warn("flush subscriptions", "err", err)
	}
	return svc, nil
}

// handle runs each request on its own goroutine, so one slow request never holds up
// the endpoint's subscription, and answers busy when every slot is taken.
func (s *Service) handle(ep Endpoint) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		select {
		case s.slots <- struct{}{}:
		default:
			_ = respondError(req, reward.Errorf(reward.Busy, "%s is at its in-flight limit", ep.Name))
			return
		}
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			defer func() { <-s.slots }()
			s.serve(ep, req)
		}()
	})
}

func (s *Service) serve(ep Endpoint, req micro.Request) {
	defer s.heartbeat(req.Reply())()
	ctx := context.Background()
	if ms, err := strconv.ParseInt(req.Headers().Get(headerDeadline), 10, 64); err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.UnixMilli(ms))
		defer cancel()
	}
	payload := req.Data()
	if name := req.Headers().Get(headerObject); name != "" {
		var err error
		if payload, err = s.payloads.get(ctx, name); err != nil {
			_ = respondError(req, reward.Errorf(reward.Internal, "fetch request body: %v", err))
			return
		}
	}
	out, err := safeCall(ctx, ep.Handler, payload)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = reward.Errorf(reward.Timeout, "%s: the caller's deadline passed", ep.Name)
	}
	if err != nil {
		if e := reward.AsError(err); e.Code == reward.Internal {
			s.log.Error("endpoint failed", "endpoint", ep.Name, "err", err)
		}
		_ = respondError(req, err)
		return
	}
	if err := s.payloads.respond(ctx, req, out); err != nil {
		s.log.Error("respond", "endpoint", ep.Name, "err", err)
	}
}

// heartbeat tells the caller at reply, every Heartbeat until stopped, that this
// replica is alive and working on its request.
func (s *Service) heartbeat(reply string) (stop func()) {
	if reply == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m := nats.NewMsg(reply)
				m.Header.Set(headerProgress, "1")
				_ = s.payloads.nc.PublishMsg(m)
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// safeCall keeps a handler's panic from taking the whole service down with it.
func safeCall(ctx context.Context, h Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = reward.Errorf(reward.Internal, "handler panicked: %v", r)
		}
	}()
	return h(ctx, payload)
}

func respondError(req micro.Request, err error) error {
	e := reward.AsError(err)
	return req.Error(string(e.Code), e.Message, nil)
}

// Stop stops taking requests and waits up to timeout for the ones in flight.
func (s *Service) Stop(timeout time.Duration) error {
	var err error
	s.stopOnce.Do(func() {
		err = s.micro.Stop()
		done := make(chan struct{})
		go func() { s.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(timeout):
			err = errors.Join(err, fmt.Errorf("stop: requests still in flight after %s", timeout))
		}
	})
	return err
}

// Info reports the service's discovery info and stats.
func (s *Service) Stats() micro.Stats { return s.micro.Stats() }
