# The Java sandbox image: OpenJDK 17 (javac, jar, java) and Debian's Kotlin compiler,
# which runs on it. Builds the ordinary way (FROM debian:bookworm-slim) or, offline,
# with --build-arg BASE=rewardmesh/base:bookworm. The build context holds
# rewardmesh-runner (see python.Dockerfile).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# The JDK's postinst registers its man pages with update-alternatives, which fails
# where a slim base has no /usr/share/man/man1.
RUN mkdir -p /usr/share/man/man1 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jdk-headless kotlin \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
# The class-data sharing archive halves the JVM's start; the image may lack it.
RUN java -Xshare:dump >/dev/null 2>&1 || true
RUN mkdir -p /usr/local/share/rewardmesh \
 && { java -version 2>&1 | head -n1 | sed 's/^/java: /'; dpkg-query -W -f='kotlin: kotlinc ${Version}\n' kotlin; } > /usr/local/share/rewardmesh/versions \
 && kotlinc -version 2>&1 | grep -q 'kotlinc-jvm'
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
ENV LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (java)" rewardmesh.sandbox.language="java"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
