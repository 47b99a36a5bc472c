package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/moby/moby/client"
	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/cmd/rewardmesh/internal/node"
	"github.com/rewardmesh/rewardmesh/eval"
	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/trainer"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// runImages builds the sandbox images, also where Docker has no registry, or
// lists them with the versions they hold.
func runImages(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 && args[0] == "list" {
		return runImagesList(ctx, env, args[1:])
	}
	fs := newFlagSet("images build", env)
	var opts images.BuildOptions
	langs := fs.String("languages", "", "comma-separated images (default: all): "+imageNames())
	fs.BoolVar(&opts.Force, "force", false, "rebuild images that exist")
	fs.StringVar(&opts.Base, "base", "", "base image (default: debian:bookworm-slim if it can be had, else a debootstrap base)")
	fs.StringVar(&opts.Mirror, "mirror", "", "Debian mirror for debootstrap and apt")
	fs.StringVar(&opts.CacheDir, "cache-dir", "", "where the debootstrap tarball is kept")
	if len(args) > 0 && isHelp(args[0]) {
		return fs.Parse([]string{"-h"}) // `images -h`: build's flags
	}
	if len(args) == 0 || args[0] != "build" {
		return errors.New("images: the subcommands are `build` and `list`")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *langs != "" {
		for _, l := range strings.Split(*langs, ",") {
			lang := images.Language(strings.TrimSpace(l))
			if !slices.Contains(images.Languages, lang) {
				return fmt.Errorf("images build: no image %q; the images are %s", lang, imageNames())
			}
			opts.Languages = append(opts.Languages, lang)
		}
	}
	return images.BuildImages(ctx, opts, env.stdout)
}

func imageNames() string {
	var names []string
	for _, l := range images.Languages {
		names = append(names, string(l))
	}
	return strings.Join(names, ",")
}

// runImagesList prints every sandbox image: its tag, whether it is built, its
// size, and the versions of the languages it runs.
func runImagesList(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("images list", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("connect to docker: %w", err)
	}
	defer docker.Close()
	list, err := images.List(ctx, docker)
	if err != nil {
		return err
	}
	for _, im := range list {
		if !im.Present {
			fmt.Fprintf(env.stdout, "%-34s missing (rewardmesh images build --languages %s)\n", im.Tag, im.Language)
			continue
		}
		fmt.Fprintf(env.stdout, "%-34s %5d MB  %s\n", im.Tag, im.SizeMB, strings.Join(im.Versions, "; "))
	}
	return nil
}

// runEval runs a LiveCodeBench or Codeforces batch, through a gateway given with
// --server or through a sandbox service started in this process.
func runEval(ctx context.Context, env *environment, args []string) error {
	newJudge := func(server string) (eval.Judge, func(), error) {
		if server != "" {
			return eval.NewHTTPJudge(server), func() {}, nil
		}
		n, nc, err := inProcessMesh(ctx, env, "sandbox")
		if err != nil {
			return nil, nil, err
		}
		return eval.NewMeshJudge(nc), func() { nc.Close(); n.Close() }, nil
	}
	return eval.Main(ctx, args, newJudge, env.stdout, env.stderr)
}

// runTrain runs the GRPO trainer, its rewards from the mesh at --nats or from
// a mesh started in this process.
func runTrain(ctx context.Context, env *environment, args []string) error {
	return runTrainer(ctx, env, args, false)
}

// runTrainer runs `train`, and `serve trainer`, which must join a running mesh.
func runTrainer(ctx context.Context, env *environment, args []string, joinMesh bool) error {
	cfg, err := trainer.ParseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		name := "train"
		if joinMesh {
			name = "serve trainer"
		}
		return showHelp(env, helpFor(name), trainer.PrintFlags)
	}
	if err != nil {
		return err
	}
	if cfg.NATSURL == "" {
		cfg.NATSURL = env.getenv("REWARDMESH_NATS")
	}
	replicas, err := envReplicas(env)
	if err == nil {
		err = setReplicas(env, replicas)
	}
	if err != nil {
		return err
	}
	if joinMesh && cfg.NATSURL == "" {
		return errors.New("serve trainer: --nats URL is required (the trainer joins an existing mesh; `rewardmesh train` embeds one)")
	}
	train := func(nc *nats.Conn) error { return trainer.Run(ctx, cfg, nc, env.stdout) }
	services := []string{"math"}
	if cfg.Cascade != "" || cfg.Resume && trainer.HoldsCascade(cfg.Out) {
		cc := trainer.CascadeFromFlags(cfg)
		train = func(nc *nats.Conn) error { return trainer.RunCascade(ctx, cc, nc, env.stdout) }
		if services, err = cc.Services(); err != nil {
			return err
		}
	}
	url := cfg.NATSURL
	if url == "" {
		// The job worker runs in the gateway; the embedded mesh needs no HTTP port.
		n, nc, err := inProcessMesh(ctx, env, append(services, "gateway")...)
		if err != nil {
			return err
		}
		defer n.Close()
		defer nc.Close()
		return train(nc)
	}
	nc, err := mesh.Connect(url, "rewardmesh-trainer", nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	return train(nc)
}

// inProcessMesh starts the named services on an embedded NATS server, logging
// only warnings, and connects a client to it.
func inProcessMesh(ctx context.Context, env *environment, services ...string) (*node.Node, *nats.Conn, error) {
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.Start(ctx, node.Options{Services: services, Getenv: env.getenv, Log: log})
	if err != nil {
		return nil, nil, err
	}
	nc, err := mesh.Connect(n.URL, "rewardmesh-client", log)
	if err != nil {
		n.Close()
		return nil, nil, fmt.Errorf("connect to the in-process mesh: %w", err)
	}
	return n, nc, nil
}
