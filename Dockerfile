# The rewardmesh image: one static binary that runs any service; docker-compose.yml
# runs one container per service from it.
#
# Where Docker can pull, this builds the ordinary way:
#     docker build -t rewardmesh/rewardmesh .
# Where it cannot (no registry, as in CI), build the binary on the host and take the
# first stage, on the base `rewardmesh images build` bootstraps with debootstrap:
#     CGO_ENABLED=0 go build -o bin/rewardmesh ./cmd/rewardmesh
#     docker build --target prebuilt --build-arg BASE=rewardmesh/base:bookworm -t rewardmesh/rewardmesh .
# (The legacy builder builds every stage before its target, so the offline stage
# comes first and needs nothing but the base.)
ARG BASE=debian:bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${BASE} AS prebuilt
COPY bin/rewardmesh /usr/local/bin/rewardmesh
RUN useradd --system --uid 10001 --no-create-home rewardmesh && mkdir -p /data && chown rewardmesh /data
USER 10001
EXPOSE 8080 4222
ENTRYPOINT ["/usr/local/bin/rewardmesh"]

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN GOWORK=off go mod download
COPY . .
RUN CGO_ENABLED=0 GOWORK=off go build -trimpath -o /out/rewardmesh ./cmd/rewardmesh

FROM ${BASE} AS runtime
COPY --from=build /out/rewardmesh /usr/local/bin/rewardmesh
RUN useradd --system --uid 10001 --no-create-home rewardmesh && mkdir -p /data && chown rewardmesh /data
USER 10001
EXPOSE 8080 4222
ENTRYPOINT ["/usr/local/bin/rewardmesh"]
