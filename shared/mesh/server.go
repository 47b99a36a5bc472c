package mesh

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerOptions configures the embedded NATS server `rewardmesh up` runs when it
// is given no --nats.
type ServerOptions struct {
	Host       string // default 127.0.0.1
	Port       int    // 0 picks a free port
	StoreDir   string // JetStream data; a temporary folder when empty
	MaxPayload int32  // default 8 MiB

	// Name is the server's name, which must be unique in a cluster (JetStream
	// tells its peers apart by it); the server makes one up when empty.
	Name string
	// Cluster is the host:port this server listens on for its peers' routes;
	// empty runs it alone. Every server of a cluster runs JetStream, and the
	// mesh's streams are replicated over them (see Replicas).
	Cluster string
	// ClusterName names the cluster (default "rewardmesh"); servers join only a
	// cluster of the same name.
	ClusterName string
	// Routes are the cluster URLs of the peers (nats://host:6222). Listing every
	// server, this one included, is fine: a server skips its own route.
	Routes []string
}

// Embedded is a NATS server running inside this process.
type Embedded struct {
	*server.Server
	tempDir string
}

// StartServer starts an embedded NATS server with JetStream on and waits until it
// takes connections.
func StartServer(opts ServerOptions) (*Embedded, error) {
	e := &Embedded{}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 8 << 20
	}
	if opts.StoreDir == "" {
		dir, err := os.MkdirTemp("", "rewardmesh-nats-")
		if err != nil {
			return nil, fmt.Errorf("jetstream dir: %w", err)
		}
		opts.StoreDir, e.tempDir = dir, dir
	}
	sopts := &server.Options{
		ServerName: opts.Name,
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		MaxPayload: opts.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
		// A client whose host dropped off the network (no FIN, no RST) is found
		// out within about 30 s rather than the default 4 min, so that the queue
		// groups stop handing it requests.
		PingInterval: 10 * time.Second,
		MaxPingsOut:  3,
	}
	if err := clusterOptions(sopts, opts); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server did not start within 15s")
	}
	e.Server = ns
	return e, nil
}

// clusterOptions adds opts' cluster settings to the server's.
func clusterOptions(s *server.Options, opts ServerOptions) error {
	if opts.Cluster == "" {
		if len(opts.Routes) > 0 {
			return errors.New("nats server: routes need a cluster listen address")
		}
		return nil
	}
	host, portText, err := net.SplitHostPort(opts.Cluster)
	if err != nil {
		return fmt.Errorf("cluster address %q: %w", opts.Cluster, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("cluster address %q: port: %w", opts.Cluster, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s.Cluster = server.ClusterOpts{Name: cmp.Or(opts.ClusterName, "rewardmesh"), Host: host, Port: port}
	for _, r := range opts.Routes {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !strings.Contains(r, "://") {
			r = "nats://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("route %q: want nats://host:port", r)
		}
		s.Routes = append(s.Routes, u)
	}
	if s.ServerName == "" {
		// JetStream in a cluster needs a name unique among its peers that lasts
		// across restarts: the host's, with the port for servers sharing a host.
		hostname, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("nats server: name it (a cluster member needs a unique name): %w", err)
		}
		s.ServerName = hostname + "-" + portText
	}
	return nil
}

// Close shuts the server down and removes its temporary data.
func (e *Embedded) Close() {
	e.Shutdown()
	e.WaitForShutdown()
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// Connect dials a NATS server and keeps reconnecting for as long as the process
// lives: a NATS restart must never take a service down with it. url may list
// several servers of a cluster, comma-separated; the connection moves to another
// when its server goes away.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.Default()
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(64<<20),
		// A server whose host dropped off the network (no FIN, no RST) is found
		// out within about 15 s rather than the default 4 min, and the client
		// moves to another server of the list.
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "name", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "name", name, "url", c.ConnectedUrl())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", "name", name, "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	// RetryOnFailedConnect returns at once; give the first connection a moment so
	// that a caller's first request does not race it.
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !nc.IsConnected() {
		nc.Close()
		return nil, fmt.Errorf("connect nats %s: not reachable within 10s", url)
	}
	return nc, nil
}

// Cluster is n embedded NATS servers routed to one another, JetStream on each:
// the mesh's cluster form in one process, for tests and benchmarks.
type Cluster struct {
	Servers []*Embedded
}

// StartCluster starts n routed servers on loopback, their data under dir, and
// waits until JetStream has a leader.
func StartCluster(n int, dir string) (*Cluster, error) {
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster port: %w", err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	c := &Cluster{}
	for i := range n {
		srv, err := StartServer(ServerOptions{
			Name:     fmt.Sprintf("n%d", i+1),
			StoreDir: fmt.Sprintf("%s/n%d", dir, i+1),
			Cluster:  fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Routes:   routes,
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Servers = append(c.Servers, srv)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !c.jetStreamReady() {
		if time.Now().After(deadline) {
			c.Close()
			return nil, errors.New("nats cluster: JetStream elected no leader within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, nil
}

func (c *Cluster) jetStreamReady() bool {
	leader := false
	for _, s := range c.Servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
		leader = leader || s.JetStreamIsLeader()
	}
	return leader
}

// URLs is every server's client URL, comma-separated, as Connect takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Close shuts every server down.
func (c *Cluster) Close() {
	for _, s := range c.Servers {
		if s.Running() {
			s.Close()
		}
	}
}
