// Package scoring is the gateway's scoring engine: it answers reward items by
// routing them to their services over NATS, answering what the reward cache
// already knows, scoring identical items of a batch once, sending the rest in
// chunks that replicas share, and sending again what a busy or unreachable mesh
// could not score. The HTTP handlers (package gateway) and the asynchronous job
// worker (mesh.Jobs) both score through one Engine, which the composition root
// builds and hands to each; it knows nothing of HTTP.
package scoring

import (
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	ChunkSize int // items per NATS message to a service; default 128
	// BusyRetryFor is how long a chunk is retried while every replica answers
	// busy, before its items answer busy; default 30s.
	BusyRetryFor time.Duration
	// JobRetryFor is how long a job's item is retried while the mesh cannot score
	// it (a service not running, a replica silent, every replica busy); default 2m.
	JobRetryFor time.Duration
}

func (c *Config) defaults() {
	if c.ChunkSize <= 0 {
		c.ChunkSize = 128
	}
	if c.BusyRetryFor <= 0 {
		c.BusyRetryFor = 30 * time.Second
	}
	if c.JobRetryFor <= 0 {
		c.JobRetryFor = 2 * time.Minute
	}
}

// Engine scores items through the mesh. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	mesh    *mesh.Client
	cache   cache.Cache
	metrics *metrics
}

// New returns an engine that calls services through client and caches in c (in
// memory when nil). reg, when not nil, receives the engine's metrics.
func New(cfg Config, client *mesh.Client, c cache.Cache, reg prometheus.Registerer) *Engine {
	cfg.defaults()
	if c == nil {
		c = cache.NewMemory(0)
	}
	return &Engine{cfg: cfg, mesh: client, cache: c, metrics: newMetrics(reg)}
}

// CacheErrorCounter is a hook for the Redis cache to count its failures.
func (e *Engine) CacheErrorCounter() func(op string) {
	return func(op string) { e.metrics.cacheErrors.WithLabelValues(op).Inc() }
}

// Op is one batch operation of a service, and how the engine treats its items.
type Op struct {
	Service, Name string
	Cached        bool // results are a pure function of the item (less its id)
	Whole         bool // the batch must reach the service in one call (groups)
}

// rewardsOp is the op that scores a domain's /v1/rewards items, and false for an
// unknown domain. The domain says whether its rewards are cached and whether its
// items are scored as one group.
func rewardsOp(d reward.Domain) (Op, bool) {
	service, ok := d.Service()
	if !ok {
		return Op{}, false
	}
	return Op{Service: service, Name: "rewards", Cached: d.Cached(), Whole: d.WholeGroup()}, true
}

// item is one batch item on its way through, read once when it comes in: the
// JSON sent on to the service, the id every answer to it echoes, and its cache
// key.
type item struct {
	raw json.RawMessage
	id  json.RawMessage
	key string // "" when op's results are not cached, or the item is not an object
}

// newItem reads a batch endpoint's item for op.
func newItem(op Op, raw json.RawMessage) item {
	return item{raw: raw, id: mesh.ItemID(raw), key: cacheKey(op, raw)}
}
