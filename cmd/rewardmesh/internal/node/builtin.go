package node

import (
	"context"

	mathsvc "github.com/rewardmesh/rewardmesh/services/math"
	"github.com/rewardmesh/rewardmesh/services/rm"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/swe"
	"github.com/rewardmesh/rewardmesh/shared/envvar"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// services are the services a node can run, in start order, each with how it
// starts. Each reads its settings from REWARDMESH_* variables (its README lists
// them), so that `up`, `serve` and docker-compose configure them the same way.
func services() []service {
	return []service{
		{mathsvc.Name, startWith(mathsvc.ConfigFromEnv, mathsvc.New)},
		{rm.Name, startWith(rm.ConfigFromEnv, rm.New)},
		{sandbox.ServiceName, startSandbox},
		{swe.Name, startWith(swe.ConfigFromEnv, swe.New)},
	}
}

// startSandbox starts the sandbox. It does not keep the contract yet: its
// settings are read here, and its mesh configuration is built here.
func startSandbox(ctx context.Context, env Env) (mesh.Config, func() error, error) {
	cfg, err := sandboxConfigFromEnv(env.Getenv)
	if err != nil {
		return mesh.Config{}, nil, err
	}
	cfg.Logger = env.Log
	cfg.Metrics = env.Metrics
	sb, err := sandbox.New(ctx, cfg)
	if err != nil {
		return mesh.Config{}, nil, err
	}
	return mesh.Config{
		Name:        sandbox.ServiceName,
		Description: "untrusted programs judged in Docker",
		Endpoints:   sandbox.Endpoints(sb),
	}, sb.Close, nil
}

// sandboxConfigFromEnv reads the sandbox's REWARDMESH_SANDBOX_* variables; 0
// or unset leaves a setting the sandbox's default.
func sandboxConfigFromEnv(getenv func(string) string) (sandbox.Config, error) {
	cfg := sandbox.Config{BuildMissing: true}
	r := envvar.NewReader(getenv)
	r.Int("REWARDMESH_SANDBOX_CONCURRENCY", 0, &cfg.Concurrency)
	r.Int("REWARDMESH_SANDBOX_QUEUE", 0, &cfg.QueueSize)
	r.Int("REWARDMESH_SANDBOX_TEST_PARALLEL", 0, &cfg.TestParallel)
	r.Float("REWARDMESH_SANDBOX_TEST_CPUS", 0, &cfg.TestCPUs)
	r.Int("REWARDMESH_SANDBOX_WARM", 0, &cfg.Warm)
	r.Bool("REWARDMESH_SANDBOX_BUILD_MISSING", &cfg.BuildMissing)
	return cfg, r.Err()
}
