// Package sandbox judges untrusted programs in Docker: the `sandbox` mesh service
// behind POST /v1/code/run, /v1/code/judge and the "code" domain of /v1/rewards.
// Programs run in warm containers (package pool) under the runner agent (package
// runner), which applies each test's limits; the comparison with the expected
// output happens here, outside the container, so a program never sees an answer.
package sandbox

import (
	"context"
	"errors"
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
	// Warm is how many idle containers each language keeps ready [Concurrency]:
	// as many submissions as are judged at once find one started, and a
	// container being reset after a submission is waited for rather than
	// replaced by a start (see pool.Acquire). Each idle container costs its
	// agent's few MiB.
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
	// Boxes, when set, makes each language's boxes instead of Docker's
	// container pools: tests give LocalBoxes to test the judge without Docker.
	Boxes func(Language) (Boxes, error)
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
		c.Warm = c.Concurrency
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
	cfg     Config
	owner   pool.Owner
	log     *slog.Logger
	metrics *metrics
	boxes   backend

	slots   chan struct{} // Concurrency
	cpus    chan struct{} // programsAtOnce: programs running
	pairMu  sync.Mutex    // an interactive test taking two CPU slots (twoCPUs)
	waiting chan struct{} // QueueSize + Concurrency: admitted submissions
	line    chan struct{} // the one queued caller waiting for the queue (admitQueued)
	cache   *binaryCache

	mu     sync.Mutex
	closed bool
}

// backend makes each language's boxes: Docker's container pools (docker.go),
// or the in-process agents of Config.Boxes.
type backend interface {
	// boxes returns the language's boxes, made (and its image built) on first use.
	boxes(ctx context.Context, lang Language) (Boxes, error)
	// close closes every language's boxes.
	close()
}

// New starts a sandbox. Without Config.Boxes it connects to Docker, removes
// containers orphaned by an earlier crash, and starts warm pools for the
// languages whose images exist.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	cfg.defaults()
	s := &Sandbox{
		cfg:     cfg,
		owner:   pool.Self(),
		log:     cfg.Logger.With("service", "sandbox"),
		metrics: newMetrics(cfg.Metrics),
		slots:   make(chan struct{}, cfg.Concurrency),
		cpus:    make(chan struct{}, cfg.programsAtOnce()),
		waiting: make(chan struct{}, cfg.Concurrency+cfg.QueueSize),
		line:    make(chan struct{}, 1),
		cache:   newBinaryCache(256 << 20),
	}
	if cfg.Boxes != nil {
		s.boxes = &madeBoxes{make: cfg.Boxes, made: map[Language]Boxes{}}
		return s, nil
	}
	d, err := newDockerBackend(ctx, s)
	if err != nil {
		return nil, err
	}
	s.boxes = d
	return s, nil
}

// Close removes every container this sandbox started.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.boxes.close()
	return nil
}

// boxesFor returns the language's boxes, building its image first when allowed.
func (s *Sandbox) boxesFor(ctx context.Context, lang Language) (Boxes, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, reward.Errorf(reward.Unavailable, "the sandbox is shutting down")
	}
	// Languages share an image's containers: C and C++20 run in the C++ image,
	// bash in the Python image.
	return s.boxes.boxes(ctx, lang.image())
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
