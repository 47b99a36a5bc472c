// Package node runs rewardmesh services in one process: `rewardmesh up` runs them
// all (with an embedded NATS server when given no URL), `rewardmesh serve` runs
// one. Services still talk only over NATS, whichever process they share.
//
// It is the program's composition root, the one package that imports every
// service and the gateway; it lives beside main so that shared/, which every
// service imports, knows no service (the README's layout table says why).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/envvar"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// Options configures a node.
type Options struct {
	NATSURL  string // empty: embed a NATS server with JetStream
	DataDir  string // the embedded server's JetStream data; a temp dir when empty
	HTTPAddr string // the gateway's listen address; empty serves no HTTP
	// MetricsAddr serves the process's Prometheus metrics at /metrics on its own
	// address (for a node without a gateway, whose /metrics serves them).
	MetricsAddr string
	RedisURL    string   // empty: cache in memory
	Services    []string // which services to run; empty: every one (see Names)
	Getenv      func(string) string
	Log         *slog.Logger
	Gateway     gateway.Config
	Scoring     scoring.Config // the scoring engine the gateway and the job worker share
	// ShutdownTimeout bounds how long in-flight work may finish on Close.
	ShutdownTimeout time.Duration
}

// Node is a running set of services.
type Node struct {
	URL      string // the NATS server's client URL
	HTTPAddr string // where the gateway listens, when it runs

	log      *slog.Logger
	embedded *mesh.Embedded
	conns    []*nats.Conn
	services []*mesh.Service
	closers  []func() error
	http     *http.Server
	cancel   context.CancelFunc
	workers  sync.WaitGroup
	timeout  time.Duration
	reg      *prometheus.Registry // every service's metrics, served by the gateway or MetricsAddr
	once     sync.Once
}

// Start brings the node up; Close takes it down.
func Start(ctx context.Context, opts Options) (_ *Node, err error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	names := opts.Services
	if len(names) == 0 {
		names = Names()
	}
	for _, name := range names {
		if _, ok := lookup(name); !ok && name != "gateway" {
			return nil, fmt.Errorf("unknown service %q: use one of %v or gateway", name, Names())
		}
	}
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &Node{log: opts.Log, cancel: cancel, timeout: opts.ShutdownTimeout, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	n.URL = opts.NATSURL
	if n.URL == "" {
		emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: opts.DataDir})
		if err != nil {
			return nil, err
		}
		n.embedded = emb
		n.URL = emb.ClientURL()
		n.log.Info("embedded nats server", "url", n.URL)
	}

	for _, name := range names {
		if name == "gateway" {
			continue
		}
		nc, err := n.connect("rewardmesh-" + name)
		if err != nil {
			return nil, err
		}
		svc, _ := lookup(name)
		cfg, closer, err := svc.start(ctx, Env{Getenv: opts.Getenv, Log: opts.Log.With("service", name), Conn: nc, Metrics: n.reg})
		if err != nil && len(opts.Services) == 0 {
			// `up` keeps the rest of the mesh serving; /healthz reports this one down.
			n.log.Error("service not started", "service", name, "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		if closer != nil {
			n.closers = append(n.closers, closer)
		}
		cfg.Logger = opts.Log
		served, err := mesh.Serve(nc, cfg)
		if err != nil {
			return nil, err
		}
		n.services = append(n.services, served)
		n.log.Info("service up", "service", name)
	}

	// The gateway serves HTTP when given an address; without one (the trainer's
	// in-process mesh) it still works asynchronous jobs.
	gatewayToo := slices.Contains(names, "gateway") || (len(opts.Services) == 0 && opts.HTTPAddr != "")
	if gatewayToo {
		if err := n.startGateway(workCtx, opts); err != nil {
			return nil, err
		}
	} else {
		// The gateway registers the process's own collectors when it runs.
		n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if opts.MetricsAddr != "" {
		if err := n.serveMetrics(opts.MetricsAddr); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// serveMetrics serves the process's Prometheus metrics at addr/metrics.
func (n *Node) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s for metrics: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.closers = append(n.closers, srv.Close)
	n.workers.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server stopped", "err", err)
		}
	})
	n.log.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

