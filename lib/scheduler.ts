/**
 * The greedy curriculum-aligned scheduler: builds one explicit order of
 * sequences whose prefixes track the target mixture over groups and
 * document-length bins. See docs/architecture.md for the objective and the
 * exact search behind it.
 */
import {
  binding,
  nativeError,
  type NativeCorpus,
  type NativeScheduleOptions,
  type NativeScheduleStats,
  type TargetTable,
} from './binding';
import { parseOptions, scheduleOptionsSchema, type ScheduleOptionsInput, type ScheduleOptionsParsed } from './config';
import { assertGroups, validateCurriculum, type Curriculum } from './curriculum/curriculum';
import { targetTable, targetTableAsync } from './curriculum/targets';
import { resolveDevice } from './device';
import { AbortError, ValidationError } from './errors';
import { corpusMixture, validateMixture } from './io/mixture';
import { validateSequenceSet, type SequenceSet } from './io/sequences';

export type Order = Uint32Array | BigUint64Array;

export interface ScheduleProgress {
  steps: number;
  tokens: number;
  /** tokens the run will schedule in all (the budget, or the corpus) */
  goal: number;
}

export interface ScheduleOptions extends Omit<ScheduleOptionsInput, 'onProgress'> {
  onProgress?: (p: ScheduleProgress) => void;
}

export interface ScheduleResult {
  /** sequence indices in training order (the resume prefix is not repeated) */
  order: Order;
  /** tokens in `order` */
  tokens: number;
  /** the group mixture the order follows (with `targets`: the table's average mixture up to its end) */
  mixture: Float64Array;
  /** the target table, when the order follows one */
  targets?: TargetTable;
  stats: NativeScheduleStats;
  /** 'cuda' when the CUDA brute force produced the order */
  device?: 'cpu' | 'cuda';
  /** why `device: 'auto'` fell back to the CPU (one line) */
  deviceNote?: string;
}

function totalTokens(set: SequenceSet): number {
  let t = 0;
  for (let i = 0; i < set.tokens.length; i++) t += set.tokens[i];
  return t;
}

function prepare(input: SequenceSet, options: ScheduleOptions | undefined): {
  corpus: NativeCorpus;
  native: NativeScheduleOptions;
  parsed: ScheduleOptionsParsed;
  mixture: Float64Array;
} {
  const parsed = parseOptions(scheduleOptionsSchema, options);
  const corpus = nativeCorpus(input);
  onlyOneTarget(parsed);
  let table = parsed.targets ? validateTargetTable(parsed.targets, input.numGroups) : undefined;
  // A curriculum resumed on a fresh pool: continue the targets from `offset`.
  if (table && parsed.offset && !parsed.resume) table = shiftTable(table, input.numGroups, parsed.offset);
  const mixture = table
    ? tableMixture(table, input.numGroups)
    : parsed.mixture
      ? validateMixture(parsed.mixture, input.numGroups, input.groupNames)
      : corpusMixture(input);
  if (input.numBins > 64) {
    throw new ValidationError('numBins', `Expected at most 64 length bins for \`numBins\` but received ${input.numBins}`);
  }
  const M = input.offsets.length - 1;
  let resumed = 0;
  if (parsed.resume) {
    const seen = new Uint8Array(M);
    for (let i = 0; i < parsed.resume.length; i++) {
      const s = Number(parsed.resume[i]);
      if (s >= M) throw new ValidationError(`resume[${i}]`, `resume[${i}] = ${s} is out of range [0, ${M})`);
      if (seen[s]) throw new ValidationError(`resume[${i}]`, `resume[${i}] = ${s} appears twice in the resume order`);
      seen[s] = 1;
      resumed += sequenceLength(input, s);
    }
  }
  if (parsed.offset !== undefined && parsed.resume && parsed.offset !== resumed) {
    throw new ValidationError(
      'offset',
      `\`offset\` is ${parsed.offset} but the resume order holds ${resumed} tokens; they must agree`,
    );
  }
  const available = totalTokens(input) - resumed;
  if (parsed.budget !== undefined && parsed.budget > available) {
    throw new ValidationError(
      'budget',
      `Expected \`budget\` <= ${available} (tokens left to schedule) but received ${parsed.budget}`,
    );
  }
  const native: NativeScheduleOptions = {
    ...(table ? { targets: table } : { mixture }),
    lambda: parsed.lambda,
    objective: parsed.objective,
    sigma: parsed.sigma,
    seed: BigInt(parsed.seed),
    budgetTokens: parsed.budget ?? 0,
    resume: parsed.resume,
    threads: parsed.threads,
  };
  return { corpus, native, parsed, mixture };
}

