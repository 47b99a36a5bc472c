// Package sandbox judges untrusted programs in Docker: the `sandbox` mesh service
// behind POST /v1/code/run, /v1/code/judge and the "code" domain of /v1/rewards.
// Programs run in warm containers (package pool) under the runner agent (package
// runner), which applies each test's limits; the comparison with the expected
// output happens here, outside the container, so a program never sees an answer.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/pool"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Config tunes a Sandbox. Zero values take the defaults in brackets.
type Config struct {
	// Docker is the engine to use [client.FromEnv with version negotiation].
	Docker *client.Client
	// Concurrency is how many submissions are judged at once [GOMAXPROCS].
	Concurrency int
	// QueueSize is how many more may wait for a slot; past it a submission is
	// answered busy at once [4 × Concurrency].
	QueueSize int
	// TestParallel is how many tests of one submission may run at once
	// [min(2, GOMAXPROCS)]. A container runs one test at a time (its cgroup is
	// the test's meter), so the tests past the first run in containers that are
	// idle when the submission starts, and in sequence when none is.
	TestParallel int
	// TestCPUs is the cores a test may use, all its processes and threads
	// together: each container's CPU quota [1]. A test's CPU time is the sum over
	// its processes and threads whatever this is; more cores only let a
	// multi-threaded runtime spend it sooner in wall time.
	TestCPUs float64
	// CPUs is how many cores the sandbox's programs use at once [GOMAXPROCS]:
	// CPUs/TestCPUs programs run at once across all submissions, and tests of a
	// submission run in parallel only where cores are free.
	CPUs int
	// Warm is how many idle containers each language keeps ready [1].
	Warm int
	// ContainerMemoryMB is each container's memory cgroup limit [2048]; a test's
	// memory limit may be at most half of what is left beside the agent.
	ContainerMemoryMB int
	// DefaultTimeLimitMS is a test's CPU time limit when the item gives none [6000,
	// LiveCodeBench's]; MaxTimeLimitMS caps what an item may ask [30000].
	DefaultTimeLimitMS int
	MaxTimeLimitMS     int
	// DefaultMemoryLimitMB is a test's memory limit when the item gives none [the
	// most the container allows].
	DefaultMemoryLimitMB int
	// OutputLimitBytes bounds what one test may print [16 MiB].
	OutputLimitBytes int64
	// BuildMissing builds missing images on first use; otherwise a request for a
	// language whose image is missing is answered with the command to run.
	BuildMissing bool
	Build        images.BuildOptions
	// NoUsrVolume keeps containers on the image's own /usr instead of a
	// read-only volume copy of it (which starts programs faster where Docker's
	// storage is FUSE-backed).
	NoUsrVolume bool
	// ReconcileEvery is how often orphaned containers are looked for [1m].
	ReconcileEvery time.Duration
	Logger         *slog.Logger
	// Metrics receives the sandbox's Prometheus metrics; nil keeps them unregistered.
	Metrics prometheus.Registerer
}

