/**
 * GPU benchmarks of the CUDA twins (run by scripts/gpu-suite.sh; needs the
 * CUDA build and a GPU). Every ratio is against a baseline measured in the
 * same run:
 *  - projection: dense FP32 projection, end to end (upload, Gaussian matrix
 *    generation, GEMM, download), as GFLOP/s (2 n D d flops) against the FP32
 *    (non-tensor-core) peak of the device (table below, or --peak-tflops), and
 *    against the CPU projection on the same input;
 *  - scheduler: the CUDA brute force, as bytes of sequence data read per second
 *    by the step kernels against a device-to-device copy measured here, and
 *    against the CPU brute force and the CPU fast scheduler;
 *  - stable rank: the CUDA Lanczos against torch.linalg.svdvals on the same GPU
 *    (skipped with a note when torch is missing) and against the CPU.
 *
 * Usage: node dist/bench/cuda-bench.js --out DIR [--quick] [--peak-tflops X]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { stableRankSync } from '../lib/analysis/stable-rank';
import { binding } from '../lib/binding';
import { cudaDeviceInfo, cudaUnavailableReason } from '../lib/device';
import { projectGradientsSync } from '../lib/influence/accumulator';
import type { SequenceSet } from '../lib/io/sequences';
import { writeFileAtomic } from '../lib/io/atomic';
import { scheduleBruteForceSync, scheduleSync } from '../lib/scheduler';

/** FP32 CUDA-core peaks (TFLOP/s, boost clock, vendor data sheets) by device-name fragment. */
const FP32_PEAK_TFLOPS: [RegExp, number][] = [
  [/H200/, 67],
  [/H100.*PCIe/, 51],
  [/H100/, 67],
  [/A100/, 19.5],
  [/L40S/, 91.6],
];

function seconds(f: () => void, reps = 3): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * 2;
  }
  return out;
}

/** A synthetic packed corpus: M sequences of 1-4 segments over K groups and B bins. */
function corpus(M: number, K: number, B: number, seed: number): SequenceSet {
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const offsets = new BigUint64Array(M + 1);
  const group: number[] = [];
  const bin: number[] = [];
  const tokens: number[] = [];
  for (let s = 0; s < M; s++) {
    const segs = 1 + Math.floor(rnd() * 4);
    for (let j = 0; j < segs; j++) {
      group.push(Math.floor(K * rnd() * rnd()));
      bin.push(Math.floor(B * rnd()));
      tokens.push(1 + Math.floor(rnd() * 512));
    }
    offsets[s + 1] = BigInt(group.length);
  }
  return {
    offsets,
    group: Uint32Array.from(group),
    bin: Uint32Array.from(bin),
    tokens: Uint32Array.from(tokens),
    numGroups: K,
    numBins: B,
  };
}

interface Row {
  [k: string]: string | number | boolean | null;
}

function projectionBench(quick: boolean, peakTflops: number | undefined): Row[] {
  const rows: Row[] = [];
  const sizes = quick ? [[1024, 4096, 256]] : [[1024, 4096, 256], [4096, 16384, 1024], [8192, 32768, 2048]];
  for (const [n, D, d] of sizes) {
    const grads = randomF32(n * D, n + D);
    const projection = { kind: 'dense' as const, inputDim: D, dim: d, seed: 1 };
    projectGradientsSync(projection, { grads }, { device: 'cuda' }); // warm-up (context, module load)
    const tGpu = seconds(() => projectGradientsSync(projection, { grads }, { device: 'cuda' }));
    const cpuN = Math.min(n, 512); // the CPU baseline on a row prefix, scaled (linear in n)
    const tCpu = (seconds(() => projectGradientsSync(projection, { grads: grads.subarray(0, cpuN * D) }), 1) * n) / cpuN;
    const gflops = (2 * n * D * d) / tGpu / 1e9;
    rows.push({
      n, D, d,
      gpuSeconds: tGpu,
      gpuGflops: gflops,
      fractionOfFp32Peak: peakTflops ? gflops / (peakTflops * 1e3) : null,
      cpuSecondsScaled: tCpu,
      speedupVsCpu: tCpu / tGpu,
    });
  }
  return rows;
}

