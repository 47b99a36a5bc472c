package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a cache in a Redis server. Every call is short-deadlined and never
// fails its caller: a Redis that went away costs a miss, not a request.
type Redis struct {
	client  *redis.Client
	ttl     time.Duration
	log     *slog.Logger
	onError func(op string)

	errors     atomic.Int64
	lastWarned atomic.Int64 // unix nanos of the last warning, to keep logs readable
}

// RedisOptions configures NewRedis.
type RedisOptions struct {
	URL     string        // redis://host:port/db
	TTL     time.Duration // default 24h
	Timeout time.Duration // per call; default 150ms
	Log     *slog.Logger
	OnError func(op string) // counts failures (a metric); may be nil
}

// quiet drops go-redis's own log lines (a line per failed dial while Redis is
// away); failures are counted and warned about here, at most every 5 s.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

// NewRedis connects to Redis. It does not require Redis to be up now: requests
// go uncached until it is.
func NewRedis(opts RedisOptions) (*Redis, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 150 * time.Millisecond
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	ro.DialTimeout = opts.Timeout
	ro.ReadTimeout = opts.Timeout
	ro.WriteTimeout = opts.Timeout
	ro.MaxRetries = 0
	return &Redis{client: redis.NewClient(ro), ttl: opts.TTL, log: opts.Log, onError: opts.OnError}, nil
}

// Ping reports whether Redis answers now.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool) {
	v, err := r.client.Get(ctx, "rewardmesh:"+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false
	}
	if err != nil {
		r.failed("get", err)
		return nil, false
	}
	return v, true
}

func (r *Redis) Set(ctx context.Context, key string, value []byte) {
	if err := r.client.Set(ctx, "rewardmesh:"+key, value, r.ttl).Err(); err != nil {
		r.failed("set", err)
	}
}

// OnError sets the hook that counts failures (a metric).
func (r *Redis) OnError(f func(op string)) { r.onError = f }

// Errors counts the failed calls so far.
func (r *Redis) Errors() int64 { return r.errors.Load() }

func (r *Redis) failed(op string, err error) {
	r.errors.Add(1)
	if r.onError != nil {
		r.onError(op)
	}
	now := time.Now().UnixNano()
	if last := r.lastWarned.Load(); now-last > int64(5*time.Second) && r.lastWarned.CompareAndSwap(last, now) {
		r.log.Warn("redis cache unavailable; serving uncached", "op", op, "err", err)
	}
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }
