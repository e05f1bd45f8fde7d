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
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

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

// The peer runs as a child that times one product per line it reads, so that
// its runs interleave with ours (the machine is shared; interleaving spreads the noise evenly).
const NUMPY = `
import sys, time, numpy as np
n, D, d = map(int, sys.argv[1:4])
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
print('numpy', np.__version__, 'blas', blas, flush=True)
for line in sys.stdin:
    s = time.perf_counter()
    A @ B
    print(time.perf_counter() - s, flush=True)
`;

interface Peer {
  blas: string;
  time(): number;
  close(): void;
}

/** Starts the numpy peer; undefined (with a note) when numpy is missing. */
function startPeer(o: ProjectionBenchOptions): { peer?: Peer; note?: string } {
  const python = o.python ?? '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `numpy peer skipped: \`${python} -c "import numpy"\` failed` };
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads) };
  // a synchronous request/response over files keeps the bench simple: one line in, one line out
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-bench-'));
  const inFifo = path.join(dir, 'in');
  const outFifo = path.join(dir, 'out');
  spawnSync('mkfifo', [inFifo, outFifo]);
  const child = spawn(python, ['-c', NUMPY, String(o.n), String(o.inputDim), String(o.dim)], {
    env,
    stdio: [fs.openSync(inFifo, fs.constants.O_RDWR), fs.openSync(outFifo, fs.constants.O_RDWR), 'inherit'],
  });
  const wfd = fs.openSync(inFifo, fs.constants.O_RDWR);
  const rfd = fs.openSync(outFifo, fs.constants.O_RDWR);
  let pending = '';
  const readLine = (): string => {
    const buf = Buffer.alloc(4096);
    while (!pending.includes('\n')) {
      const k = fs.readSync(rfd, buf, 0, buf.length, null);
      if (k === 0) throw new Error('numpy peer closed its output');
      pending += buf.toString('utf8', 0, k);
    }
    const i = pending.indexOf('\n');
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    return line;
  };
  const blas = `${python}: ${readLine()}`;
  return {
    peer: {
      blas,
      time() {
        fs.writeSync(wfd, 'go\n');
        return Number(readLine());
      },
      close() {
        child.kill();
        fs.closeSync(wfd);
        fs.closeSync(rfd);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

function timed(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export async function main(o: ProjectionBenchOptions): Promise<unknown> {
  const log = (s: string) => process.stdout.write(s + '\n');
  const { n, inputDim: D, dim: d, threads } = o;
  const flops = 2 * n * D * d;
  log(`projection bench: n = ${n}, D = ${D}, d = ${d}, ${threads} threads, best of ${o.repeats}; kernel ${binding().gemmKernel}`);
  const A = randomFloats(n * D, 1);
  const B = randomFloats(D * d, 2);
  binding().sgemm(Math.min(n, 64), d, D, A.subarray(0, Math.min(n, 64) * D), B, threads); // warm up
  const { peer, note } = startPeer(o);
  let dense = Infinity;
  let rademacher = Infinity;
  let numpy = Infinity;
  try {
    for (let r = 0; r < o.repeats; r++) {
      dense = Math.min(dense, timed(() => binding().sgemm(n, d, D, A, B, threads)));
      if (peer) numpy = Math.min(numpy, peer.time());
      rademacher = Math.min(rademacher, timed(() => projectGradientsSync({ kind: 'rademacher', inputDim: D, dim: d, seed: 1 }, { grads: A }, { threads })));
    }
  } finally {
    peer?.close();
  }
  const gf = (s: number) => `${(flops / s / 1e9).toFixed(1)} GFLOP/s`;
  log(`  dense sgemm       ${dense.toFixed(3)} s  ${gf(dense)}`);
  log(`  rademacher        ${rademacher.toFixed(3)} s  ${gf(rademacher)}  (${(dense / rademacher).toFixed(2)}x dense throughput; target >= 0.5)`);
  if (peer) {
    log(`  numpy sgemm       ${numpy.toFixed(3)} s  ${gf(numpy)}  (${peer.blas})`);
    log(`  dense / numpy throughput: ${(numpy / dense).toFixed(2)}x (target >= 0.7)`);
  } else {
    log(`  ${note}`);
  }
  const result = { n, D, d, threads, kernel: binding().gemmKernel, denseSeconds: dense, rademacherSeconds: rademacher, numpySeconds: peer ? numpy : null, numpy: peer?.blas ?? null, note: note ?? null };
  if (o.out) writeFileAtomic(o.out, JSON.stringify(result, null, 2) + '\n');
  return result;
}
