# The C++ sandbox image: g++ (C++17) with bits/stdc++.h precompiled for exactly the
# flags the judge compiles with (-O2 -std=c++17), so a typical submission compiles
# in a fraction of the time. Builds the ordinary way (FROM debian:bookworm-slim) or,
# offline, with --build-arg BASE=rewardmesh/base:bookworm. The build context holds
# rewardmesh-runner (see python.Dockerfile).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ libc6-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc /usr/share/man
# GCC uses a .gch beside the header only when the flags match the ones it was built with.
RUN header="$(echo '#include <bits/stdc++.h>' | g++ -std=c++17 -H -E -x c++ - 2>&1 >/dev/null | grep 'bits/stdc++.h$' | head -n1 | sed 's/^\.* *//')" \
 && test -f "$header" \
 && g++ -O2 -std=c++17 -x c++-header "$header" -o "$header.gch" \
 && echo '#include <bits/stdc++.h>' > /tmp/t.cpp && echo 'int main(){std::vector<int> v{1};return v[0]-1;}' >> /tmp/t.cpp \
 && g++ -O2 -std=c++17 -Winvalid-pch -H /tmp/t.cpp -o /tmp/t 2>/tmp/t.log \
 && grep -q 'stdc++.h.gch' /tmp/t.log && /tmp/t && rm -f /tmp/t /tmp/t.cpp /tmp/t.log
RUN mkdir -p /usr/local/share/rewardmesh && g++ --version | head -n1 | sed 's/^/gcc: /' > /usr/local/share/rewardmesh/versions
COPY rewardmesh-runner /usr/local/bin/rewardmesh-runner
ENV LANG=C.UTF-8 HOME=/work
LABEL org.opencontainers.image.title="rewardmesh sandbox (cpp)" rewardmesh.sandbox.language="cpp"
# Docker copies this directory's mode onto the tmpfs mounted over it: every
# container user (each container runs as its own uid) must be able to write it.
RUN mkdir -p /work && chmod 1777 /work
WORKDIR /work
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/rewardmesh-runner"]
