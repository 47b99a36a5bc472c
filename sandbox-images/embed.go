// Package sandboximages carries the sandbox's Dockerfiles into the binary, so
// `rewardmesh images build` works from an installed binary as well as a checkout.
package sandboximages

import "embed"

// Dockerfiles holds python.Dockerfile and cpp.Dockerfile. Each expects a build
// context with the static runner agent at ./rewardmesh-runner and takes the base
// image as --build-arg BASE (default debian:bookworm-slim).
//
//go:embed *.Dockerfile
var Dockerfiles embed.FS
