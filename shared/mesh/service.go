// Package mesh is how rewardmesh services talk: NATS, and nothing else. A service is
// a nats.go/micro service (discovery, stats and queue groups come free) whose
// endpoints answer on versioned subjects, rewardmesh.<service>.v1.<op>. Payloads
// larger than the server's max payload travel through the JetStream object store.
package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// respondError answers req with err's code and message, in micro's error
// headers. It sends them with Respond, not req.Error: a request is answered on
// its own goroutine after the micro handler has returned, and micro reads what
// Error records (for its stats) without a lock as soon as the handler returns.
func respondError(req micro.Request, err error) error {
	e := reward.AsError(err)
	return req.Respond(nil, micro.WithHeaders(micro.Headers{
		micro.ErrorHeader:     {e.Message},
		micro.ErrorCodeHeader: {string(e.Code)},
	}))
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
