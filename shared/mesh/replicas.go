package mesh

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The mesh keeps its state in JetStream: the job streams, the job state bucket
// and the object store of large bodies. On a cluster each is replicated, so that
// losing a server loses nothing: R3 on three servers or more (a majority of
// three survives one loss), R1 on a server alone.

// replicasSetting is the replica count this process was told to use; 0 derives it.
var replicasSetting atomic.Int32

// SetReplicas sets the replica count of every stream, KV bucket and object store
// this process creates or updates (`--replicas`, REWARDMESH_REPLICAS); 0 derives
// it from the cluster (see Replicas). Every process of a mesh must agree on it,
// since each one updates the stores to its count when it starts.
func SetReplicas(n int) { replicasSetting.Store(int32(max(n, 0))) }

// Replicas is the replica count for the stores this process creates on nc's
// NATS: the count SetReplicas set, else min(3, the servers of the cluster nc is
// connected to), which is 1 on a server that is in no cluster.
func Replicas(nc *nats.Conn) int {
	if n := replicasSetting.Load(); n > 0 {
		return int(n)
	}
	return min(3, ClusterSize(nc))
}

// ClusterSize is how many servers nc knows in its cluster: those given to
// Connect and those the cluster announced, told apart by host and port; 1 for a
// server in no cluster. Clients that name the servers by other host names than
// the servers announce (a Docker network's names and addresses) may count a
// server twice: give such a mesh its replica count (SetReplicas).
func ClusterSize(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	seen := map[string]bool{}
	for _, u := range nc.Servers() {
		if p, err := url.Parse(u); err == nil {
			seen[p.Host] = true
		}
	}
	return max(len(seen), 1)
}

// ensureStore runs create (a CreateOrUpdate of a stream, bucket or store) until
// it succeeds, while JetStream is only temporarily unable to: a cluster still
// electing its leader or missing the peers for the replica count, a server
// restarting. It gives up at ctx's end or after a minute. Each try has a few
// seconds: a cluster with no JetStream leader yet leaves the request unanswered.
func ensureStore(ctx context.Context, what string, create func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		try, cancelTry := context.WithTimeout(ctx, 5*time.Second)
		err := create(try)
		cancelTry()
		if err == nil {
			return nil
		}
		var api *jetstream.APIError
		permanent := errors.As(err, &api) && api.Code != 503
		if permanent || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, 2*time.Second)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// StoreInfo is one of the mesh's JetStream stores as `rewardmesh stats` shows it.
type StoreInfo struct {
	Store    string   `json:"store"`
	Replicas int      `json:"replicas"`
	Leader   string   `json:"leader,omitempty"`
	Current  []string `json:"current,omitempty"` // replicas caught up with the leader
	Lagging  []string `json:"lagging,omitempty"` // replicas offline or behind
	Messages uint64   `json:"messages"`
}

// Stores reports the replication of every store the mesh keeps; a store not
// created yet is left out.
func Stores(ctx context.Context, js jetstream.JetStream) ([]StoreInfo, error) {
	names := []string{JobsStream, ResultsStream, "KV_" + JobStateBucket, "OBJ_" + PayloadBucket}
	var out []StoreInfo
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info := s.CachedInfo()
		si := StoreInfo{Store: name, Replicas: max(info.Config.Replicas, 1), Messages: info.State.Msgs}
		if c := info.Cluster; c != nil {
			si.Leader = c.Leader
			for _, p := range c.Replicas {
				if p.Current && !p.Offline {
					si.Current = append(si.Current, p.Name)
				} else {
					si.Lagging = append(si.Lagging, p.Name)
				}
			}
		}
		out = append(out, si)
	}
	return out, nil
}
