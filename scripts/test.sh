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

# apt-get install, repairing a half-configured package first if apt refuses
# because of one (seen on machines of this kind), then trying again.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null && return 0
  echo "apt-get install failed; repairing broken packages and retrying" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq -f install >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

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
  apt_install "${missing[@]}"
fi
# The trainer's CUDA backend is compiled (never run: CI has no GPU) against CUDA
# 11.8's headers, from Debian's non-free nvidia-cuda-dev.
if ! dpkg-query -W -f='${Status}' nvidia-cuda-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "== installing nvidia-cuda-dev (Debian non-free) for the cuda build check"
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to apt-get install nvidia-cuda-dev" >&2
    exit 1
  fi
  if ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/rewardmesh-nonfree.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
  apt-get update -qq
  apt_install nvidia-cuda-dev
fi

echo "== building rewardmesh"
mkdir -p bin
CGO_ENABLED=0 go build -o bin/rewardmesh ./cmd/rewardmesh

echo "== sandbox images (debootstrap base where no registry answers)"
./bin/rewardmesh images build

echo "== go vet"
go vet ./... ./tests/...

echo "== cuda build: vet and compile the tagged trainer (it runs only where a GPU is)"
go vet -tags cuda ./services/trainer/...
go test -tags cuda -c -o /dev/null ./services/trainer/cuda

# Everything the tests need is installed above, so a missing piece is a failure,
# not a skip.
export REWARDMESH_REQUIRE_CONFORMANCE=1 REWARDMESH_REQUIRE_SERVERS=1 \
       REWARDMESH_REQUIRE_DOCKER=1 REWARDMESH_REQUIRE_CHROMIUM=1

echo "== go test -race (root module)"
go test -race -timeout 25m "${extra[@]}" ./...
echo "== go test -race (tests module)"
go test -race -timeout 25m "${extra[@]}" ./tests/...
