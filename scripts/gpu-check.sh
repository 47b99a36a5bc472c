#!/usr/bin/env bash
# The GPU half of the trainer's CUDA checks, for a machine with an NVIDIA GPU but no
# Go toolchain or CUDA headers (such as a lent GPU machine with no network):
#
#   ./scripts/gpu-check.sh build   # here: Go plus nvidia-cuda-dev (scripts/test.sh installs it)
#   ./scripts/gpu-check.sh run     # there, with .gpu/ copied beside this script's checkout
#
# build writes .gpu/cuda.test (the cuda package's tests, -tags cuda) and .gpu/rewardmesh
# (-tags cuda). run needs only the NVIDIA driver's libcuda.so.1: it runs the CUDA tests
# (TestCUDAMatchesCPUOnAStep and TestCUDATransformerMatchesCPUOnAStep: one step of the
# MLP and of the transformer on the GPU and on the CPU agree to 1e-4), the train-step
# benchmarks (MLP; transformer at 768 and 12288 tokens, GPU and CPU), `rewardmesh bench
# trainer` (both policies, CUDA vs CPU tokens/s), and a short cascade of the transformer
# on the GPU (services/trainer/testdata/cascade-gpu.yaml: math then instruction
# following, 120 steps; the code stage needs Docker's sandbox, so it is left out).
# Sized to finish in under 5 minutes. To try the run path on a machine without a GPU
# (the CUDA tests then skip, and a -tags cuda binary refuses to start):
#   go build -o bin/rewardmesh ./cmd/rewardmesh && RM=bin/rewardmesh BACKEND=cpu ./scripts/gpu-check.sh run
# On a machine with Go and the headers, `go test -tags cuda -v ./services/trainer/cuda`
# does the same as the first of these.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
  mkdir -p .gpu
  go test -tags cuda -c -o .gpu/cuda.test ./services/trainer/cuda
  go build -tags cuda -ldflags="-s -w" -o .gpu/rewardmesh ./cmd/rewardmesh
  ls -l .gpu
  ;;
run)
  # The driver's user-space library is where the driver put it; the usual places.
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -e "$d/libcuda.so.1" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  # The tests read no files: run them from the package directory all the same.
  (cd services/trainer/cuda && ../../../.gpu/cuda.test -test.v -test.count=1)
  (cd services/trainer/cuda && ../../../.gpu/cuda.test -test.run '^$' -test.bench . -test.benchtime 3s)
  rm=${RM:-.gpu/rewardmesh}
  "$rm" bench trainer
  out=$(mktemp -d)
  start=$(date +%s)
  "$rm" train --cascade services/trainer/testdata/cascade-gpu.yaml --backend "${BACKEND:-cuda}" --out "$out/cascade" --quiet
  echo "cascade on ${BACKEND:-cuda}: $(($(date +%s) - start)) s; per-step figures in $out/cascade/stage*/metrics.jsonl"
  for f in "$out"/cascade/stage*/metrics.jsonl; do
    awk -v f="$(basename "$(dirname "$f")")" 'match($0, /"step_s":[0-9.e+-]+/) { s += substr($0, RSTART + 9, RLENGTH - 9); n++ }
      END { printf "%s: %d steps, %.1f ms per step (sampling, rewards from the mesh, update)\n", f, n, 1000 * s / n }' "$f"
  done
  ;;
*)
  echo "usage: $0 build|run" >&2
  exit 2
  ;;
esac