/** Shape checks that name the field; the addon checks values (monotone, finite, row sums). */
function validateTargetTable(t: TargetTable, K: number): TargetTable {
  const G = t.tokens.length;
  if (G < 2) throw new ValidationError('targets.tokens', `Expected at least 2 grid points for \`targets.tokens\` but received ${G}`);
  if (t.cumulative.length !== G * K) {
    throw new ValidationError(
      'targets.cumulative',
      `Expected ${G} x ${K} = ${G * K} entries for \`targets.cumulative\` (grid points x groups) but received ${t.cumulative.length}`,
    );
  }
  return t;
}

function onlyOneTarget(o: { mixture?: unknown; targets?: unknown; curriculum?: unknown }): void {
  if ([o.targets, o.mixture, o.curriculum].filter((x) => x !== undefined).length > 1) {
    throw new ValidationError('targets', 'Give one of `mixture`, `curriculum` or `targets` (a curriculum target table), not several');
  }
}

function checkedCurriculum(c: Curriculum, input: SequenceSet): Curriculum {
  validateCurriculum(c, 'curriculum');
  assertGroups(c, input.numGroups, 'curriculum');
  return c;
}

/** Tokens a curriculum's table must cover: the whole corpus, past `offset` when one is given. */
function curriculumTokens(input: SequenceSet, options: { offset?: number }): number {
  const offset = typeof options.offset === 'number' && options.offset > 0 ? options.offset : 0;
  return totalTokens(input) + offset;
}

/** E'_k(S) = E_k(offset + S) - E_k(offset), on the grid points past `offset`. */
export function shiftTable(t: TargetTable, K: number, offset: number): TargetTable {
  const G = t.tokens.length;
  if (offset >= t.tokens[G - 1]) {
    throw new ValidationError('offset', `Expected \`offset\` < ${t.tokens[G - 1]} (the end of \`targets\`) but received ${offset}`);
  }
  let g = 0;
  while (t.tokens[g + 1] <= offset) g++;
  const w = (offset - t.tokens[g]) / (t.tokens[g + 1] - t.tokens[g]);
  const at = Float64Array.from({ length: K }, (_, k) => t.cumulative[g * K + k] + w * (t.cumulative[(g + 1) * K + k] - t.cumulative[g * K + k]));
  const n = G - g; // offset itself, then grid points g+1 .. G-1
  const tokens = new Float64Array(n);
  const cumulative = new Float64Array(n * K);
  for (let i = 1; i < n; i++) {
    tokens[i] = t.tokens[g + i] - offset;
    for (let k = 0; k < K; k++) cumulative[i * K + k] = Math.max(0, t.cumulative[(g + i) * K + k] - at[k]);
  }
  return { tokens, cumulative };
}

/** The table's average mixture from 0 to its last grid point. */
function tableMixture(t: TargetTable, K: number): Float64Array {
  const G = t.tokens.length;
  const m = new Float64Array(K);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += t.cumulative[(G - 1) * K + k];
  for (let k = 0; k < K; k++) m[k] = sum > 0 ? t.cumulative[(G - 1) * K + k] / sum : 0;
  return m;
}

function sequenceLength(set: SequenceSet, s: number): number {
  let l = 0;
  for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) l += set.tokens[i];
  return l;
}

/**
 * Schedules off the event loop. Reports progress through `onProgress` and
 * rejects with AbortError when `signal` aborts.
 */
