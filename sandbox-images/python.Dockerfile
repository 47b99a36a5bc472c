# The Python sandbox image: CPython 3 with the standard library and Debian's numpy.
# Builds the ordinary way (FROM debian:bookworm-slim) or, offline, on the base
# `rewardmesh images build` bootstraps: --build-arg BASE=rewardmesh/base:bookworm.
# The build context holds rewardmesh-runner, the static runner agent
# (CGO_ENABLED=0 go build ./services/sandbox/runner/cmd/rewardmesh-runner).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-numpy \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
RUN mkdir -p /usr/local/share/rewardmesh \
 && { python3 --version | sed 's/^Python /python: /'; bash --version | head -n1 | sed 's/^/bash: /'; } > /usr/local/share/rewardmesh/versions
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
# One BLAS thread: a submission's threads count against its pids and CPU limits.
ENV OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 PYTHONIOENCODING=utf-8 LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (python)" rewardmesh.sandbox.language="python"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
