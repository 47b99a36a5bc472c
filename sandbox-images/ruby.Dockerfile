# The Ruby sandbox image: Debian's Ruby. Builds the ordinary way
# (FROM debian:bookworm-slim) or, offline, with --build-arg BASE=rewardmesh/base:bookworm.
# The build context holds rewardmesh-runner (see python.Dockerfile).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ruby \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
RUN mkdir -p /usr/local/share/rewardmesh && ruby --version | sed 's/^/ruby: /' > /usr/local/share/rewardmesh/versions
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
ENV LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (ruby)" rewardmesh.sandbox.language="ruby"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
