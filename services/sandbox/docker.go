package sandbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/pool"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// dockerBackend is where submissions run in production: one warm container
// pool per language (package pool), the images built on first use when
// allowed, and a reconciler that removes the containers nobody owns.
type dockerBackend struct {
	s        *Sandbox
	docker   *client.Client
	ownsDock bool

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

// newDockerBackend connects to Docker, removes containers orphaned by an
// earlier crash, and starts warm pools for the languages whose images exist.
func newDockerBackend(ctx context.Context, s *Sandbox) (*dockerBackend, error) {
	d := &dockerBackend{
		s:      s,
		docker: s.cfg.Docker,
		pools:  map[Language]*pool.Pool{},
		builds: map[Language]*imageState{},
		stop:   make(chan struct{}),
	}
	if d.docker == nil {
		c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("connect to docker: %w", err)
		}
		d.docker, d.ownsDock = c, true
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := d.docker.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	cancel()
	if err != nil {
		d.closeDocker()
		return nil, fmt.Errorf("reach docker: %w", err)
	}
	d.reconcile(ctx)
	// Python's and C++'s containers are started at once; another language's on
	// its first submission (poolFor), so that a sandbox asked only for Python
	// keeps no JVM image's containers warm.
	for _, lang := range []Language{Python, Cpp} {
		missing, err := images.Missing(ctx, d.docker, []images.Language{images.Language(lang)})
		if err != nil {
			d.closeDocker()
			return nil, err
		}
		if len(missing) == 0 {
			d.builds[lang] = &imageState{ready: true}
			d.pools[lang] = d.newPool(lang)
		}
	}
	d.bg.Go(d.reconcileLoop)
	return d, nil
}

func (d *dockerBackend) closeDocker() {
	if d.ownsDock {
		_ = d.docker.Close()
	}
}

func (d *dockerBackend) newPool(lang Language) *pool.Pool {
	cfg := d.s.cfg
	return pool.New(pool.Config{
		Name:        string(lang),
		Image:       images.Tag(images.Language(lang)),
		Docker:      d.docker,
		Owner:       d.s.owner,
		Warm:        cfg.Warm,
		Max:         cfg.Concurrency + 2, // + checker sessions
		MemoryBytes: int64(cfg.ContainerMemoryMB) << 20,
		PidsLimit:   256,
		CPUs:        cfg.TestCPUs,
		WorkBytes:   256 << 20,
		TmpBytes:    64 << 20,
		UsrVolume:   !cfg.NoUsrVolume,
		ForkServer:  forkServer(lang),
		Logger:      d.s.log,
		OnReset:     func(t time.Duration) { d.s.metrics.since(stageReset, lang, time.Now().Add(-t)) },
		OnStart:     func(t time.Duration) { d.s.metrics.since(stageStart, lang, time.Now().Add(-t)) },
	})
}

func (d *dockerBackend) owns(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.pools {
		if p.Owns(id) {
			return true
		}
	}
	return false
}

func (d *dockerBackend) reconcile(ctx context.Context) {
	if n, err := pool.Reconcile(ctx, d.docker, d.s.owner, d.owns); err != nil {
		d.s.log.Warn("reconcile sandbox containers", "err", err)
	} else if n > 0 {
		d.s.log.Info("removed orphaned sandbox containers", "count", n)
	}
}

func (d *dockerBackend) reconcileLoop() {
	t := time.NewTicker(d.s.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			d.reconcile(ctx)
			cancel()
		}
	}
}

func (d *dockerBackend) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	pools := d.pools
	d.mu.Unlock()
	close(d.stop)
	d.bg.Wait()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Go(p.Close)
	}
	wg.Wait()
	d.closeDocker()
}

func (d *dockerBackend) boxes(ctx context.Context, lang Language) (Boxes, error) {
	p, err := d.poolFor(ctx, lang)
	if err != nil {
		return nil, err
	}
	return dockerBoxes{p}, nil
}

// poolFor returns the language's pool, building its image first when allowed.
func (d *dockerBackend) poolFor(ctx context.Context, lang Language) (*pool.Pool, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, reward.Errorf(reward.Unavailable, "the sandbox is shutting down")
	}
	if p := d.pools[lang]; p != nil {
		d.mu.Unlock()
		return p, nil
	}
	tag := images.Tag(images.Language(lang))
	if d.builds[lang] == nil {
		// Built since the start (`rewardmesh images build`), or never looked for.
		missing, err := images.Missing(ctx, d.docker, []images.Language{images.Language(lang)})
		if err != nil {
			d.mu.Unlock()
			return nil, reward.Errorf(reward.Unavailable, "look for sandbox image %s: %v", tag, err)
		}
		if len(missing) == 0 {
			d.builds[lang] = &imageState{ready: true}
			p := d.newPool(lang)
			d.pools[lang] = p
			d.mu.Unlock()
			return p, nil
		}
	}
	if !d.s.cfg.BuildMissing {
		d.mu.Unlock()
		return nil, reward.Errorf(reward.Unavailable, "sandbox image %s is missing: run `rewardmesh images build`", tag)
	}
	st := d.builds[lang]
	if st == nil || (st.err != nil && isClosed(st.done)) {
		st = &imageState{done: make(chan struct{})}
		d.builds[lang] = st
		d.bg.Go(func() { d.build(lang, st) })
	}
	d.mu.Unlock()
	select {
	case <-st.done:
	case <-ctx.Done():
		return nil, reward.Errorf(reward.Unavailable, "sandbox image %s is being built; try again shortly", tag)
	}
	if st.err != nil {
		return nil, reward.Errorf(reward.Unavailable, "build sandbox image %s: %v (or run `rewardmesh images build`)", tag, st.err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pools[lang] == nil && !d.closed {
		d.pools[lang] = d.newPool(lang)
	}
	if p := d.pools[lang]; p != nil {
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

func (d *dockerBackend) build(lang Language, st *imageState) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	opts := d.s.cfg.Build
	opts.Languages = []images.Language{images.Language(lang)}
	w := &logWriter{log: d.s.log}
	st.err = images.Build(ctx, d.docker, opts, w)
	close(st.done)
}

// dockerBoxes are a pool's containers, seen as boxes.
type dockerBoxes struct{ p *pool.Pool }

func (d dockerBoxes) Acquire(ctx context.Context) (Box, error) {
	c, err := d.p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (d dockerBoxes) TryAcquire() Box {
	if c := d.p.TryAcquire(); c != nil {
		return c
	}
	return nil
}

func (d dockerBoxes) Release(b Box) { d.p.Release(b.(*pool.Container)) }
func (d dockerBoxes) Discard(b Box) { d.p.Discard(b.(*pool.Container)) }
func (d dockerBoxes) Close()        { d.p.Close() }

// Settled reports whether the pool has no Docker work left in the background.
func (d dockerBoxes) Settled() bool { return d.p.Settled() }

// forkServer is the interpreter whose fork server an image's containers start:
// the Python image's python3.
func forkServer(lang Language) string {
	if lang == Python {
		return "python3"
	}
	return ""
}
