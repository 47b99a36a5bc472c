package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rewardmesh/rewardmesh/cmd/rewardmesh/internal/node"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// command is one subcommand of rewardmesh.
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is the process's outside world, so that a test can run the whole
// program.
type environment struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	// usage prints the help of the command that ran, when it asked for it to be
	// shown (-h, or a bad flag); see newFlagSet.
	usage func(io.Writer)
}

func commands() map[string]command {
	return map[string]command{
		"up":     {"run every service in one process (embedded NATS unless --nats)", runUp},
		"serve":  {"run one service against an external NATS", runServe},
		"bench":  {"measure speed against a baseline run in the same process (gateway, ...)", runBench},
		"images": {"build the sandbox images (debootstrap base where no registry answers), or list them with their versions", runImages},
		"eval":   {"run a LiveCodeBench, Codeforces or IOI batch (eval lcb|codeforces|ioi)", runEval},
		"train":  {"GRPO training on a demonstration task, rewards from the mesh", runTrain},
		"stats":  {"every replica's NATS stats: which are up, what work each took", runStats},
		"nats":   {"run a NATS server with JetStream (compose's message bus)", runNATS},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) > 1 && args[0] == "help" {
		// `help eval ioi` is `eval ioi -h`: the command's own help.
		args = append(slices.Clone(args[1:]), "-h")
	}
	if len(args) == 0 || isHelp(args[0]) {
		usage(stdout)
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := cmd.run(ctx, env, args[1:])
	helpAsked := errors.Is(err, flag.ErrHelp)
	switch {
	case env.usage != nil && helpAsked:
		env.usage(env.stdout)
	case env.usage != nil:
		env.usage(env.stderr)
	}
	if helpAsked {
		return nil
	}
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "rewardmesh: rewards for reinforcement learning of reasoning models\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nrun `rewardmesh COMMAND -h` for its flags")
}

// meshFlags are the flags every command that runs services shares. Each defaults
// from a REWARDMESH_* environment variable, which is how docker-compose sets them.
type meshFlags struct {
	nats, redis, http, data, logLevel string
	shutdown                          time.Duration
	replicas                          int
}

func (m *meshFlags) register(fs *flag.FlagSet, env *environment, httpDefault string) {
	fs.StringVar(&m.nats, "nats", env.getenv("REWARDMESH_NATS"), "NATS server URLs, comma-separated: the servers of a cluster, tried in turn (env REWARDMESH_NATS); empty embeds one")
	fs.StringVar(&m.redis, "redis", env.getenv("REWARDMESH_REDIS"), "Redis URL for the reward cache (env REWARDMESH_REDIS); empty caches in memory")
	fs.StringVar(&m.http, "http", orDefault(env.getenv("REWARDMESH_HTTP"), httpDefault), "gateway listen address (env REWARDMESH_HTTP)")
	fs.StringVar(&m.data, "data", env.getenv("REWARDMESH_DATA"), "embedded NATS JetStream data folder (env REWARDMESH_DATA); temporary when empty")
	fs.StringVar(&m.logLevel, "log-level", orDefault(env.getenv("REWARDMESH_LOG_LEVEL"), "info"), "debug, info, warn or error")
	fs.DurationVar(&m.shutdown, "shutdown-timeout", 30*time.Second, "how long in-flight work may finish on SIGTERM")
	replicasFlag(fs, env, &m.replicas)
}

// replicasFlag registers --replicas, which defaults from REWARDMESH_REPLICAS; a
// value of it that does not parse is refused by setReplicas.
func replicasFlag(fs *flag.FlagSet, env *environment, n *int) {
	v, _ := envReplicas(env)
	fs.IntVar(n, "replicas", v, "copies of each JetStream stream, bucket and store the mesh keeps (env REWARDMESH_REPLICAS); 0: min(3, the NATS cluster's servers), 1 on a server alone")
}

func envReplicas(env *environment) (int, error) {
	v := env.getenv("REWARDMESH_REPLICAS")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("REWARDMESH_REPLICAS=%q: want a count, 0 to derive it from the cluster", v)
	}
	return n, nil
}

// setReplicas checks REWARDMESH_REPLICAS and the count n (--replicas) and hands
// n to the mesh.
func setReplicas(env *environment, n int) error {
	if _, err := envReplicas(env); err != nil {
		return err
	}
	if n < 0 || n > 5 {
		return fmt.Errorf("--replicas %d: want 0 (derived) to 5, JetStream's most", n)
	}
	mesh.SetReplicas(n)
	return nil
}

