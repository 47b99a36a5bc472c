package mesh

import (
	"fmt"
	"log/slog"
	"os"
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
	ns, err := server.NewServer(&server.Options{
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		MaxPayload: opts.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
	})
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

// Close shuts the server down and removes its temporary data.
func (e *Embedded) Close() {
	e.Shutdown()
	e.WaitForShutdown()
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// Connect dials a NATS server and keeps reconnecting for as long as the process
// lives: a NATS restart must never take a service down with it.
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