func (c *Config) defaults() {
	procs := runtime.GOMAXPROCS(0)
	if c.Concurrency <= 0 {
		c.Concurrency = procs
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4 * c.Concurrency
	}
	if c.TestParallel <= 0 {
		c.TestParallel = min(2, procs)
	}
	if !(c.TestCPUs > 0) { // NaN too
		c.TestCPUs = 1
	}
	if c.CPUs <= 0 {
		c.CPUs = procs
	}
	if c.Warm <= 0 {
		c.Warm = 1
	}
	if c.ContainerMemoryMB <= 0 {
		c.ContainerMemoryMB = 2048
	}
	if c.DefaultTimeLimitMS <= 0 {
		c.DefaultTimeLimitMS = 6000
	}
	if c.MaxTimeLimitMS <= 0 {
		c.MaxTimeLimitMS = 30000
	}
	if c.DefaultMemoryLimitMB <= 0 {
		c.DefaultMemoryLimitMB = c.maxTestMemoryMB()
	}
	if c.OutputLimitBytes <= 0 {
		c.OutputLimitBytes = 16 << 20
	}
	if c.ReconcileEvery <= 0 {
		c.ReconcileEvery = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// maxTestMemoryMB leaves 256 MiB to the agent and the container's files, and
// as much again as the test may use: the watchdog that stops a test whose
// processes together pass their limit reads the cgroup every few milliseconds,
// and the headroom keeps the container's OOM killer, which might pick the
// agent, out of reach meanwhile.
func (c *Config) maxTestMemoryMB() int {
	return max(64, (c.ContainerMemoryMB-256)/2)
}

// programsAtOnce is how many programs may run at once across all submissions.
func (c *Config) programsAtOnce() int {
	return max(1, int(float64(c.CPUs)/c.TestCPUs))
}

// Sandbox judges code. It is safe for concurrent use.
type Sandbox struct {
	cfg      Config
	docker   *client.Client
	ownsDock bool
	owner    pool.Owner
	log      *slog.Logger
	metrics  *metrics

	slots   chan struct{} // Concurrency
	cpus    chan struct{} // programsAtOnce: programs running
	waiting chan struct{} // QueueSize + Concurrency: admitted submissions
	line    chan struct{} // the one queued caller waiting for the queue (admitQueued)
	cache   *binaryCache

	mu     sync.Mutex
	pools  map[Language]*pool.Pool
	builds map[Language]*imageState
	closed bool

	stop chan struct{}
	bg   sync.WaitGroup
}

type imageState struct {
	ready bool
	done  chan struct{} // closed when a build ends
	err   error
}

// New connects to Docker, removes containers orphaned by an earlier crash, and
// starts warm pools for the languages whose images exist.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	cfg.defaults()
	s := &Sandbox{
		cfg:     cfg,
		docker:  cfg.Docker,
		owner:   pool.Self(),
		log:     cfg.Logger.With("service", "sandbox"),
		metrics: newMetrics(cfg.Metrics),
		slots:   make(chan struct{}, cfg.Concurrency),
		cpus:    make(chan struct{}, cfg.programsAtOnce()),
		waiting: make(chan struct{}, cfg.Concurrency+cfg.QueueSize),
		line:    make(chan struct{}, 1),
		cache:   newBinaryCache(256 << 20),
		pools:   map[Language]*pool.Pool{},
		builds:  map[Language]*imageState{},
		stop:    make(chan struct{}),
	}
	if s.docker == nil {
		d, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("connect to docker: %w", err)
		}
		s.docker, s.ownsDock = d, true
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := s.docker.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	cancel()
	if err != nil {
		s.closeDocker()
		return nil, fmt.Errorf("reach docker: %w", err)
	}
	if n, err := pool.Reconcile(ctx, s.docker, s.owner, s.owns); err != nil {
		s.log.Warn("reconcile sandbox containers", "err", err)
	} else if n > 0 {
		s.log.Info("removed orphaned sandbox containers", "count", n)
	}
	for _, lang := range []Language{Python, Cpp} {
		missing, err := images.Missing(ctx, s.docker, []images.Language{images.Language(lang)})
		if err != nil {
			s.closeDocker()
			return nil, err
		}
		if len(missing) == 0 {
			s.builds[lang] = &imageState{ready: true}
			s.pools[lang] = s.newPool(lang)
		}
	}
	s.bg.Go(s.reconcileLoop)
	return s, nil
}

func (s *Sandbox) closeDocker() {
	if s.ownsDock {
		_ = s.docker.Close()
	}
}

func (s *Sandbox) newPool(lang Language) *pool.Pool {
	return pool.New(pool.Config{
		Name:        string(lang),
		Image:       images.Tag(images.Language(lang)),
		Docker:      s.docker,
		Owner:       s.owner,
		Warm:        s.cfg.Warm,
		Max:         s.cfg.Concurrency + 2, // + checker sessions
		MemoryBytes: int64(s.cfg.ContainerMemoryMB) << 20,
		PidsLimit:   256,
		CPUs:        s.cfg.TestCPUs,
		WorkBytes:   256 << 20,
		TmpBytes:    64 << 20,
		UsrVolume:   !s.cfg.NoUsrVolume,
		Logger:      s.log,
		OnReset:     func(d time.Duration) { s.metrics.since(stageReset, lang, time.Now().Add(-d)) },
	})
}

func (s *Sandbox) owns(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if p.Owns(id) {
			return true
		}
	}
	return false
}

func (s *Sandbox) reconcileLoop() {
	t := time.NewTicker(s.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if n, err := pool.Reconcile(ctx, s.docker, s.owner, s.owns); err != nil {
				s.log.Warn("reconcile sandbox containers", "err", err)
			} else if n > 0 {
				s.log.Info("removed orphaned sandbox containers", "count", n)
			}
			cancel()
		}
	}
}

