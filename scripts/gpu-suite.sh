#!/usr/bin/env bash
# One command for a GPU machine: builds the CUDA variant of the addon, runs the
# CUDA-vs-CPU tests (they must not be skipped here) and the GPU benchmarks, and
# writes everything to a results folder.
#
#   scripts/gpu-suite.sh [OUT_DIR] [--quick]
#
# Needs nvcc, a CUDA driver with a visible GPU, node 20 and `npm ci` done.
# Leaves the CUDA build in build/Release (run `npm run build:native` to go back
# to the CPU-only addon).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=""
QUICK=""
for a in "$@"; do
  if [ "$a" = "--quick" ]; then QUICK="--quick"; else OUT="$a"; fi
done
OUT="${OUT:-gpu-results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
exec > >(tee "$OUT/suite.log") 2>&1

echo "== environment"
date -u
nvidia-smi || echo "nvidia-smi not available"
nvcc --version | tail -2
node --version

echo "== build the CUDA variant"
npx cmake-js rebuild --CDCURRICULA_CUDA=ON -p "$(nproc)"
npx tsc -p tsconfig.json
node -e "
const { binding } = require('./dist/lib/binding');
const { cudaDeviceInfo } = require('./dist/lib/device');
const info = cudaDeviceInfo();
console.log(JSON.stringify(info));
if (!binding().cuda) { console.error('the addon was not built with CUDA (nvcc not found by CMake?)'); process.exit(1); }
if (info.count === 0) { console.error('no usable GPU: ' + info.reason); process.exit(1); }
" | tee "$OUT/device.json"

echo "== CUDA tests (every kernel against its CPU twin)"
# --json so skipped tests are visible: the suite fails if any CUDA test was skipped
npx jest __tests__/cuda --json --outputFile="$OUT/cuda-tests.json" || TEST_FAIL=1
node -e "
const r = require(require('path').resolve('$OUT/cuda-tests.json'));
const kernels = r.testResults.filter((t) => t.name.endsWith('cuda.kernels.test.ts')).flatMap((t) => t.assertionResults);
const notPassed = kernels.filter((a) => a.status !== 'passed').length;
console.log('passed', r.numPassedTests, 'failed', r.numFailedTests, 'skipped', r.numPendingTests, '| kernel tests not passed:', notPassed, 'of', kernels.length);
if (r.numFailedTests > 0 || notPassed > 0 || kernels.length === 0) process.exit(1);
" || TEST_FAIL=1

echo "== CPU tests next to it (the CPU path must be unchanged)"
npx jest __tests__/influence __tests__/analysis __tests__/scheduler.api __tests__/scheduler.equivalence --json --outputFile="$OUT/cpu-tests.json" >/dev/null 2>&1 || TEST_FAIL=1
node -e "const r = require(require('path').resolve('$OUT/cpu-tests.json')); console.log('passed', r.numPassedTests, 'failed', r.numFailedTests);"

echo "== benchmarks"
node dist/bench/cuda-bench.js --out "$OUT" $QUICK

echo "== results in $OUT"
ls -l "$OUT"
if [ "${TEST_FAIL:-0}" = 1 ]; then
  echo "SOME TESTS FAILED OR WERE SKIPPED (see $OUT/cuda-tests.json)"
  exit 1
fi
