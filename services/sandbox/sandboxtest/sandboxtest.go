// Package sandboxtest is for tests that need the real sandbox: Docker and the
// sandbox images.
package sandboxtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
)

// RequireDocker skips the test with the reason when Docker or the images of
// langs (all when none) are absent; under REWARDMESH_REQUIRE_DOCKER=1, as in CI,
// where everything is installed, their absence fails it instead.
func RequireDocker(t testing.TB, langs ...images.Language) {
	t.Helper()
	absent := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("REWARDMESH_REQUIRE_DOCKER") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		absent("docker client: %v", err)
	}
	defer docker.Close()
	if _, err := docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		absent("docker is not reachable: %v", err)
	}
	missing, err := images.Missing(ctx, docker, langs)
	if err != nil {
		absent("look for the sandbox images: %v", err)
	}
	if len(missing) > 0 {
		absent("sandbox images missing: %v (run `rewardmesh images build`)", missing)
	}
}
