// Package pool keeps warm sandbox containers (Docker, through moby/moby/client),
// each running the runner agent, and hands one to a submission at a time. A
// container goes back to the pool only after its agent has killed every process
// and wiped every writable place; one that cannot be reset is removed and
// replaced. Every container carries the label `rewardmesh.sandbox` and its
// owner's identity, so a reconciler can remove the ones nobody owns.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

// Labels every sandbox container carries.
const (
	LabelSandbox = "rewardmesh.sandbox"       // present on all of them
	LabelOwner   = "rewardmesh.sandbox.owner" // the owning pool's instance id
	LabelHost    = "rewardmesh.sandbox.host"  // the owner's host name
	LabelPID     = "rewardmesh.sandbox.pid"   // the owner's process id
	LabelStart   = "rewardmesh.sandbox.start" // the owner process's start time, to tell a reused pid
)

// Config describes one pool: one image, containers with the same limits.
type Config struct {
	Name   string // for logs: python, cpp
	Image  string
	Docker *client.Client
	Owner  Owner

	Warm int // idle containers kept ready
	Max  int // containers at most, busy and idle

	MemoryBytes int64   // the container's memory cgroup limit (no swap)
	PidsLimit   int64   // the container's pids cgroup limit
	CPUs        float64 // CPU quota in cores (CFS); 0 leaves it unset
	WorkBytes   int64   // size of the /work tmpfs
	TmpBytes    int64   // size of /tmp and /dev/shm
	// MaxUses is how many submissions a container serves before it is due for
	// replacement [200]; each is due after between half and all of it. A due
	// container is replaced once the pool is quiet (see QuietAfter); under load
	// that never pauses it serves on, up to busyUses times its share, and is then
	// replaced after its submission.
	MaxUses int
	// QuietAfter is how long the pool must have gone without a submission
	// before a due container is replaced [250ms]: the Docker work of a
	// replacement (hundreds of milliseconds of CPU) then never runs beside a
	// program, whose time it would take.
	QuietAfter time.Duration
	// UsrVolume serves the image's /usr from a read-only Docker volume (see
	// usrVolume): much faster process starts on FUSE-backed storage drivers.
	UsrVolume bool
	// ForkServer is the interpreter (python3) whose fork server a new
	// container's agent starts at once, so that the first run finds it ready.
	ForkServer string

	Logger *slog.Logger
	// OnReset, when set, is told how long each reset after a submission took.
	OnReset func(time.Duration)
	// OnStart, when set, is told how long each container start took (create,
	// attach, start, the agent's first answer), whether it succeeded or not.
	OnStart func(time.Duration)
}

// Owner identifies the process that owns containers.
type Owner struct {
	ID    string // unique per pool owner instance
	Host  string
	PID   int
	Start string // process start time (from /proc), "" if unknown
}

// Self is the identity of this process, with a fresh instance id.
func Self() Owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return Owner{
		ID:    fmt.Sprintf("%s-%d-%08x", host, pid, rand.Uint32()),
		Host:  host,
		PID:   pid,
		Start: processStart(pid),
	}
}

