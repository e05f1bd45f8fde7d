/**
 * `curricula influence`: stream a gradient directory (and optionally a target
 * directory) through the accumulator and write the state; `curricula
 * influence-merge`: reduce states from many workers to one; `curricula bench
 * projection`: the projection benchmark. See docs/influence.md and docs/cli.md.
 */
import { influenceDelta } from '../influence/scores';
import { writeFileAtomic } from '../io/atomic';
import * as path from 'path';

import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';

import { resolveDevice } from '../device';
import { CurriculaError, ValidationError } from '../errors';
import { accumulateInfluence, type AccumulateProgress } from '../influence/accumulator';
import { mergeAll, readState, writeStateAtomic, type InfluenceState } from '../influence/state';
import { checkWritable } from './inputs';
import { optional, parseCount, parseNumber } from './parse';
import { formatDuration } from './progress';

export interface InfluenceFlags {
  grads: string;
  target?: string;
  projection?: 'dense' | 'rademacher';
  dim: string;
  seed?: string;
  clip?: string;
  clipPercentile?: string;
  threads?: string;
  blockRows?: string;
  device?: string;
  stateOut?: string;
  out?: string;
  quiet?: boolean;
}

/** Scores I_j = ḡ_jᵀR⁻¹v̄ and the normalised logit update Δℓ (reference defaults: cond(R) <= 1e4, z-score, clip ±5, step 0.2). */
const writeDelta: ((state: InfluenceState, out: string) => void) | undefined = (state, out) => {
  const r = influenceDelta(state);
  const body = {
    format: 'curricula.influence-delta',
    version: 1,
    delta: Array.from(r.delta),
    scores: Array.from(r.scores),
    excluded: r.excluded,
    damping: r.damping,
    condition: r.condition,
    method: r.method,
    dim: state.dim,
    examples: state.meta.examples,
    targets: state.targetCount,
  };
  writeFileAtomic(out, JSON.stringify(body, null, 2) + '\n');
};

/** Progress on stderr: a bar per phase on a terminal, a line every 10% otherwise. */
function progressReporter(quiet: boolean, stream: NodeJS.WriteStream = process.stderr) {
  if (quiet) return { update: (_p: AccumulateProgress) => {}, stop: () => {} };
  const start = process.hrtime.bigint();
  let bar: SingleBar | undefined;
  let phase = '';
  let decile = -1;
  return {
    update(p: AccumulateProgress) {
      if (stream.isTTY) {
        if (p.phase !== phase) {
          bar?.stop();
          bar = new SingleBar({ stream, format: `${p.phase.padEnd(10)} [{bar}] {percentage}% | {value}/{total} examples | ETA {eta_formatted}`, hideCursor: true });
          bar.start(p.rows, 0);
        }
        bar!.update(p.rowsDone);
      } else {
        const f = p.rows > 0 ? p.rowsDone / p.rows : 1;
        const dec = p.phase !== phase ? -1 : decile;
        if (Math.floor(f * 10) > dec) {
          decile = Math.floor(f * 10);
          const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
          stream.write(`curricula: ${p.phase} ${Math.floor(f * 100)}% (${p.rowsDone}/${p.rows} examples, ${formatDuration(elapsed)} elapsed)\n`);
        }
      }
      phase = p.phase;
    },
    stop() {
      bar?.stop();
    },
  };
}

