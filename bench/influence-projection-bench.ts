/**
 * `curricula bench projection`: throughput of the projection kernels on one
 * shape (n examples x D gradient dims -> d), against numpy's sgemm (A @ B in
 * float32, BLAS limited to the same thread count) measured in the same run.
 *   dense:      sgemm with a materialised D x d matrix (cpp/linalg/gemm.cpp)
 *   rademacher: signs generated on the fly per packed block (never D x d);
 *               includes the per-example norm pass and the copy to double
 * The shape is n = 4096, D = 2^18, d = 2048 (about 4.4 TFLOP; minutes
 * here); the default is the same aspect scaled down.
 */
import { spawnSync } from 'child_process';

import { binding } from '../lib/binding';
import { projectGradientsSync } from '../lib/influence/accumulator';
import { writeFileAtomic } from '../lib/io/atomic';

export interface ProjectionBenchOptions {
  n: number;
  inputDim: number;
  dim: number;
  threads: number;
  repeats: number;
  /** the peer's interpreter (default /usr/bin/python3) */
  python?: string;
  out?: string;
}

function randomFloats(len: number, seed: number): Float32Array {
  const a = new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function best(repeats: number, f: () => void): number {
  let b = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = process.hrtime.bigint();
    f();
    b = Math.min(b, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return b;
}

const NUMPY = `
import sys, time, numpy as np
n, D, d, r = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
A = rng.standard_normal((n, D), dtype=np.float32)
B = rng.standard_normal((D, d), dtype=np.float32)
A @ B
try:
    blas = np.show_config(mode='dicts')['Build Dependencies']['blas']['name']
except Exception:
    try:
        blas = ','.join(np.__config__.get_info('blas_opt_info').get('libraries', ['?']))
    except Exception:
        blas = '?'
print('numpy', np.__version__, 'blas', blas)
t = min((lambda s: (A @ B, time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(r))
print(t)
`;

function numpySeconds(o: ProjectionBenchOptions): { seconds?: number; note?: string; blas?: string } {
  const python = o.python ?? '/usr/bin/python3';
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads) };
  const probe = spawnSync(python, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `numpy peer skipped: \`${python} -c "import numpy"\` failed` };
  const r = spawnSync(python, ['-c', NUMPY, String(o.n), String(o.inputDim), String(o.dim), String(o.repeats)], { encoding: 'utf8', env });
  if (r.status !== 0) return { note: `numpy peer failed: ${r.stderr.trim().split('\n').pop()}` };
  const lines = r.stdout.trim().split('\n');
  return { seconds: Number(lines[lines.length - 1]), blas: `${python}: ${lines[0]}` };
}

export async function main(o: ProjectionBenchOptions): Promise<unknown> {
  const log = (s: string) => process.stdout.write(s + '\n');
  const { n, inputDim: D, dim: d, threads } = o;
  const flops = 2 * n * D * d;
  log(`projection bench: n = ${n}, D = ${D}, d = ${d}, ${threads} threads, best of ${o.repeats}; kernel ${binding().gemmKernel}`);
  const A = randomFloats(n * D, 1);
  const B = randomFloats(D * d, 2);
  binding().sgemm(Math.min(n, 64), d, D, A.subarray(0, Math.min(n, 64) * D), B, threads); // warm up
  const dense = best(o.repeats, () => binding().sgemm(n, d, D, A, B, threads));
  const rademacher = best(o.repeats, () => projectGradientsSync({ kind: 'rademacher', inputDim: D, dim: d, seed: 1 }, { grads: A }, { threads }));
  const peer = numpySeconds(o);
  const gf = (s: number) => `${(flops / s / 1e9).toFixed(1)} GFLOP/s`;
  log(`  dense sgemm       ${dense.toFixed(3)} s  ${gf(dense)}`);
  log(`  rademacher        ${rademacher.toFixed(3)} s  ${gf(rademacher)}  (${(dense / rademacher).toFixed(2)}x dense throughput; target >= 0.5)`);
  if (peer.seconds !== undefined) {
    log(`  numpy sgemm       ${peer.seconds.toFixed(3)} s  ${gf(peer.seconds)}  (${peer.blas})`);
    log(`  dense / numpy throughput: ${(peer.seconds / dense).toFixed(2)}x (target >= 0.7)`);
  } else {
    log(`  ${peer.note}`);
  }
  const result = { n, D, d, threads, kernel: binding().gemmKernel, denseSeconds: dense, rademacherSeconds: rademacher, numpySeconds: peer.seconds ?? null, numpy: peer.blas ?? null, note: peer.note ?? null };
  if (o.out) writeFileAtomic(o.out, JSON.stringify(result, null, 2) + '\n');
  return result;
}