// processStart reads field 22 of /proc/PID/stat: the start time, which tells a
// live owner from a later process that reused its pid.
func processStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name may hold spaces; fields count from its closing paren.
	i := len(data) - 1
	for i >= 0 && data[i] != ')' {
		i--
	}
	fields := splitFields(string(data[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\n' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// Pool is a warm pool of containers of one image.
type Pool struct {
	cfg  Config
	log  *slog.Logger
	idle chan *Container

	mu    sync.Mutex
	live  map[string]*Container // every container this pool created and has not removed
	total int                   // live plus being created
	// resetting counts containers out of idle that are back within
	// milliseconds, far sooner than a new one starts: released ones whose reset
	// is under way, and the idle ones the retirer looks over.
	resetting int
	// busy counts the containers handed out and not yet given back; lastUse is
	// when one was last handed out or given back.
	busy    int
	lastUse time.Time
	// removing counts the containers whose removal Docker is still doing.
	removing int
	closed   bool
	wake     chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup // the filler and the retirer
	jobs     sync.WaitGroup // releases and discards
	uidSeq   atomic.Int64

	volMu    sync.Mutex
	volTried bool
	volName  string
}

// errFull stops the filler: the pool is at Max or closed.
var errFull = errors.New("pool full or closed")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("sandbox pool is closed")

// New starts a pool and its filler, which keeps Warm containers ready.
func New(cfg Config) *Pool {
	if cfg.Max <= 0 {
		cfg.Max = 4
	}
	cfg.Warm = min(cfg.Warm, cfg.Max)
	if cfg.MaxUses <= 0 {
		cfg.MaxUses = 200
	}
	if cfg.QuietAfter <= 0 {
		cfg.QuietAfter = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pool{
		cfg:  cfg,
		log:  cfg.Logger.With("pool", cfg.Name),
		idle: make(chan *Container, cfg.Max),
		live: map[string]*Container{},
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	// Distinct uids per container keep RLIMIT_NPROC, which counts per uid across
	// the host, from letting one container's fork bomb starve another's.
	p.uidSeq.Store(int64(200000 + rand.IntN(1_000_000)*8))
	p.wg.Go(p.fill)
	p.wg.Go(p.retire)
	return p
}

// busyUses bounds how far past its share of MaxUses a container serves while
// the pool never goes quiet.
const busyUses = 5

// retire replaces due containers while the pool is quiet, one at a time: a
// due idle container is removed and another started in its place. The next
// waits until the pool is quiet again.
func (p *Pool) retire() {
	t := time.NewTicker(p.cfg.QuietAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		if c := p.takeDue(); c != nil {
			p.log.Debug("replacing a container that served its share, while the pool is quiet", "container", short(c.ID), "uses", c.uses.Load())
			p.replace(c)
		}
	}
}

// replace removes c and starts the container that takes its place, so that
// the pool keeps the size its load made it (the filler alone would restore
// only Warm idle ones, and the load would start the rest as it came back).
func (p *Pool) replace(c *Container) {
	p.remove(c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := p.create(ctx)
	if err != nil {
		if !errors.Is(err, errFull) {
			p.log.Warn("start a container in place of a retired one", "err", err)
		}
		p.kick()
		return
	}
	p.put(n)
}

// quiet reports, under p.mu, whether no submission is under way or ended
// within QuietAfter, and no container is being started, reset or looked over.
func (p *Pool) quiet() bool {
	return p.busy == 0 && p.resetting == 0 && p.total == len(p.live) && time.Since(p.lastUse) >= p.cfg.QuietAfter
}

// takeDue takes a due container out of idle while the pool is quiet; nil when
// the pool is busy or no idle container is due. The rest go back to idle; an
// Acquire meanwhile waits for them as for a reset (resetting counts them).
func (p *Pool) takeDue() *Container {
	p.mu.Lock()
	if p.closed || !p.quiet() {
		p.mu.Unlock()
		return nil
	}
	p.resetting++
	p.mu.Unlock()
	var due *Container
	var keep []*Container
	for len(keep) < cap(p.idle) {
		var c *Container
		select {
		case c = <-p.idle:
		default:
		}
		if c == nil {
			break
		}
		if due == nil && c.due() {
			due = c
		} else {
			keep = append(keep, c)
		}
	}
	for _, c := range keep {
		p.put(c)
	}
	p.mu.Lock()
	p.resetting--
	p.mu.Unlock()
	return due
}

// Settled reports whether the pool has nothing to do in the background: no
// container being started, reset or removed, and none due for replacement.
// A benchmark waits for it before it times anything else on the host.
func (p *Pool) Settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resetting > 0 || p.total != len(p.live) || p.removing > 0 {
		return false
	}
	if !p.closed && len(p.idle) < p.cfg.Warm && p.total < p.cfg.Max {
		return false // the filler has a start to make
	}
	for _, c := range p.live {
		if c.due() {
			return false
		}
	}
	return true
}

// fill keeps Warm idle containers, replacing the ones that were used up.
func (p *Pool) fill() {
	for {
		for p.needWarm() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			c, err := p.create(ctx)
			cancel()
			if errors.Is(err, errFull) {
				break
			}
			if err != nil {
				p.log.Warn("start warm container", "err", err)
				break
			}
			p.put(c)
		}
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-time.After(5 * time.Second):
		}
	}
}

func (p *Pool) needWarm() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.total >= p.cfg.Max {
		return false
	}
	return len(p.idle) < p.cfg.Warm
}

func (p *Pool) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// put hands an idle container to the pool, or removes it if the pool closed.
func (p *Pool) put(c *Container) {
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.idle <- c // never blocks: idle holds at most Max containers
	}
	p.mu.Unlock()
	if closed {
		p.remove(c)
	}
}

// resetWait is how long Acquire waits for a container being reset before it
// starts a new one: a reset takes milliseconds, a start hundreds of them.
const resetWait = 250 * time.Millisecond

// Acquire returns a container for one submission: an idle one; else one being
// reset, if it is back within resetWait; else a new one when the pool is below
// Max; else the next one released.
func (p *Pool) Acquire(ctx context.Context) (*Container, error) {
	c, err := p.acquire(ctx)
	if err == nil {
		p.handedOut()
	}
	return c, err
}

// handedOut counts a container handed out for a submission.
func (p *Pool) handedOut() {
	p.mu.Lock()
	p.busy++
	p.lastUse = time.Now()
	p.mu.Unlock()
}

// givenBack counts a container given back after its submission.
func (p *Pool) givenBack() {
	p.mu.Lock()
	p.busy--
	p.lastUse = time.Now()
	p.mu.Unlock()
}

func (p *Pool) acquire(ctx context.Context) (*Container, error) {
	for {
		select {
		case c := <-p.idle:
			if p.usable(c) {
				return c, nil
			}
			continue
		default:
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.resetting > 0 {
			p.mu.Unlock()
			if c := p.awaitReset(ctx); c != nil {
				return c, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("wait for a %s container: %w", p.cfg.Name, err)
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				return nil, ErrClosed
			}
		}
		if p.total < p.cfg.Max {
			p.total++
			p.mu.Unlock()
			c, err := p.createCounted(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		p.mu.Unlock()
		select {
		case c := <-p.idle:
			if p.usable(c) {
				return c, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a %s container: %w", p.cfg.Name, ctx.Err())
		case <-p.done:
			return nil, ErrClosed
		}
	}
}

// awaitReset waits up to resetWait for a container to come back from its
// reset; nil when none did (or ctx ended, or the pool closed).
func (p *Pool) awaitReset(ctx context.Context) *Container {
	t := time.NewTimer(resetWait)
	defer t.Stop()
	for {
		select {
		case c := <-p.idle:
			if p.usable(c) {
				return c
			}
		case <-t.C:
			return nil
		case <-ctx.Done():
			return nil
		case <-p.done:
			return nil
		}
	}
}

// usable checks a container just taken from idle (the filler is told to make
// up for it): a dead one is removed, and false.
func (p *Pool) usable(c *Container) bool {
	p.kick()
	if c.Alive() {
		return true
	}
	p.remove(c)
	return false
}

// TryAcquire returns an idle container, or nil when none is idle now: it
// neither waits nor starts one.
func (p *Pool) TryAcquire() *Container {
	for {
		select {
		case c := <-p.idle:
			if p.usable(c) {
				p.handedOut()
				return c
			}
		default:
			return nil
		}
	}
}

// Release gives a container back after a submission. It is reset before another
// submission sees it; one that cannot be reset, whose agent holds much memory,
// or that has served busyUses times its share of MaxUses is removed (a due
// container is otherwise replaced by the retirer once the pool is quiet).
func (p *Pool) Release(c *Container) {
	p.mu.Lock()
	p.busy--
	p.lastUse = time.Now()
	p.resetting++
	p.mu.Unlock()
	p.background(func() {
		defer func() {
			p.mu.Lock()
			p.resetting--
			p.mu.Unlock()
		}()
		if uses := c.uses.Add(1); c.Alive() && uses < int64(busyUses*c.maxUses) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			// The submission's last run asked for the reset already (ResetAfter):
			// its answer is awaited; else the reset is asked for now.
			resp, asked, err := c.AwaitReset(ctx)
			if !asked {
				resp, err = c.Do(ctx, runner.Request{Op: runner.OpReset})
			}
			cancel()
			if p.cfg.OnReset != nil {
				p.cfg.OnReset(time.Since(start))
			}
			switch {
			case err == nil && !resp.Retire:
				p.put(c)
				return
			case err == nil:
				p.log.Info("replacing a container whose agent used much memory (it would skew programs' memory readings)", "container", short(c.ID))
			default:
				p.log.Warn("reset failed; replacing the container", "container", short(c.ID), "err", err)
			}
		}
		p.remove(c)
		p.kick()
	})
}

// background runs fn on its own goroutine, which Close waits for; after Close it
// runs fn at once, so no container outlives Close.
func (p *Pool) background(fn func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		fn()
		return
	}
	p.jobs.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.jobs.Done()
		fn()
	}()
}

// Discard removes a container that must not serve again (its agent misbehaved).
func (p *Pool) Discard(c *Container) {
	p.givenBack()
	p.background(func() {
		p.remove(c)
		p.kick()
	})
}

func (p *Pool) create(ctx context.Context) (*Container, error) {
	p.mu.Lock()
	if p.closed || p.total >= p.cfg.Max {
		p.mu.Unlock()
		return nil, errFull
	}
	p.total++
	p.mu.Unlock()
	return p.createCounted(ctx)
}

// createCounted creates a container for a slot already counted in total.
func (p *Pool) createCounted(ctx context.Context) (*Container, error) {
	begin := time.Now()
	c, err := p.start(ctx)
	if p.cfg.OnStart != nil {
		p.cfg.OnStart(time.Since(begin))
	}
	p.mu.Lock()
	if err != nil {
		p.total--
		p.mu.Unlock()
		return nil, err
	}
	p.live[c.ID] = c
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.remove(c)
		return nil, ErrClosed
	}
	return c, nil
}

func (p *Pool) start(ctx context.Context) (*Container, error) {
	docker := p.cfg.Docker
	uid := p.uidSeq.Add(1)
	pids := p.cfg.PidsLimit
	tmpfs := func(size int64) string {
		return "rw,exec,nosuid,nodev,mode=1777,size=" + strconv.FormatInt(size, 10)
	}
	o := p.cfg.Owner
	mounts := p.usrMounts(ctx)
	vol := ""
	if len(mounts) > 0 {
		vol = mounts[0].Source
	}
	res := container.Resources{
		Memory:     p.cfg.MemoryBytes,
		MemorySwap: p.cfg.MemoryBytes,
		PidsLimit:  &pids,
		NanoCPUs:   int64(p.cfg.CPUs * 1e9),
		Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}},
	}
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:           p.cfg.Image,
			User:            fmt.Sprintf("%d:%d", uid, uid),
			OpenStdin:       true,
			StdinOnce:       true, // the agent sees EOF, and exits, when its owner goes away
			AttachStdin:     true,
			AttachStdout:    true,
			AttachStderr:    true,
			NetworkDisabled: true,
			WorkingDir:      "/work",
			Labels: map[string]string{
				LabelSandbox: p.cfg.Name,
				LabelOwner:   o.ID,
				LabelHost:    o.Host,
				LabelPID:     strconv.Itoa(o.PID),
				LabelStart:   o.Start,
			},
		},
		HostConfig: &container.HostConfig{
			NetworkMode:    "none",
			ReadonlyRootfs: true,
			Tmpfs:          map[string]string{"/work": tmpfs(p.cfg.WorkBytes), "/tmp": tmpfs(p.cfg.TmpBytes)},
			ShmSize:        p.cfg.TmpBytes,
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			IpcMode:        container.IPCModePrivate,
			LogConfig:      container.LogConfig{Type: "none"}, // the protocol is not a log
			Resources:      res,
			Mounts:         mounts,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create %s container: %w", p.cfg.Name, err)
	}
	id := created.ID
	fail := func(err error) (*Container, error) {
		// The daemon may hold a half-made container; remove it on a fresh deadline.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		_, _ = docker.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
		return nil, err
	}
	att, err := docker.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return fail(fmt.Errorf("attach %s container: %w", p.cfg.Name, err))
	}
	if _, err := docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		att.Close()
		p.volumeFailed(vol)
		return fail(fmt.Errorf("start %s container: %w", p.cfg.Name, err))
	}
	c := newContainer(id, att.HijackedResponse)
	// Containers started together would retire together, in a burst of Docker
	// work under load; a random share of MaxUses less spreads them out.
	c.maxUses = p.cfg.MaxUses - rand.IntN(p.cfg.MaxUses/2+1)
	ping := runner.Request{Op: runner.OpPing}
	if p.cfg.ForkServer != "" {
		ping.Fork, ping.Argv = true, []string{p.cfg.ForkServer}
	}
	resp, err := c.Do(ctx, ping)
	if err != nil {
		c.close()
		p.volumeFailed(vol)
		return fail(fmt.Errorf("ping the agent in %s: %w", short(id), err))
	}
	if err := p.checkCgroup(resp.Cgroup); err != nil {
		c.close()
		return fail(fmt.Errorf("%s container %s: %w", p.cfg.Name, short(id), err))
	}
	return c, nil
}