func (n *Node) connect(name string) (*nats.Conn, error) {
	nc, err := mesh.Connect(n.URL, name, n.log)
	if err != nil {
		return nil, err
	}
	n.conns = append(n.conns, nc)
	return nc, nil
}

func (n *Node) startGateway(ctx context.Context, opts Options) error {
	nc, err := n.connect("rewardmesh-gateway")
	if err != nil {
		return err
	}
	jobs, err := mesh.NewJobs(ctx, nc, n.log)
	if err != nil {
		return err
	}
	r := envvar.NewReader(opts.Getenv)
	// How long a job may go without a sign of life from its worker before another
	// takes it (a worker that died); REWARDMESH_JOBS_ACK_WAIT, default 30s.
	r.Duration("REWARDMESH_JOBS_ACK_WAIT", &jobs.AckWait)
	if opts.Scoring.ChunkSize == 0 {
		r.Int("REWARDMESH_GATEWAY_CHUNK_SIZE", 0, &opts.Scoring.ChunkSize)
	}
	if opts.Scoring.BusyRetryFor == 0 {
		r.Duration("REWARDMESH_GATEWAY_BUSY_RETRY_FOR", &opts.Scoring.BusyRetryFor)
	}
	if opts.Gateway.OutageWaitFor == 0 {
		r.Duration("REWARDMESH_GATEWAY_OUTAGE_WAIT", &opts.Gateway.OutageWaitFor)
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	reg := n.reg
	var c cache.Cache = cache.NewMemory(0)
	var redisCache *cache.Redis
	if opts.RedisURL != "" {
		redisCache, err = cache.NewRedis(cache.RedisOptions{URL: opts.RedisURL, Log: n.log})
		if err != nil {
			return err
		}
		c = redisCache
		n.closers = append(n.closers, redisCache.Close)
	}
	// One scoring engine (routing, cache, de-duplication, chunks, retries) serves
	// both the HTTP handlers and the job worker.
	client := mesh.NewClient(nc)
	engine := scoring.New(opts.Scoring, client, c, reg)
	handler := gateway.NewServer(opts.Gateway, engine, client, jobs, n.log, reg)
	if redisCache != nil {
		redisCache.OnError(engine.CacheErrorCounter())
		if err := redisCache.Ping(ctx); err != nil {
			n.log.Warn("redis not reachable now; serving uncached until it is", "err", err)
		}
	}
	n.workers.Go(func() {
		if err := jobs.Work(ctx, engine.ScoreJob, 16); err != nil {
			n.log.Error("jobs worker stopped", "err", err)
		}
	})

	if opts.HTTPAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", opts.HTTPAddr, err)
	}
	n.HTTPAddr = ln.Addr().String()
	n.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	n.workers.Go(func() {
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	})
	n.log.Info("gateway listening", "addr", "http://"+n.HTTPAddr)
	return nil
}

// Close stops taking work, lets in-flight work finish within the shutdown
// timeout, drains NATS and stops the embedded server.
func (n *Node) Close() {
	n.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
		defer cancel()
		if n.http != nil {
			_ = n.http.Shutdown(ctx)
		}
		for _, svc := range n.services {
			if err := svc.Stop(n.timeout); err != nil {
				n.log.Warn("stop service", "err", err)
			}
		}
		n.cancel()
		n.workers.Wait()
		for _, c := range n.closers {
			if err := c(); err != nil {
				n.log.Warn("close", "err", err)
			}
		}
		for _, nc := range n.conns {
			_ = nc.Drain()
		}
		for _, nc := range n.conns {
			for nc.IsDraining() {
				time.Sleep(10 * time.Millisecond)
			}
			nc.Close()
		}
		if n.embedded != nil {
			n.embedded.Close()
		}
	})
}
