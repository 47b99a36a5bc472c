package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// runStats prints every running replica's NATS micro stats, one JSON object per
// replica per line: which replicas are up and how much work each took.
func runStats(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("stats", env)
	url := fs.String("nats", orDefault(env.getenv("REWARDMESH_NATS"), nats.DefaultURL), "NATS server URL (env REWARDMESH_NATS)")
	wait := fs.Duration("wait", time.Second, "how long to gather answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	services := fs.Args()
	if len(services) == 0 {
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
	return nil
}
