# The Go sandbox image: Debian's Go toolchain (go build, without cgo). Builds the
# ordinary way (FROM debian:bookworm-slim) or, offline, with
# --build-arg BASE=rewardmesh/base:bookworm. The build context holds
# rewardmesh-runner (see python.Dockerfile).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends golang-go \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
# The build cache and GOPATH live under /tmp, the one writable place besides /work
# (both are wiped after every submission). No C compiler: the standard library is
# built without cgo, once, here.
ENV CGO_ENABLED=0 GOCACHE=/tmp/go-cache GOPATH=/tmp/go GOFLAGS=-buildvcs=false GO111MODULE=off GOTOOLCHAIN=local
RUN go install std && rm -rf /tmp/go-cache \
 && mkdir -p /usr/local/share/rewardmesh && go version | sed 's/^/go: /' > /usr/local/share/rewardmesh/versions
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
ENV LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (go)" rewardmesh.sandbox.language="go"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
