// Package gateway is rewardmesh's HTTP API (../shared/API.md): it validates
// requests, answers what the reward cache already knows, and routes the rest to
// the services over NATS. It never calls a service's Go code.
package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// Config tunes the gateway. Zero values take the defaults.
type Config struct {
	MaxBodyBytes   int64         // larger requests answer 413; default 64 MiB
	MaxItems       int           // items per batch; default 20,000
	RequestTimeout time.Duration // a whole request; default 10 min
	ChunkSize      int           // items per NATS message to a service; default 128
	// BusyRetryFor is how long a chunk is retried while every replica answers
	// busy, before its items answer busy; default 30s.
	BusyRetryFor time.Duration
	// JobRetryFor is how long a job's item is retried while the mesh cannot score
	// it (a service not running, a replica silent, every replica busy); default 2m.
	JobRetryFor time.Duration
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
	if c.JobRetryFor <= 0 {
		c.JobRetryFor = 2 * time.Minute
	}
	if c.OutageWaitFor <= 0 {
		c.OutageWaitFor = 30 * time.Second
	}
	if c.BusyRetryFor <= 0 {
		c.BusyRetryFor = 30 * time.Second
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 128
	}
	if len(c.Services) == 0 {
		c.Services = []string{"math", "sandbox", "swe", "rm"}
	}
}

// Server holds what the handlers share.
type Server struct {
	cfg     Config
	mesh    *mesh.Client
	cache   cache.Cache
	jobs    *mesh.Jobs
	log     *slog.Logger
	metrics *metrics
}

// NewServer returns the gateway's HTTP handler. jobs may be nil, in which case
// /v1/jobs answers unavailable. reg receives the gateway's metrics and is what
// /metrics serves.
func NewServer(cfg Config, client *mesh.Client, c cache.Cache, jobs *mesh.Jobs, log *slog.Logger, reg *prometheus.Registry) (http.Handler, *Server) {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	if c == nil {
		c = cache.NewMemory(0)
	}
	s := &Server{cfg: cfg, mesh: client, cache: c, jobs: jobs, log: log, metrics: newMetrics(reg)}
	return s.routes(reg), s
}

// CacheErrorCounter is a hook for the Redis cache to count its failures.
func (s *Server) CacheErrorCounter() func(op string) {
	return func(op string) { s.metrics.cacheErrors.WithLabelValues(op).Inc() }
}
