package sandbox

import (
	"github.com/rewardmesh/rewardmesh/shared/envvar"
)

// The environment variables that configure the sandbox (the README lists them).
const (
	EnvConcurrency  = "REWARDMESH_SANDBOX_CONCURRENCY"
	EnvQueue        = "REWARDMESH_SANDBOX_QUEUE"
	EnvTestParallel = "REWARDMESH_SANDBOX_TEST_PARALLEL"
	EnvTestCPUs     = "REWARDMESH_SANDBOX_TEST_CPUS"
	EnvWarm         = "REWARDMESH_SANDBOX_WARM"
	EnvBuildMissing = "REWARDMESH_SANDBOX_BUILD_MISSING"
)

// ConfigFromEnv reads the sandbox's REWARDMESH_SANDBOX_* variables; 0 or unset
// leaves a setting the default, and missing images are built on first use
// unless REWARDMESH_SANDBOX_BUILD_MISSING=0. A value that does not parse is an
// error that names the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{BuildMissing: true}
	r := envvar.NewReader(getenv)
	r.Int(EnvConcurrency, 0, &cfg.Concurrency)
	r.Int(EnvQueue, 0, &cfg.QueueSize)
	r.Int(EnvTestParallel, 0, &cfg.TestParallel)
	r.Float(EnvTestCPUs, 0, &cfg.TestCPUs)
	r.Int(EnvWarm, 0, &cfg.Warm)
	r.Bool(EnvBuildMissing, &cfg.BuildMissing)
	return cfg, r.Err()
}