export async function influenceCommand(flags: InfluenceFlags): Promise<void> {
  const start = process.hrtime.bigint();
  const log = (line: string) => flags.quiet || process.stderr.write(`curricula: ${line}\n`);
  if (flags.out === undefined && flags.stateOut === undefined) {
    throw new ValidationError('--state-out', 'Give `--state-out` (the accumulated state) and/or `--out` (the logit update)');
  }
  if (flags.out !== undefined && writeDelta === undefined) {
    throw new CurriculaError('`--out` needs the scoring step (lib/influence/scores.ts), which this build does not include; use `--state-out`', 'ERR_CURRICULA_UNSUPPORTED');
  }
  if (flags.out !== undefined) checkWritable('--out', flags.out);
  if (flags.stateOut !== undefined) checkWritable('--state-out', flags.stateOut);
  const options = {
    projection: flags.projection,
    dim: parseCount('--dim', flags.dim),
    seed: optional('--seed', flags.seed, parseCount),
    clip: optional('--clip', flags.clip, parseNumber),
    clipPercentile: optional('--clip-percentile', flags.clipPercentile, parseNumber),
    threads: optional('--threads', flags.threads, parseCount),
    blockRows: optional('--block-rows', flags.blockRows, parseCount),
    device: resolveDevice(flags.device, 'the influence accumulator', '--device'),
  };
  if (options.device.note !== undefined && !flags.quiet) process.stderr.write(`curricula: ${options.device.note}\n`);
  if (options.clip !== undefined && !(options.clip > 0)) throw new ValidationError('--clip', `Expected positive number for \`--clip\` but received ${flags.clip}`);
  if (options.clipPercentile !== undefined && !(options.clipPercentile > 0 && options.clipPercentile <= 100)) {
    throw new ValidationError('--clip-percentile', `Expected number in (0, 100] for \`--clip-percentile\` but received ${flags.clipPercentile}`);
  }
  if (options.dim < 1) throw new ValidationError('--dim', `Expected positive integer for \`--dim\` but received ${flags.dim}`);

  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\ncurricula: interrupted, stopping (Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = progressReporter(flags.quiet ?? false);
  let state: InfluenceState;
  try {
    state = await accumulateInfluence(flags.grads, flags.target, { ...options, device: options.device.device, signal: ac.signal, onProgress: (p) => progress.update(p) });
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (flags.stateOut !== undefined) writeStateAtomic(flags.stateOut, state);
  if (flags.out !== undefined) writeDelta!(state, flags.out);
  log(
    `${state.meta.examples} examples (${state.covCount} in ${state.numClusters} clusters, ${state.targetCount} targets) -> d = ${state.dim}, ` +
      `${state.meta.projection} projection, clip ${state.meta.clip === null ? 'none' : state.meta.clip.toPrecision(6)} in ${formatDuration(seconds)}` +
      (flags.stateOut ? `; state written to ${flags.stateOut}` : ''),
  );
}

export interface MergeFlags {
  out: string;
  quiet?: boolean;
}

export function influenceMergeCommand(files: string[], flags: MergeFlags): void {
  checkWritable('--out', flags.out);
  const merged = mergeAll(files.map(readState));
  writeStateAtomic(flags.out, merged);
  if (!flags.quiet) process.stderr.write(`curricula: merged ${files.length} states (${merged.meta.examples} examples) into ${flags.out}\n`);
}

export interface ProjectionBenchFlags {
  n: string;
  inputDim: string;
  dim: string;
  threads: string;
  repeats: string;
  python?: string;
  out?: string;
}

interface ProjectionBench {
  main(o: { n: number; inputDim: number; dim: number; threads: number; repeats: number; python?: string; out?: string }): Promise<unknown>;
}

function loadBench(): ProjectionBench {
  const file = path.resolve(__dirname, '..', '..', 'bench', 'influence-projection-bench.js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as ProjectionBench;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(file)) {
      throw new CurriculaError(`the projection benchmark is not available: ${file} is missing (build it with \`npm run build:ts\`)`, 'ERR_CURRICULA_NO_BENCH');
    }
    throw e;
  }
}

export async function benchProjectionCommand(flags: ProjectionBenchFlags): Promise<void> {
  await loadBench().main({
    n: parseCount('--n', flags.n),
    inputDim: parseCount('--input-dim', flags.inputDim),
    dim: parseCount('--dim', flags.dim),
    threads: parseCount('--threads', flags.threads),
    repeats: parseCount('--repeats', flags.repeats),
    python: flags.python,
    out: flags.out,
  });
}

/** `influence`, `influence-merge` and `bench projection`. */
export function registerInfluenceCommands(program: Command, bench: Command): void {
  registerProjectionBench(bench);
  program
    .command('influence')
    .description('accumulate per-example gradients (clip, project, per-cluster sums, target sum, covariance) into an influence state')
    .requiredOption('--grads <dir>', 'gradient directory (manifest.json + safetensors or .npy shards)')
    .requiredOption('--dim <d>', 'projected dimension d (1 <= d <= D)')
    .option('--target <dir>', 'gradient directory whose rows are all target examples (default: the rows flagged `target` in --grads)')
    .addOption(new Option('--projection <kind>', 'projection (default: rademacher)').choices(['dense', 'rademacher']))
    .option('--seed <n>', 'projection seed (default: 0)')
    .option('--clip <t>', 'clip each example to L2 norm t > 0 (default: no clipping)')
    .option('--clip-percentile <p>', 'clip at this percentile in (0, 100] of all example norms (one extra pass)')
    .option('--threads <n>', 'native threads; results do not depend on it (default: 2)')
    .option('--block-rows <n>', 'examples read and projected per block (default: about 64 MiB of gradients)')
    .option('--device <d>', 'cpu, cuda or auto (default: cpu); see docs/cuda.md')
    .option('--state-out <file.safetensors>', 'where to write the accumulated state')
    .option('--out <delta.json>', 'where to write the per-cluster logit update Δℓ and raw scores (JSON)')
    .option('-q, --quiet', 'no progress or status on stderr')
    .action((flags: InfluenceFlags) => influenceCommand(flags));

  program
    .command('influence-merge')
    .description('sum influence states computed by several workers (same projection, seed and clipping) into one')
    .argument('<states...>', 'state files (.safetensors)')
    .requiredOption('--out <file.safetensors>', 'where to write the merged state')
    .option('-q, --quiet', 'no status on stderr')
    .action((files: string[], flags: MergeFlags) => influenceMergeCommand(files, flags));
}

/** `curricula bench projection`, registered under the existing `bench` command. */
function registerProjectionBench(bench: Command): void {
  bench
    .command('projection')
    .description('throughput of the dense (sgemm) and Rademacher projections vs numpy sgemm on the same shapes')
    .option('--n <n>', 'examples', '1024')
    .option('--input-dim <D>', 'gradient dimension', '32768')
    .option('--dim <d>', 'projected dimension', '512')
    .option('--threads <t>', 'threads (numpy is limited to the same)', '2')
    .option('--repeats <r>', 'timed repeats (best is reported)', '3')
    .option('--python <path>', 'interpreter of the numpy peer (default: /usr/bin/python3)')
    .option('--out <file.json>', 'also write the results as JSON')
    .action((flags: ProjectionBenchFlags) => benchProjectionCommand(flags));
}
