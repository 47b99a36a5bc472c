#!/usr/bin/env bash
# Runs every rewardmesh test, on a fresh Debian machine too: it installs what the
# tests need (Debian packages, the sandbox images), then vets and tests both modules
# with the race detector. Everything a test needs is then present, so none skips.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -short     # skip the long runs (the 1000-step training run...)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=("$@")

# Debian packages the tests use: servers they run for real, debootstrap for the
# offline sandbox base, chromium to render the eval report.
packages=(redis-server nats-server debootstrap chromium python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian redis-server package starts a system instance; the tests run their own.

echo "== building rewardmesh"
mkdir -p bin
CGO_ENABLED=0 go build -o bin/rewardmesh ./cmd/rewardmesh

echo "== sandbox images (debootstrap base where no registry answers)"
./bin/rewardmesh images build

echo "== go vet"
go vet ./... ./tests/...

# Everything the tests need is installed above, so a missing piece is a failure,
# not a skip.
export REWARDMESH_REQUIRE_CONFORMANCE=1 REWARDMESH_REQUIRE_SERVERS=1 \
       REWARDMESH_REQUIRE_DOCKER=1 REWARDMESH_REQUIRE_CHROMIUM=1

echo "== go test -race (root module)"
go test -race -timeout 25m "${extra[@]}" ./...
echo "== go test -race (tests module)"
go test -race -timeout 25m "${extra[@]}" ./tests/...
