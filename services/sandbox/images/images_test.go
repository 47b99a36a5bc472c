package images

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	sandboximages "github.com/rewardmesh/rewardmesh/sandbox-images"
)

func TestTag(t *testing.T) {
	if got := Tag(Python); got != "rewardmesh/sandbox-python:v11" {
		t.Fatalf("Tag(python) = %q", got)
	}
	if got := Tag(Cpp); got != "rewardmesh/sandbox-cpp:v11" {
		t.Fatalf("Tag(cpp) = %q", got)
	}
}

// The Dockerfiles must build the ordinary way (FROM debian:bookworm-slim) and on
// the bootstrapped base, with the runner as the entrypoint.
func TestDockerfiles(t *testing.T) {
	for _, lang := range Languages {
		data, err := sandboximages.Dockerfiles.ReadFile(string(lang) + ".Dockerfile")
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		text := string(data)
		for _, want := range []string{"ARG BASE=" + UpstreamBase, "FROM ${BASE}", "COPY rewardmesh-runner ", `ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]`, "chmod 1777 /work", "USER "} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.Dockerfile lacks %q", lang, want)
			}
		}
	}
}

// TestBuildUpToDate checks that a build with every image present does nothing;
// it needs Docker and the images.
func TestBuildUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("docker client: %v", err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if os.Getenv("REWARDMESH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("docker is not reachable: %v", err)
		}
		t.Skipf("docker is not reachable: %v", err)
	}
	missing, err := Missing(ctx, docker, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Skipf("images missing: %v", missing)
	}
	var log bytes.Buffer
	if err := Build(ctx, docker, BuildOptions{}, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "up to date") {
		t.Fatalf("a build with every image present did work: %s", log.String())
	}
}
