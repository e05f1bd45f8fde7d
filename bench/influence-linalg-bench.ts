/**
 * `curricula bench linalg`: the influence linear algebra against numpy/LAPACK
 * measured in the same run on the same matrices.
 * - Cholesky factor + solve of an SPD dim×dim matrix vs np.linalg.cholesky +
 *   scipy.linalg.cho_solve (np.linalg.cholesky alone when scipy is missing,
 *   which only favours the peer).
 * - Stable rank of a Gaussian float32 rows×cols matrix to 1e-6 relative vs
 *   numpy's full SVD (np.linalg.norm(M, 2)). A Gaussian matrix has the smallest
 *   gap at the top of its spectrum, so it is the slow case for Lanczos.
 * The peer is /usr/bin/python3 (override with CURRICULA_PYTHON); it is skipped
 * with a note when numpy is missing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { choleskySolveSync } from '../lib/analysis/linalg';
import { stableRankSync } from '../lib/analysis/stable-rank';
import { writeFileAtomic } from '../lib/io/atomic';
import { writeNpyAtomic } from '../lib/io/npy';

export interface LinalgBenchOptions {
  dim: number;
  rows: number;
  cols: number;
  /** time the numpy peer (default true) */
  peer?: boolean;
  out?: string;
}

const PEER_SCRIPT = String.raw`
import json, sys, time
import numpy as np
spd, rhs, mat = sys.argv[1:4]
out = {"numpy": np.__version__}
A = np.load(spd); b = np.load(rhs); M = np.load(mat)
try:
    import scipy.linalg as sl
    t = time.perf_counter(); c = sl.cho_factor(A, lower=True, check_finite=False); x = sl.cho_solve(c, b, check_finite=False)
    out["choleskySeconds"] = time.perf_counter() - t; out["choleskyPeer"] = "scipy.linalg.cho_factor + cho_solve"
except ImportError:
    t = time.perf_counter(); L = np.linalg.cholesky(A)
    out["choleskySeconds"] = time.perf_counter() - t; out["choleskyPeer"] = "np.linalg.cholesky only (scipy missing)"
t = time.perf_counter(); s2 = float(np.linalg.norm(M, 2)) ** 2
out["svdSeconds"] = time.perf_counter() - t
out["spectral2"] = s2
out["srank"] = float(np.sum(M.astype(np.float64) ** 2)) / s2
print(json.dumps(out))
`;

interface PeerResult {
  numpy: string;
  choleskySeconds: number;
  choleskyPeer: string;
  svdSeconds: number;
  spectral2: number;
  srank: number;
}

/** Seeded uniform in [-0.5, 0.5) (xorshift), so both sides see the same matrices. */
function uniforms(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Symmetric, strictly diagonally dominant with a positive diagonal: SPD. */
function spdMatrix(n: number): Float64Array {
  const u = uniforms(n * n, 7);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = u[i * n + j];
    a[i * n + i] = 0.5 * n + 1;
  }
  return a;
}

/** Gaussian float32 matrix (Box-Muller on the seeded uniforms). */
function gaussianMatrix(rows: number, cols: number): Float32Array {
  const u = uniforms(rows * cols, 11);
  const v = uniforms(rows * cols, 13);
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < m.length; i++) {
    const a = u[i] + 0.5 || 1e-12;
    const b = v[i] + 0.5;
    m[i] = Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  }
  return m;
}

function seconds(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function runPeer(files: string[]): PeerResult | string {
  const python = process.env.CURRICULA_PYTHON ?? '/usr/bin/python3';
  if (!fs.existsSync(python)) return `${python} not found`;
  const r = spawnSync(python, ['-c', PEER_SCRIPT, ...files], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    const err = (r.stderr || String(r.error ?? '')).trim().split('\n').pop() ?? '';
    return /No module named 'numpy'/.test(err) ? 'numpy is not installed' : `peer failed: ${err}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as PeerResult;
}

export async function main(o: LinalgBenchOptions): Promise<Record<string, unknown>> {
  const log = (s: string) => process.stdout.write(s + '\n');
  const { dim, rows, cols } = o;
  log(`curricula bench linalg: Cholesky+solve at d = ${dim}; stable rank of a ${rows}×${cols} float32 Gaussian matrix (tol 1e-6); ${os.cpus().length} CPUs`);
  const a = spdMatrix(dim);
  const b = Float64Array.from(uniforms(dim, 3));
  const m = gaussianMatrix(rows, cols);
  const result: Record<string, unknown> = { dim, rows, cols };

  let x: Float64Array = new Float64Array(0);
  const chol2 = seconds(() => (x = choleskySolveSync(a, dim, b, { threads: 2 })));
  const chol1 = seconds(() => choleskySolveSync(a, dim, b, { threads: 1 }));
  let residual = 0;
  for (let i = 0; i < dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a[i * dim + j] * x[j];
    residual = Math.max(residual, Math.abs(s - b[i]));
  }
  let sr = stableRankSync([{ data: m, rows, cols }], { tol: 1e-6, threads: 2 });
  const srank2 = seconds(() => (sr = stableRankSync([{ data: m, rows, cols }], { tol: 1e-6, threads: 2 })));
  const srank1 = seconds(() => stableRankSync([{ data: m, rows, cols }], { tol: 1e-6, threads: 1 }));
  const r0 = sr.ranks[0];
  Object.assign(result, {
    choleskySeconds: { threads2: chol2, threads1: chol1 },
    choleskyResidual: residual,
    stableRankSeconds: { threads2: srank2, threads1: srank1 },
    stableRank: { srank: r0.srank, spectral2: r0.spectral2, iterations: r0.iterations },
  });
  log(`  ours   Cholesky+solve: ${chol2.toFixed(3)} s (2 threads), ${chol1.toFixed(3)} s (1 thread); max |Ax - b| = ${residual.toExponential(2)}`);
  log(`  ours   stable rank:    ${srank2.toFixed(3)} s (2 threads), ${srank1.toFixed(3)} s (1 thread); srank ${r0.srank.toFixed(6)} after ${r0.iterations} Lanczos steps`);

  if (o.peer !== false) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-linalg-bench-'));
    try {
      const files = [path.join(dir, 'spd.npy'), path.join(dir, 'rhs.npy'), path.join(dir, 'm.npy')];
      writeNpyAtomic(files[0], a, [dim, dim]);
      writeNpyAtomic(files[1], b, [dim]);
      writeNpyAtomic(files[2], m, [rows, cols]);
      const peer = runPeer(files);
      if (typeof peer === 'string') {
        log(`  peer skipped: ${peer}`);
        result.peer = { skipped: peer };
      } else {
        const rel = Math.abs(peer.spectral2 - r0.spectral2) / peer.spectral2;
        result.peer = peer;
        result.ratios = { cholesky: peer.choleskySeconds / chol2, stableRank: peer.svdSeconds / srank2, spectral2RelDiff: rel };
        log(`  numpy ${peer.numpy}: ${peer.choleskyPeer}: ${peer.choleskySeconds.toFixed(3)} s; full SVD norm: ${peer.svdSeconds.toFixed(3)} s`);
        log(`  ratio (peer / ours, > 1 means we are faster): Cholesky ${(peer.choleskySeconds / chol2).toFixed(2)}x, stable rank ${(peer.svdSeconds / srank2).toFixed(1)}x`);
        log(`  ‖M‖₂² agreement with the SVD: relative difference ${rel.toExponential(2)}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    result.peer = { skipped: 'disabled with --no-peer' };
  }
  if (o.out) writeFileAtomic(o.out, JSON.stringify(result, null, 2) + '\n');
  return result;
}