// Close removes every container this sandbox started.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	pools := s.pools
	s.mu.Unlock()
	close(s.stop)
	s.bg.Wait()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Go(p.Close)
	}
	wg.Wait()
	s.closeDocker()
	return nil
}

// poolFor returns the language's pool, building its image first when allowed.
func (s *Sandbox) poolFor(ctx context.Context, lang Language) (*pool.Pool, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, reward.Errorf(reward.Unavailable, "the sandbox is shutting down")
	}
	if p := s.pools[lang]; p != nil {
		s.mu.Unlock()
		return p, nil
	}
	tag := images.Tag(images.Language(lang))
	if !s.cfg.BuildMissing {
		s.mu.Unlock()
		return nil, reward.Errorf(reward.Unavailable, "sandbox image %s is missing: run `rewardmesh images build`", tag)
	}
	st := s.builds[lang]
	if st == nil || (st.err != nil && isClosed(st.done)) {
		st = &imageState{done: make(chan struct{})}
		s.builds[lang] = st
		s.bg.Go(func() { s.build(lang, st) })
	}
	s.mu.Unlock()
	select {
	case <-st.done:
	case <-ctx.Done():
		return nil, reward.Errorf(reward.Unavailable, "sandbox image %s is being built; try again shortly", tag)
	}
	if st.err != nil {
		return nil, reward.Errorf(reward.Unavailable, "build sandbox image %s: %v (or run `rewardmesh images build`)", tag, st.err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pools[lang] == nil && !s.closed {
		s.pools[lang] = s.newPool(lang)
	}
	if p := s.pools[lang]; p != nil {
		return p, nil
	}
	return nil, reward.Errorf(reward.Unavailable, "the sandbox is shutting down")
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (s *Sandbox) build(lang Language, st *imageState) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	opts := s.cfg.Build
	opts.Languages = []images.Language{images.Language(lang)}
	w := &logWriter{log: s.log}
	st.err = images.Build(ctx, s.docker, opts, w)
	close(st.done)
}

type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("image build", "output", string(p))
	return len(p), nil
}

// admit takes a judging slot, waiting in the bounded queue; a full queue is
// answered busy at once so a caller can go elsewhere.
func (s *Sandbox) admit(ctx context.Context) (release func(), err error) {
	select {
	case s.waiting <- struct{}{}:
	default:
		return nil, reward.Errorf(reward.Busy, "the sandbox queue is full (%d judging, %d waiting)", s.cfg.Concurrency, s.cfg.QueueSize)
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; <-s.waiting }, nil
	case <-ctx.Done():
		<-s.waiting
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, reward.Errorf(reward.Timeout, "waited for a sandbox slot until the deadline")
		}
		return nil, reward.Errorf(reward.Unavailable, "request cancelled while waiting for a sandbox slot")
	}
}

// admitQueued takes a judging slot as admit does, but waits in line (first come,
// first served) until ctx's deadline when the queue is full, instead of
// answering busy. It is for a caller that has nowhere else to go and a budget to
// spend waiting: /run_code's one-run requests, which verl retries only on a
// gateway timeout. Polling a full queue instead would serve them in no order,
// and the unlucky ones would wait out their budget.
func (s *Sandbox) admitQueued(ctx context.Context) (release func(), err error) {
	// Blocked channel senders are served in order, but two channels in a row
	// are not: one waiter at a time goes past line, so the queue and the slots
	// see queued callers in the order they came.
	select {
	case s.line <- struct{}{}:
	case <-ctx.Done():
		return nil, waitedOut(ctx, "a place in line for the sandbox")
	}
	defer func() { <-s.line }()
	select {
	case s.waiting <- struct{}{}:
	case <-ctx.Done():
		return nil, waitedOut(ctx, "a place in the sandbox queue")
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots; <-s.waiting }, nil
	case <-ctx.Done():
		<-s.waiting
		return nil, waitedOut(ctx, "a sandbox slot")
	}
}

func waitedOut(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return reward.Errorf(reward.Timeout, "waited for %s until the deadline", what)
	}
	return reward.Errorf(reward.Unavailable, "request cancelled while waiting for %s", what)
}

// OwnerID is the owner label value on every container this sandbox starts
// (label rewardmesh.sandbox.owner).
func (s *Sandbox) OwnerID() string { return s.owner.ID }
