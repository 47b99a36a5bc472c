# The PyPy sandbox image: Debian's PyPy 3, the JIT-compiled Python that contest
# judges offer beside CPython. Builds the ordinary way (FROM debian:bookworm-slim)
# or, offline, with --build-arg BASE=rewardmesh/base:bookworm. The build context
# holds rewardmesh-runner (see python.Dockerfile).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pypy3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
RUN mkdir -p /usr/local/share/rewardmesh && pypy3 --version 2>&1 | tr '\n' ' ' | sed 's/^/pypy3: /; s/ *$/\n/' > /usr/local/share/rewardmesh/versions
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONIOENCODING=utf-8 LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (pypy)" rewardmesh.sandbox.language="pypy"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