// checkCgroup checks that the container's cgroup, the meter of every test, has
// the limits the container was created with. A daemon that cannot apply them
// (rootless Docker on cgroup v1 discards them with a warning) would leave
// programs unbounded, and the sandbox would judge on regardless.
func (p *Pool) checkCgroup(cg *runner.Cgroup) error {
	if cg == nil || cg.Version == 0 {
		// Without it, CPU time would leave out every process a program does not
		// wait for.
		why := "no report"
		if cg != nil {
			why = cg.Error
		}
		return fmt.Errorf("the agent found no cgroup to meter tests with: %s", why)
	}
	var wrong []string
	if p.cfg.MemoryBytes > 0 && cg.MemoryBytes != p.cfg.MemoryBytes {
		wrong = append(wrong, fmt.Sprintf("memory limit %d bytes, want %d", cg.MemoryBytes, p.cfg.MemoryBytes))
	}
	if p.cfg.PidsLimit > 0 && cg.Pids != p.cfg.PidsLimit {
		wrong = append(wrong, fmt.Sprintf("pids limit %d, want %d", cg.Pids, p.cfg.PidsLimit))
	}
	if p.cfg.CPUs > 0 && math.Abs(cg.CPUs-p.cfg.CPUs) > 0.01 {
		wrong = append(wrong, fmt.Sprintf("CPU quota %.2f cores, want %.2f", cg.CPUs, p.cfg.CPUs))
	}
	if len(wrong) > 0 {
		return fmt.Errorf("the daemon did not apply the container's limits (%s): does it run rootless on cgroup v1?", strings.Join(wrong, "; "))
	}
	return nil
}

