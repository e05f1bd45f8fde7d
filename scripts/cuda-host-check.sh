#!/usr/bin/env bash
# Runs the CUDA scheduler's key function on the host (no GPU needed, only nvcc)
# against the CPU brute force: cuda/test/scheduler_key_host.cu.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${TMPDIR:-/tmp}/curricula-cuda-host-check"
CORE=$(node -p "require('./cpp/sources.json').core.join(' ')")
nvcc -std=c++17 -O2 -fmad=false -Xcompiler -ffp-contract=off -Icpp -Icuda cuda/test/scheduler_key_host.cu $CORE -o "$OUT"
"$OUT"
