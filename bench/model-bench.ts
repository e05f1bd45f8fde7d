/**
 * Demo-model training throughput (node dist/bench/model-bench.js [tokens]):
 * one SGD pass of the native model at the demo shape over real Brown
 * sequences, against a numpy peer doing the same steps with batched matrix
 * products (single-threaded BLAS), measured in the same run from the same
 * initial parameters. Skips the peer with a note when numpy is missing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { prepareDemoData, subsetSequences } from '../lib/demo/data';
import { evalLossSync, initModel, trainModelSync } from '../lib/demo/model';
import { writeNpyAtomic } from '../lib/io/npy';

const PYTHON = '/usr/bin/python3';

function main(): void {
  const tokens = Number(process.argv[2] ?? 50_000);
  const data = prepareDemoData();
  const shape = { vocab: data.vocab.words.length, context: 3, embed: 32, hidden: 64 };
  const L = data.options.seqLength;
  const n = Math.max(1, Math.round(tokens / L));
  const seqs = subsetSequences(data.train.tokens, Array.from({ length: n }, (_, i) => i));
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const batchSize = 4;
  const lr = 0.5;
  const init = initModel(shape, 1);
  const steps = Math.ceil(n / batchSize);

  const t0 = process.hrtime.bigint();
  const r = trainModelSync(shape, init, seqs, order, { batchSize, lr: new Float32Array(steps).fill(lr) });
  const native = Number(process.hrtime.bigint() - t0) / 1e9;
  const t1 = process.hrtime.bigint();
  evalLossSync(shape, r.params, seqs);
  const evalSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  const row: Record<string, unknown> = {
    tokens: seqs.ids.length,
    shape,
    nativeSeconds: native,
    nativeTokensPerSecond: seqs.ids.length / native,
    nativeLastLoss: r.stepLoss[r.stepLoss.length - 1],
    evalTokensPerSecond: seqs.ids.length / evalSeconds,
  };

  const hasNumpy = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  if (!hasNumpy) {
    row.peer = `skipped: ${PYTHON} with numpy not found`;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-model-bench-'));
    try {
      writeNpyAtomic(path.join(dir, 'ids.npy'), seqs.ids);
      writeNpyAtomic(path.join(dir, 'offsets.npy'), seqs.offsets);
      writeNpyAtomic(path.join(dir, 'order.npy'), order);
      writeNpyAtomic(path.join(dir, 'params.npy'), init);
      const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
      const args = [path.join(__dirname, '..', '..', 'bench', 'model_peer.py'), dir, ...[3, 32, 64, shape.vocab, batchSize].map(String), String(lr)];
      const p = spawnSync(PYTHON, args, { env, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`numpy peer failed: ${p.stderr}`);
      const peer = JSON.parse(p.stdout.trim()) as { seconds: number; lastLoss: number };
      row.peerSeconds = peer.seconds;
      row.peerLastLoss = peer.lastLoss;
      row.peerOverNative = peer.seconds / native;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(JSON.stringify(row, null, 2) + '\n');
}

main();
