package node

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// Env is what a service gets to build itself from: configuration comes from
// REWARDMESH_* environment variables, documented per service.
type Env struct {
	Getenv func(string) string
	Log    *slog.Logger
	Conn   *nats.Conn
	// Metrics is the process's Prometheus registry: the gateway's /metrics, or
	// --metrics for a node without one.
	Metrics prometheus.Registerer
}

// service is one service a node can run: its name on the mesh and how it
// starts.
type service struct {
	name  string
	start startFunc
}

// startFunc starts a service: its mesh configuration, and what to close at
// shutdown.
type startFunc func(ctx context.Context, env Env) (mesh.Config, func() error, error)

// meshService is what a service's New returns under the contract every
// service keeps (see startWith).
type meshService interface {
	MeshConfig() mesh.Config
	Close() error
}

// startWith starts a service that keeps the contract: ConfigFromEnv reads its
// settings (refusing a bad value, naming the variable), New builds it, and the
// service gives its mesh configuration and closes. attach, for a service that
// logs or counts, hands it the node's logger and metrics registry.
func startWith[C any, S meshService](
	configFromEnv func(getenv func(string) string) (C, error),
	newService func(context.Context, C) (S, error),
	attach ...func(*C, Env),
) startFunc {
	return func(ctx context.Context, env Env) (mesh.Config, func() error, error) {
		cfg, err := configFromEnv(env.Getenv)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		for _, a := range attach {
			a(&cfg, env)
		}
		svc, err := newService(ctx, cfg)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		return svc.MeshConfig(), svc.Close, nil
	}
}

// Names lists the services a node can run, in start order.
func Names() []string {
	all := services()
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.name
	}
	return names
}

// lookup is the named service, or false when a node cannot run it.
func lookup(name string) (service, bool) {
	for _, s := range services() {
		if s.name == name {
			return s, true
		}
	}
	return service{}, false
}