// remove kills and removes a container; it runs on its own deadline, whatever
// happened to the request that used it.
func (p *Pool) remove(c *Container) {
	c.close()
	p.mu.Lock()
	_, ok := p.live[c.ID]
	if ok {
		delete(p.live, c.ID)
		p.total--
		p.removing++
	}
	p.mu.Unlock()
	if !ok {
		return // removed already
	}
	defer func() {
		p.mu.Lock()
		p.removing--
		p.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.cfg.Docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
	if err != nil {
		// The reconciler will find it: it carries our labels.
		p.log.Warn("remove container", "container", short(c.ID), "err", err)
	}
}

// Owns reports whether the pool created the container and has not removed it.
func (p *Pool) Owns(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.live[id]
	return ok
}

// Close removes every container of the pool and waits for the removals.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.wg.Wait()
	p.jobs.Wait()
	p.mu.Lock()
	all := make([]*Container, 0, len(p.live))
	for _, c := range p.live {
		all = append(all, c)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(func() { p.remove(c) })
	}
	wg.Wait()
}

func short(id string) string { return id[:min(12, len(id))] }

// Container is one sandbox container and the open stream to its agent.
type Container struct {
	ID      string
	uses    atomic.Int64 // submissions served
	maxUses int          // MaxUses, less a random share, so that containers retire apart
	*runner.Conn
}

func newContainer(id string, conn client.HijackedResponse) *Container {
	out := &demux{src: conn.Reader}
	return &Container{ID: id, Conn: runner.NewConn(out, conn.Conn, closerFunc(conn.Close), out.stderr)}
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// due reports whether c has served its share of MaxUses.
func (c *Container) due() bool { return c.uses.Load() >= int64(c.maxUses) }

func (c *Container) close() { c.Close(errors.New("container closed")) }
