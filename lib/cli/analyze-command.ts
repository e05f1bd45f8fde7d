/**
 * `curricula analyze stable-rank|fidelity` (the scheduler's gradient checks)
 * and `curricula bench linalg`. See docs/analysis.md and docs/cli.md.
 */
import * as fs from 'fs';
import * as path from 'path';

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';

import type { LinalgBenchOptions } from '../../bench/influence-linalg-bench';
import { chunkCosine } from '../analysis/chunk-cosine';
import { renderCosineHeatmap } from '../analysis/heatmap';
import { readFeatures, readGradientMatrices } from '../analysis/matrix-file';
import type { Progress } from '../analysis/native-job';
import { stableRank } from '../analysis/stable-rank';
import { resolveDevice } from '../device';
import { CurriculaError, FormatError, ValidationError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { readNpy } from '../io/npy';
import { checkWritable } from './inputs';
import { optional, parseCount, parseNumber } from './parse';

interface Bar {
  update(p: Progress): void;
  stop(): void;
}

/** A live bar on a terminal, a line per 10% otherwise, nothing with --quiet. */
function progressBar(label: string, quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Bar {
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new SingleBar({ stream, format: `${label} [{bar}] {percentage}% | ETA {eta_formatted}`, hideCursor: true });
    let started = false;
    return {
      update({ done, total }) {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(Math.min(done, total));
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = -1;
  return {
    update({ done, total }) {
      const decile = Math.floor((total > 0 ? Math.min(1, done / total) : 1) * 10);
      if (decile <= last) return;
      last = decile;
      stream.write(`curricula: ${label} ${decile * 10}%\n`);
    },
    stop() {},
  };
}

/** Ctrl-C aborts the running job (exit 130, nothing written). */
async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const c = new AbortController();
  const onSigint = () => c.abort();
  process.once('SIGINT', onSigint);
  try {
    return await run(c.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function existingFile(flag: string, file: string): void {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new ValidationError(flag, `\`${flag}\`: ${file} does not exist or is not a file`);
}

export interface StableRankFlags {
  grads: string;
  out: string;
  tol?: string;
  maxIterations?: string;
  seed?: string;
  threads?: string;
  device?: string;
  quiet?: boolean;
}

export async function stableRankCommand(flags: StableRankFlags): Promise<void> {
  existingFile('--grads', flags.grads);
  checkWritable('--out', flags.out);
  const options = {
    tol: optional('--tol', flags.tol, parseNumber),
    maxIterations: optional('--max-iterations', flags.maxIterations, parseCount),
    seed: optional('--seed', flags.seed, parseCount),
    threads: optional('--threads', flags.threads, parseCount),
    device: resolveDevice(flags.device, 'the stable rank', '--device'),
  };
  if (options.device.note !== undefined && !flags.quiet) process.stderr.write(`curricula: ${options.device.note}\n`);
  const matrices = readGradientMatrices(flags.grads);
  const bar = progressBar(`stable rank of ${matrices.length} matrices`, !!flags.quiet);
  const started = process.hrtime.bigint();
  let report;
  try {
    report = await withInterrupt((signal) => stableRank(matrices, { ...options, device: options.device.device, signal, onProgress: (p) => bar.update(p) }));
  } finally {
    bar.stop();
  }
  const batchIndex = new Map<string, number>();
  const out = {
    grads: path.resolve(flags.grads),
    tol: options.tol ?? 1e-6,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    layers: report.layers,
    ranks: report.ranks.map((r) => {
      const batch = batchIndex.get(r.layer) ?? 0;
      batchIndex.set(r.layer, batch + 1);
      return { layer: r.layer, batch, srank: r.srank, spectral2: r.spectral2, frobenius2: r.frobenius2, iterations: r.iterations };
    }),
  };
  writeFileAtomic(flags.out, JSON.stringify(out, null, 2) + '\n');
  if (!flags.quiet) {
    for (const l of report.layers) {
      process.stderr.write(`curricula: ${l.layer}: ${l.matrices} matrices, srank min ${l.min.toFixed(3)}, mean ${l.mean.toFixed(3)}\n`);
    }
    process.stderr.write(`curricula: wrote ${flags.out}\n`);
  }
}

/** A 1-D non-negative integer .npy as Uint32Array or BigUint64Array. */
function readIndexOrder(file: string): Uint32Array | BigUint64Array {
  const { dtype, shape, data } = readNpy(file);
  if (shape.length !== 1) throw new FormatError(file, `${file}: an order must be 1-D but has shape (${shape.join(', ')})`);
  if (dtype[1] === 'f') throw new FormatError(file, `${file}: an order must have an integer dtype but has ${dtype}`);
  if (data instanceof Uint32Array || data instanceof BigUint64Array) return data;
  const negative = (i: number): never => {
    throw new ValidationError(`order[${i}]`, `${file}: \`order[${i}]\` = ${data[i]} is negative`);
  };
  if (data instanceof BigInt64Array) return BigUint64Array.from(data, (x, i) => (x < 0n ? negative(i) : x));
  return Uint32Array.from(data as ArrayLike<number>, (x, i) => (x < 0 ? negative(i) : x));
}

export interface FidelityFlags {
  order: string;
  features: string;
  chunks: string;
  out: string;
  svg?: string;
  threads?: string;
  quiet?: boolean;
}

export async function fidelityCommand(flags: FidelityFlags): Promise<void> {
  existingFile('--order', flags.order);
  existingFile('--features', flags.features);
  checkWritable('--out', flags.out);
  if (flags.svg) checkWritable('--svg', flags.svg);
  const chunks = parseCount('--chunks', flags.chunks);
  const threads = optional('--threads', flags.threads, parseCount);
  const order = readIndexOrder(flags.order);
  const features = readFeatures(flags.features);
  const bar = progressBar(`summing ${chunks} chunks`, !!flags.quiet);
  let r;
  try {
    r = await withInterrupt((signal) => chunkCosine(order, features, chunks, { threads, signal, onProgress: (p) => bar.update(p) }));
  } finally {
    bar.stop();
  }
  const k = r.chunks;
  const matrix = Array.from({ length: k }, (_, a) => Array.from(r.cosine.subarray(a * k, (a + 1) * k)));
  const out = {
    order: path.resolve(flags.order),
    features: path.resolve(flags.features),
    length: order.length,
    chunks: k,
    boundaries: r.boundaries,
    minOffDiagonal: r.minOffDiagonal,
    maxOffDiagonal: r.maxOffDiagonal,
    cosine: matrix,
  };
  const svg = flags.svg ? await renderCosineHeatmap(r.cosine, k, `Cosine similarity of gradient sums over ${k} chunks of the order`) : undefined;
  writeFileAtomic(flags.out, JSON.stringify(out, null, 2) + '\n');
  if (flags.svg && svg) writeFileAtomic(flags.svg, svg);
  if (!flags.quiet) {
    process.stderr.write(
      `curricula: off-diagonal cosine in [${r.minOffDiagonal.toFixed(4)}, ${r.maxOffDiagonal.toFixed(4)}]; wrote ${flags.out}${flags.svg ? ` and ${flags.svg}` : ''}\n`,
    );
  }
}

export interface LinalgBenchFlags {
  dim: string;
  rows: string;
  cols: string;
  peer: boolean;
  out?: string;
}

interface LinalgBench {
  main(o: LinalgBenchOptions): Promise<unknown>;
}

function loadLinalgBench(): LinalgBench {
  const file = path.resolve(__dirname, '..', '..', 'bench', 'influence-linalg-bench.js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as LinalgBench;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(file)) {
      throw new CurriculaError(
        `the linalg benchmark is not available: ${file} is missing (build it with \`npm run build:ts\`)`,
        'ERR_CURRICULA_NO_BENCH',
      );
    }
    throw e;
  }
}

export async function benchLinalgCommand(flags: LinalgBenchFlags): Promise<void> {
  const opts: LinalgBenchOptions = {
    dim: parseCount('--dim', flags.dim),
    rows: parseCount('--rows', flags.rows),
    cols: parseCount('--cols', flags.cols),
    peer: flags.peer,
    out: flags.out,
  };
  for (const k of ['dim', 'rows', 'cols'] as const) {
    if (opts[k] < 1) throw new ValidationError(`--${k}`, `Expected positive integer for \`--${k}\` but received ${opts[k]}`);
  }
  if (opts.out) checkWritable('--out', opts.out);
  await loadLinalgBench().main(opts);
}

/** Adds `analyze stable-rank`, `analyze fidelity` and `bench linalg` to the program. */
export function registerAnalyze(program: Command): void {
  const analyze = program.command('analyze').description('gradient analyses of an order: stable rank and mixture fidelity');
  analyze
    .command('stable-rank')
    .description('stable rank ‖M‖_F²/‖M‖_2² of batch gradient matrices, with min and mean per layer')
    .requiredOption('--grads <file>', '.npy [batches, rows, cols] (one layer) or .safetensors (one tensor per layer)')
    .requiredOption('--out <report.json>', 'where to write the report')
    .option('--tol <x>', 'relative accuracy of ‖M‖_2² (default: 1e-6)')
    .option('--max-iterations <n>', 'Lanczos steps per matrix before giving up (default: 500)')
    .option('--seed <n>', 'seed of the random start vectors (default: 0)')
    .option('--threads <n>', '1 or 2 (default: 2); results do not depend on it')
    .option('--device <d>', "cpu, cuda or auto (default: cpu); see docs/cuda.md")
    .option('-q, --quiet', 'no progress or summary on stderr')
    .action((flags: StableRankFlags) => stableRankCommand(flags));
  analyze
    .command('fidelity')
    .description('split an order into k chunks and write the k×k cosine matrix of their gradient sums')
    .requiredOption('--order <order.npy>', 'the order: 1-D integer .npy of example indices')
    .requiredOption('--features <feats.npy>', 'per-example gradient features: float32/float64 .npy of shape [examples, dim]')
    .requiredOption('--chunks <k>', 'number of contiguous chunks')
    .requiredOption('--out <cos.json>', 'where to write the cosine matrix')
    .option('--svg <heatmap.svg>', 'also render the matrix as a heatmap')
    .option('--threads <n>', '1 or 2 (default: 2)')
    .option('-q, --quiet', 'no progress or summary on stderr')
    .action((flags: FidelityFlags) => fidelityCommand(flags));

  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks');
  bench
    .command('linalg')
    .description('Cholesky solve and stable rank against numpy/LAPACK in the same run')
    .option('--dim <d>', 'Cholesky matrix size', '4096')
    .option('--rows <T>', 'stable-rank matrix rows', '1024')
    .option('--cols <d>', 'stable-rank matrix columns', '4096')
    .option('--no-peer', 'skip the numpy peer')
    .option('--out <file.json>', 'also write the results as JSON')
    .action((flags: LinalgBenchFlags) => benchLinalgCommand(flags));
}