function schedulerBench(quick: boolean, copyBytesPerSecond: number): Row[] {
  const rows: Row[] = [];
  for (const M of quick ? [2000] : [2000, 10000, 30000]) {
    const set = corpus(M, 64, 8, M);
    const offsets = set.offsets;
    // bytes the step kernel streams per live candidate: length (8), two offset pairs (32), alive flag (1),
    // and id + count (8) per entry in each family; entries are counted as segments (an upper bound on
    // distinct groups/bins). The cached per-characteristic deficits and rates are not counted.
    const perSeq = new Float64Array(M);
    for (let s = 0; s < M; s++) perSeq[s] = 8 + 32 + 1 + 2 * 8 * Number(offsets[s + 1] - offsets[s]);
    const t0 = process.hrtime.bigint();
    const r = scheduleBruteForceSync(set, { device: 'cuda' });
    const tGpu = Number(process.hrtime.bigint() - t0) / 1e9;
    // live candidates at step i are the ones not yet taken
    let bytes = 0;
    let live = perSeq.reduce((a, b) => a + b, 0);
    const order = Array.from(r.order as ArrayLike<number | bigint>, Number);
    for (const s of order) {
      bytes += live;
      live -= perSeq[s];
    }
    const tFast = seconds(() => scheduleSync(set, {}), 1);
    const cpuM = Math.min(M, 2000);
    const tBrute = M <= 2000 ? seconds(() => scheduleBruteForceSync(set, {}), 1) : null;
    rows.push({
      M,
      steps: order.length,
      gpuSeconds: tGpu,
      gpuBytesPerSecond: bytes / tGpu,
      fractionOfCopyBandwidth: bytes / tGpu / copyBytesPerSecond,
      cpuFastSeconds: tFast,
      cpuBruteSeconds: tBrute,
      cpuBruteMeasuredAtM: tBrute === null ? null : cpuM,
      gpuVsCpuFast: tFast / tGpu,
    });
  }
  return rows;
}

function torchSvdvals(rows: number, cols: number, count: number, seed: number): { seconds: number; srank: number[] } | string {
  const py = `
import sys, time, json
try:
    import torch
except Exception as e:
    print(json.dumps({"skip": "torch not importable: " + str(e)})); sys.exit(0)
if not torch.cuda.is_available():
    print(json.dumps({"skip": "torch has no CUDA device"})); sys.exit(0)
g = torch.Generator(device="cuda").manual_seed(${seed})
ms = [torch.rand(${rows}, ${cols}, device="cuda", generator=g, dtype=torch.float32) * 2 - 1 for _ in range(${count})]
torch.linalg.svdvals(ms[0]); torch.cuda.synchronize()
t = time.perf_counter()
out = []
for m in ms:
    s = torch.linalg.svdvals(m.double())
    out.append(float((s**2).sum() / s[0]**2))
torch.cuda.synchronize()
print(json.dumps({"seconds": time.perf_counter() - t, "srank": out}))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', timeout: 300_000 });
  if (r.error || r.status !== 0) return `python3/torch failed: ${r.error?.message ?? r.stderr.slice(-300)}`;
  const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  return j.skip ?? j;
}

function stableRankBench(quick: boolean): Row[] {
  const out: Row[] = [];
  for (const [rows, cols, count] of quick ? [[256, 1024, 4]] : [[256, 1024, 16], [1024, 4096, 8], [4096, 4096, 2]]) {
    const ms = Array.from({ length: count }, (_, i) => ({ data: randomF32(rows * cols, i + 7), rows, cols }));
    stableRankSync(ms.slice(0, 1), { device: 'cuda' });
    const tGpu = seconds(() => stableRankSync(ms, { device: 'cuda' }), 1);
    const tCpu = seconds(() => stableRankSync(ms), 1);
    const torch = torchSvdvals(rows, cols, count, 1);
    out.push({
      rows, cols, matrices: count,
      gpuSeconds: tGpu,
      cpuSeconds: tCpu,
      speedupVsCpu: tCpu / tGpu,
      torchSvdvalsSeconds: typeof torch === 'string' ? null : torch.seconds,
      speedupVsTorch: typeof torch === 'string' ? null : torch.seconds / tGpu,
      torchNote: typeof torch === 'string' ? torch : 'torch inputs are its own uniform draws of the same shape (timing comparison only)',
    });
  }
  return out;
}

function main(): void {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const out = outIdx >= 0 ? args[outIdx + 1] : 'gpu-results';
  const quick = args.includes('--quick');
  const peakIdx = args.indexOf('--peak-tflops');
  const reason = cudaUnavailableReason();
  if (reason !== undefined) {
    console.error(`cuda-bench: cannot run: ${reason}`);
    process.exit(2);
  }
  const info = cudaDeviceInfo();
  const peak = peakIdx >= 0 ? Number(args[peakIdx + 1]) : FP32_PEAK_TFLOPS.find(([re]) => re.test(info.name))?.[1];
  const copy = binding().cudaCopyBandwidth(1 << 30, 5);
  const results = {
    device: info,
    copyBytesPerSecond: copy,
    fp32PeakTflops: peak ?? null,
    projection: projectionBench(quick, peak),
    scheduler: schedulerBench(quick, copy),
    stableRank: stableRankBench(quick),
  };
  fs.mkdirSync(out, { recursive: true });
  writeFileAtomic(path.join(out, 'cuda-bench.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
}

main();
