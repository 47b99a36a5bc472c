package node

import (
	"context"
	"strconv"
	"time"

	mathsvc "github.com/rewardmesh/rewardmesh/services/math"
	"github.com/rewardmesh/rewardmesh/services/rm"
	"github.com/rewardmesh/rewardmesh/services/rm/ifeval"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/swe"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// The services a node runs. Each reads its settings from REWARDMESH_* variables
// (the README lists them), so that `up`, `serve` and docker-compose configure
// them the same way.
func init() {
	builders["math"] = func(context.Context, Env) (mesh.Config, func() error, error) {
		return mathsvc.Config(), nil, nil
	}
	builders["swe"] = func(_ context.Context, env Env) (mesh.Config, func() error, error) {
		cfg := swe.Config{
			JudgeURL:       env.Getenv("REWARDMESH_SWE_JUDGE_URL"),
			JudgeModel:     env.Getenv("REWARDMESH_SWE_JUDGE_MODEL"),
			JudgeAPIKeyEnv: env.Getenv("REWARDMESH_SWE_JUDGE_API_KEY_ENV"),
			JudgePrompt:    env.Getenv("REWARDMESH_SWE_JUDGE_PROMPT"),
			JudgeTimeout:   envDuration(env, "REWARDMESH_SWE_JUDGE_TIMEOUT"),
			AllowUntagged:  env.Getenv("REWARDMESH_SWE_ALLOW_UNTAGGED") == "1",
			Getenv:         env.Getenv,
		}
		svc, err := swe.New(cfg)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		return svc.MeshConfig(), nil, nil
	}
	builders["sandbox"] = func(ctx context.Context, env Env) (mesh.Config, func() error, error) {
		cfg := sandbox.Config{
			Concurrency:  envInt(env, "REWARDMESH_SANDBOX_CONCURRENCY"),
			QueueSize:    envInt(env, "REWARDMESH_SANDBOX_QUEUE"),
			TestParallel: envInt(env, "REWARDMESH_SANDBOX_TEST_PARALLEL"),
			Warm:         envInt(env, "REWARDMESH_SANDBOX_WARM"),
			BuildMissing: env.Getenv("REWARDMESH_SANDBOX_BUILD_MISSING") != "0",
			Logger:       env.Log,
		}
		sb, err := sandbox.New(ctx, cfg)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		return mesh.Config{
			Name:        "sandbox",
			Description: "untrusted programs judged in Docker",
			Endpoints:   sandbox.Endpoints(sb),
		}, sb.Close, nil
	}
	builders["rm"] = func(_ context.Context, env Env) (mesh.Config, func() error, error) {
		cfg, err := rm.ConfigFromEnv(env.Getenv)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		svc, err := rm.New(cfg)
		if err != nil {
			return mesh.Config{}, nil, err
		}
		// Load the language profiles now rather than on the first request that needs them.
		if err := ifeval.Preload(); err != nil {
			return mesh.Config{}, nil, err
		}
		return svc.MeshConfig(), nil, nil
	}
}

func envInt(env Env, name string) int {
	n, _ := strconv.Atoi(env.Getenv(name))
	return n
}

func envDuration(env Env, name string) time.Duration {
	v := env.Getenv(name)
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(secs) * time.Second
	}
	return 0
}
