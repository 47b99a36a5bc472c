package node

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

func TestNames(t *testing.T) {
	if got, want := Names(), []string{"math", "rm", "sandbox", "swe"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

var quiet = slog.New(slog.DiscardHandler)

// getenv answers the variables in env and nothing else.
func getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

// TestBadSettingRefused holds every service to refusing a value that does not
// parse (or is out of range) with an error that names the variable, never
// starting on a silent 0.
func TestBadSettingRefused(t *testing.T) {
	judged := map[string]string{"REWARDMESH_MATH_JUDGE_URL": "http://judge:8000/v1", "REWARDMESH_MATH_JUDGE_MODEL": "m"} // math refuses judge settings without a judge
	for _, tc := range []struct {
		service, name, value string
		also                 map[string]string
	}{
		{"math", "REWARDMESH_MATH_JUDGE_URL", "judge:8000", map[string]string{"REWARDMESH_MATH_JUDGE_MODEL": "m"}},
		{"math", "REWARDMESH_MATH_JUDGE_TIMEOUT", "-10s", judged},
		{"math", "REWARDMESH_MATH_JUDGE_RETRIES", "three", judged},
		{"math", "REWARDMESH_MATH_JUDGE_CONCURRENCY", "0", judged},
		{"math", "REWARDMESH_MATH_JUDGE_BUDGET", "-1", judged},
		{"math", "REWARDMESH_MATH_JUDGE_THRESHOLD", "2", judged},
		{"math", "REWARDMESH_MATH_JUDGE_MAX_TOKENS", "1k", judged},
		{"rm", "REWARDMESH_RM_BATCH_SIZE", "many", nil},
		{"rm", "REWARDMESH_RM_CONCURRENCY", "0", nil},
		{"rm", "REWARDMESH_RM_TIMEOUT", "-1s", nil},
		{"rm", "REWARDMESH_RM_RETRIES", "-2", nil},
		{"rm", "REWARDMESH_RM_RAW_LOGITS", "maybe", nil},
		{"rm", "REWARDMESH_RM_CLASS_INDEX", "first", nil},
		{"swe", "REWARDMESH_SWE_JUDGE_TIMEOUT", "a minute", nil},
		{"swe", "REWARDMESH_SWE_JUDGE_RETRIES", "-2", nil},
		{"swe", "REWARDMESH_SWE_JUDGE_CONCURRENCY", "0", nil},
		{"swe", "REWARDMESH_SWE_ALLOW_UNTAGGED", "yes", nil},
		{"sandbox", "REWARDMESH_SANDBOX_CONCURRENCY", "four", nil},
		{"sandbox", "REWARDMESH_SANDBOX_QUEUE", "-1", nil},
		{"sandbox", "REWARDMESH_SANDBOX_TEST_PARALLEL", "2.5", nil},
		{"sandbox", "REWARDMESH_SANDBOX_TEST_CPUS", "NaN", nil},
		{"sandbox", "REWARDMESH_SANDBOX_WARM", "1 2", nil},
		{"sandbox", "REWARDMESH_SANDBOX_BUILD_MISSING", "no", nil},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			env := map[string]string{tc.name: tc.value}
			for k, v := range tc.also {
				env[k] = v
			}
			svc, ok := lookup(tc.service)
			if !ok {
				t.Fatalf("no service %q", tc.service)
			}
			// The sandbox refuses before it reaches for Docker.
			_, closer, err := svc.start(context.Background(), Env{Getenv: getenv(env), Log: quiet})
			if closer != nil {
				t.Cleanup(func() { _ = closer() })
			}
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("start %s: err %v, want one naming %s", tc.service, err, tc.name)
			}
		})
	}
}

func TestGatewayBadSettingRefused(t *testing.T) {
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	for name, value := range map[string]string{
		"REWARDMESH_JOBS_ACK_WAIT":          "-30s",
		"REWARDMESH_GATEWAY_CHUNK_SIZE":     "128 items",
		"REWARDMESH_GATEWAY_BUSY_RETRY_FOR": "forever",
		"REWARDMESH_GATEWAY_OUTAGE_WAIT":    "-1",
	} {
		n, err := Start(context.Background(), Options{
			NATSURL: emb.ClientURL(), Services: []string{"gateway"},
			Getenv: getenv(map[string]string{name: value}), Log: quiet,
		})
		if err == nil {
			n.Close()
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err %v, want one naming it", name, value, err)
		}
	}
}
