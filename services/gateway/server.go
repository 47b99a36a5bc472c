// Package gateway is rewardmesh's HTTP API (../shared/API.md): it validates
// requests, speaks each trainer's protocol, and has the scoring engine (package
// scoring) answer the items over NATS. It never calls a service's Go code.
package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// Config tunes the HTTP side of the gateway; how items are scored is the
// engine's (scoring.Config). Zero values take the defaults.
type Config struct {
	MaxBodyBytes   int64         // larger requests answer 413; default 64 MiB
	MaxItems       int           // items per batch; default 20,000
	RequestTimeout time.Duration // a whole request; default 10 min
	// OutageWaitFor is how long the trainer protocols (/get_reward, /verify,
	// /reward) wait out a mesh that cannot score an item now (a service
	// restarting, NATS reconnecting), trying again with backoff, before they
	// answer a retryable 5xx; default 30s. Their clients retry only a few times.
	OutageWaitFor time.Duration
	// Services are the services /healthz asks; default math, sandbox, swe, rm.
	Services []string
}

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 20
	}
	if c.MaxItems <= 0 {
		c.MaxItems = 20_000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Minute
	}
	if c.OutageWaitFor <= 0 {
		c.OutageWaitFor = 30 * time.Second
	}
	if len(c.Services) == 0 {
		c.Services = []string{"math", "sandbox", "swe", "rm"}
	}
}

// server holds what the handlers share.
type server struct {
	cfg     Config
	engine  *scoring.Engine
	mesh    *mesh.Client // for /healthz
	jobs    *mesh.Jobs
	log     *slog.Logger
	metrics *metrics
}

// NewServer returns the gateway's HTTP handler. Items are scored by engine;
// client is what /healthz asks the services through. jobs may be nil, in which
// case /v1/jobs answers unavailable. reg receives the gateway's metrics and is
// what /metrics serves.
func NewServer(cfg Config, engine *scoring.Engine, client *mesh.Client, jobs *mesh.Jobs, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	s := &server{cfg: cfg, engine: engine, mesh: client, jobs: jobs, log: log, metrics: newMetrics(reg)}
	return s.routes(reg)
}
