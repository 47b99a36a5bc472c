package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// runStats prints every running replica's NATS micro stats, one JSON object per
// replica per line: which replicas are up and how much work each took. Asked
// for no service in particular, it then prints one line per JetStream store of
// the mesh: its replica count, leader, and which replicas are current.
func runStats(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("stats", env)
	url := fs.String("nats", orDefault(env.getenv("REWARDMESH_NATS"), nats.DefaultURL), "NATS server URLs, comma-separated (env REWARDMESH_NATS)")
	wait := fs.Duration("wait", time.Second, "how long to gather answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	services := fs.Args()
	everything := len(services) == 0
	if everything {
		services = []string{""} // every service
	}
	nc, err := mesh.Connect(*url, "rewardmesh-stats", quietLogger(env))
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, service := range services {
		subject, err := micro.ControlSubject(micro.StatsVerb, service, "")
		if err != nil {
			return err
		}
		inbox := nats.NewInbox()
		ch := make(chan *nats.Msg, 64)
		sub, err := nc.ChanSubscribe(inbox, ch)
		if err != nil {
			return err
		}
		if err := nc.PublishRequest(subject, inbox, nil); err != nil {
			return err
		}
		timeout := time.After(*wait)
	gather:
		for {
			select {
			case m := <-ch:
				var s micro.Stats
				if json.Unmarshal(m.Data, &s) != nil {
					continue
				}
				line, _ := json.Marshal(s)
				fmt.Fprintln(env.stdout, string(line))
			case <-timeout:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		_ = sub.Unsubscribe()
	}
	if everything {
		return printStores(ctx, env, nc)
	}
	return nil
}

// printStores prints the mesh's JetStream stores, one JSON line each, and the
// cluster as this client sees it.
func printStores(ctx context.Context, env *environment, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stores, err := mesh.Stores(ctx, js)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(map[string]any{"nats": nc.ConnectedServerName(), "cluster": nc.ConnectedClusterName(),
		"cluster_servers": mesh.ClusterSize(nc), "derived_replicas": mesh.Replicas(nc)})
	fmt.Fprintln(env.stdout, string(line))
	for _, s := range stores {
		line, _ := json.Marshal(s)
		fmt.Fprintln(env.stdout, string(line))
	}
	return nil
}
