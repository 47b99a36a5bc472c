package sandbox

import "testing"

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSandboxConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(getenv(map[string]string{
		"REWARDMESH_SANDBOX_CONCURRENCY": "3", "REWARDMESH_SANDBOX_QUEUE": "5", "REWARDMESH_SANDBOX_TEST_PARALLEL": "2",
		"REWARDMESH_SANDBOX_TEST_CPUS": "1.5", "REWARDMESH_SANDBOX_WARM": "4", "REWARDMESH_SANDBOX_BUILD_MISSING": "0",
	}))
	want := Config{Concurrency: 3, QueueSize: 5, TestParallel: 2, TestCPUs: 1.5, Warm: 4, BuildMissing: false}
	if err != nil || cfg.Concurrency != want.Concurrency || cfg.QueueSize != want.QueueSize || cfg.TestParallel != want.TestParallel ||
		cfg.TestCPUs != want.TestCPUs || cfg.Warm != want.Warm || cfg.BuildMissing != want.BuildMissing {
		t.Errorf("config %+v, err %v; want %+v", cfg, err, want)
	}
	if cfg, err := ConfigFromEnv(getenv(nil)); err != nil || !cfg.BuildMissing || cfg.Concurrency != 0 {
		t.Errorf("nothing set: %+v, %v; want the sandbox's defaults, images built when missing", cfg, err)
	}
}
