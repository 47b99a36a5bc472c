package node

import (
	"context"
	"log/slog"
	"slices"

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

// builder makes a service's mesh configuration, and what to close at shutdown.
type builder func(ctx context.Context, env Env) (mesh.Config, func() error, error)

// builders are the services a node can run, by name.
var builders = map[string]builder{}

// Names lists the services a node can run, in start order.
func Names() []string {
	names := make([]string, 0, len(builders))
	for name := range builders {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