func (m *meshFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", m.logLevel, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

func runUp(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("up", env)
	var m meshFlags
	m.register(fs, env, "127.0.0.1:8080")
	services := fs.String("services", "", "comma-separated services to run (default: all, and the gateway)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := setReplicas(env, m.replicas); err != nil {
		return err
	}
	log, err := m.logger(env.stderr)
	if err != nil {
		return err
	}
	opts := node.Options{NATSURL: m.nats, DataDir: m.data, HTTPAddr: m.http, RedisURL: m.redis,
		Getenv: env.getenv, Log: log, ShutdownTimeout: m.shutdown}
	if *services != "" {
		opts.Services = strings.Split(*services, ",")
	}
	return serveUntilDone(ctx, env, opts)
}

func runServe(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 && args[0] == "trainer" {
		// The trainer is the mesh's client, not a service others call: serving it is
		// `train` joined to a running mesh, with train's flags.
		return runTrainer(ctx, env, args[1:], true)
	}
	fs := newFlagSet("serve", env)
	var m meshFlags
	m.register(fs, env, ":8080")
	metrics := fs.String("metrics", env.getenv("REWARDMESH_METRICS"), "serve Prometheus metrics at ADDR/metrics (env REWARDMESH_METRICS); the gateway serves them at its own /metrics")
	if len(args) > 0 && isHelp(args[0]) {
		return fs.Parse([]string{"-h"}) // `serve -h`: the flags, before a service is named
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("serve: name the service: one of %v, gateway or trainer", node.Names())
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if m.nats == "" {
		return fmt.Errorf("serve %s: --nats URL is required (a replica joins an existing mesh)", name)
	}
	if err := setReplicas(env, m.replicas); err != nil {
		return err
	}
	log, err := m.logger(env.stderr)
	if err != nil {
		return err
	}
	opts := node.Options{NATSURL: m.nats, RedisURL: m.redis, Services: []string{name},
		Getenv: env.getenv, Log: log, ShutdownTimeout: m.shutdown, MetricsAddr: *metrics}
	if name == "gateway" {
		opts.HTTPAddr = m.http
	}
	return serveUntilDone(ctx, env, opts)
}

// serveUntilDone runs a node until ctx ends (SIGINT or SIGTERM), then shuts it
// down gracefully.
func serveUntilDone(ctx context.Context, env *environment, opts node.Options) error {
	n, err := node.Start(ctx, opts)
	if err != nil {
		return err
	}
	if n.HTTPAddr != "" {
		fmt.Fprintf(env.stdout, "rewardmesh: gateway on http://%s (nats %s)\n", n.HTTPAddr, n.URL)
	} else {
		fmt.Fprintf(env.stdout, "rewardmesh: serving on nats %s\n", n.URL)
	}
	<-ctx.Done()
	fmt.Fprintln(env.stdout, "rewardmesh: shutting down")
	n.Close()
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// runNATS runs the embedded NATS server alone: docker-compose's bus, so that the
// mesh needs no image from a registry. With --cluster it is one server of a
// cluster, JetStream on each.
func runNATS(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("nats", env)
	addr := fs.String("addr", "127.0.0.1:4222", "client listen address")
	data := fs.String("data", "", "JetStream data folder; temporary when empty")
	cluster := fs.String("cluster", "", "cluster listen address HOST:PORT (6222 by convention); empty runs the server alone")
	routes := fs.String("routes", "", "the cluster's servers, comma-separated cluster URLs (nats://host:6222); this one may be among them")
	name := fs.String("name", "", "server name, unique in the cluster (default: the host name and the cluster port)")
	clusterName := fs.String("cluster-name", "rewardmesh", "cluster name; servers join only a cluster of the same name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", *addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("--addr %q: port: %w", *addr, err)
	}
	if *routes != "" && *cluster == "" {
		return errors.New("nats: --routes needs --cluster, the address this server listens on for its peers")
	}
	opts := mesh.ServerOptions{Host: host, Port: port, StoreDir: *data, Name: *name, Cluster: *cluster, ClusterName: *clusterName}
	if *routes != "" {
		opts.Routes = strings.Split(*routes, ",")
	}
	srv, err := mesh.StartServer(opts)
	if err != nil {
		return err
	}
	if *cluster != "" {
		fmt.Fprintf(env.stdout, "rewardmesh: nats %s on %s, cluster %s on %s\n", srv.Name(), srv.ClientURL(), *clusterName, *cluster)
	} else {
		fmt.Fprintf(env.stdout, "rewardmesh: nats on %s\n", srv.ClientURL())
	}
	<-ctx.Done()
	srv.Close()
	return nil
}
