// Package sandboximages carries the sandbox's Dockerfiles into the binary, so
// `rewardmesh images build` works from an installed binary as well as a checkout.
package sandboximages

import "embed"

// Dockerfiles holds one Dockerfile an image (python, cpp, java, go, node, rust,
// ruby, pypy). Each expects a build context with the static runner agent at
// ./rewardmesh-runner, takes the base image as --build-arg BASE (default
// debian:bookworm-slim), and writes its languages' versions to
// /usr/local/share/rewardmesh/versions.
//
//go:embed *.Dockerfile
var Dockerfiles embed.FS