export async function schedule(input: SequenceSet, options?: ScheduleOptions): Promise<ScheduleResult> {
  if (options?.curriculum) {
    const { curriculum, ...rest } = options;
    onlyOneTarget(options);
    const targets = await targetTableAsync(checkedCurriculum(curriculum, input), curriculumTokens(input, options), { signal: options.signal });
    return schedule(input, { ...rest, targets });
  }
  const { corpus, native, parsed, mixture } = prepare(input, options);
  const signal = parsed.signal;
  if (signal?.aborted) throw new AbortError();
  const onProgress = options?.onProgress;
  const cuda = parsed.engine === 'cuda-brute';
  if (cuda) resolveDevice('cuda', 'the scheduler', 'engine');
  const report = onProgress ? (steps: number, tokens: number, goal: number) => onProgress({ steps, tokens, goal }) : undefined;
  const job = cuda ? binding().cudaScheduleBruteForce(corpus, native, report) : binding().schedule(corpus, native, report);
  const abort = () => job.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    const r = await job.promise;
    return { order: r.order, tokens: r.tokens, mixture, ...(native.targets ? { targets: native.targets } : {}), stats: r.stats, ...(cuda ? { device: 'cuda' as const } : {}) };
  } catch (e) {
    throw nativeError(e, nativeField(e));
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

type SyncOptions = Omit<ScheduleOptions, 'signal' | 'onProgress'>;

function runSync(input: SequenceSet, options: SyncOptions | undefined, entry: 'scheduleSync' | 'scheduleBruteForceSync'): ScheduleResult {
  if (options?.curriculum) {
    const { curriculum, ...rest } = options;
    onlyOneTarget(options);
    const targets = targetTable(checkedCurriculum(curriculum, input), curriculumTokens(input, options));
    return runSync(input, { ...rest, targets }, entry);
  }
  const { corpus, native, mixture, parsed } = prepare(input, options);
  let device: { device: 'cpu' | 'cuda'; note?: string } = { device: 'cpu' };
  if (entry === 'scheduleBruteForceSync') device = resolveDevice(parsed.device, 'the brute-force scheduler');
  else if (parsed.device !== 'cpu') throw new ValidationError('device', "`device` applies to scheduleBruteForceSync; use `engine: 'cuda-brute'` for schedule/scheduleSync");
  if (parsed.engine === 'cuda-brute') device = resolveDevice('cuda', 'the scheduler', 'engine');
  try {
    const r = device.device === 'cuda' ? binding().cudaScheduleBruteForceSync(corpus, native) : binding()[entry](corpus, native);
    const extra = device.device === 'cuda' ? { device: 'cuda' as const } : device.note !== undefined ? { deviceNote: device.note } : {};
    return { order: r.order, tokens: r.tokens, mixture, ...(native.targets ? { targets: native.targets } : {}), stats: r.stats, ...extra };
  } catch (e) {
    throw nativeError(e, nativeField(e));
  }
}

/** Synchronous variant for small inputs (blocks the event loop while it runs). */
export function scheduleSync(input: SequenceSet, options?: SyncOptions): ScheduleResult {
  return runSync(input, options, 'scheduleSync');
}

/**
 * The same schedule computed naively: every remaining sequence is scored
 * exactly at every step (O(M * nnz) score evaluations). For cross-checks and
 * as the benchmark baseline.
 */
export function scheduleBruteForceSync(input: SequenceSet, options?: SyncOptions): ScheduleResult {
  return runSync(input, options, 'scheduleBruteForceSync');
}

/** The option a native validation message is about (the addon names table entries in its messages). */
function nativeField(e: unknown): string {
  const m = (e as { message?: string })?.message ?? '';
  return m.startsWith('targets') ? 'targets' : 'input';
}

/** Native view of a validated set (no copies). */
export function nativeCorpus(input: SequenceSet): NativeCorpus {
  validateSequenceSet(input);
  return {
    offsets: input.offsets,
    group: input.group,
    bin: input.bin,
    tokens: input.tokens,
    numGroups: input.numGroups,
    numBins: input.numBins,
  };
}
