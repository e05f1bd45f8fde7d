/**
 * Cumulative targets of a curriculum, E_k(S) = ∫_0^S p_k(n) dn, and the
 * scheduler's target table (a grid on which linear interpolation stays within
 * maxErrorTokens of E). The integration runs natively; bounds are derived in
 * docs/curriculum.md.
 */
import { binding, nativeError } from '../binding';
import { parseOptions } from '../config';
import { AbortError, ValidationError, describeValue } from '../errors';
import type { SequenceSet } from '../io/sequences';
import { validateCurriculum, type Curriculum } from './curriculum';
import { z } from 'zod';

export interface TargetTable {
  /** G grid points in tokens: integers, strictly increasing, tokens[0] = 0, last >= totalTokens */
  tokens: Float64Array;
  /** G×K row-major: cumulative[g*K + k] = E_k(tokens[g]) */
  cumulative: Float64Array;
  /** number of columns K */
  groups: number;
  /** proven bound on |linear interpolation − E_k(S)| from the grid spacing (tokens) */
  interpolationBound: number;
  /** bound on the error of the tabulated values themselves (quadrature and rounding, tokens) */
  quadratureBound: number;
}

/** Default cap on G×K (2^28 doubles = 2 GiB). */
export const DEFAULT_MAX_TABLE_ENTRIES = 2 ** 28;

const tableOptionsSchema = z
  .object({
    maxErrorTokens: z.number().finite().min(0.3).default(0.5),
    maxEntries: z.number().int().positive().default(DEFAULT_MAX_TABLE_ENTRIES),
    threads: z.number().int().min(1).max(64).default(1),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();

export type TargetTableOptions = {
  /** linear interpolation of the table stays within this many tokens of E_k(S) (>= 0.3; default 0.5) */
  maxErrorTokens?: number;
  /** refuse tables with more than this many entries G×K (default 2^28) */
  maxEntries?: number;
  /**
   * threads (default 1); the table does not depend on it. Threads meet at two barriers
   * per grid cell, so more than one only pays on idle cores (it was slower on a busy machine).
   */
  threads?: number;
};

export interface TargetTableAsyncOptions extends TargetTableOptions {
  signal?: AbortSignal;
  onProgress?: (p: { tokens: number; totalTokens: number }) => void;
}

function nativeCurriculum(c: Curriculum): { s: Float64Array; logits: Float64Array; groups: number } {
  validateCurriculum(c);
  return { s: c.s, logits: c.logits, groups: c.groups };
}

function checkTotal(totalTokens: number): void {
  if (typeof totalTokens !== 'number' || !Number.isSafeInteger(totalTokens) || totalTokens < 1) {
    throw new ValidationError('totalTokens', `Expected positive integer for \`totalTokens\` but received ${describeValue(totalTokens)}`);
  }
}

function fieldOfNative(message: string): string {
  if (message.startsWith('maxErrorTokens')) return 'maxErrorTokens';
  if (message.startsWith('the target table would exceed')) return 'maxEntries';
  if (message.startsWith('totalTokens')) return 'totalTokens';
  return 'curriculum';
}

function wrap(e: unknown): Error {
  const msg = (e as { message?: string })?.message ?? '';
  return nativeError(e, fieldOfNative(msg));
}

/**
 * E_k at each of `points` (tokens >= 0, any order): out[i*K + k] = E_k(points[i]).
 * Relative error below 1e-12 (truncation bound 1e-15 plus rounding; docs/curriculum.md).
 */
export function cumulativeTargets(c: Curriculum, points: ArrayLike<number>): Float64Array {
  const pts = Float64Array.from(points);
  for (let i = 0; i < pts.length; i++) {
    if (!Number.isFinite(pts[i]) || pts[i] < 0) {
      throw new ValidationError(`points[${i}]`, `Expected finite number of tokens >= 0 for \`points[${i}]\` but received ${describeValue(points[i])}`);
    }
  }
  const cur = nativeCurriculum(c);
  try {
    return binding().curriculumCumulative(cur, pts);
  } catch (e) {
    throw wrap(e);
  }
}

/**
 * The scheduler's target table (synchronous). Linear interpolation between
 * grid points differs from the exact E_k(S) by at most `maxErrorTokens` for
 * every k and S in [0, totalTokens].
 */
export function targetTable(c: Curriculum, totalTokens: number, options?: TargetTableOptions): TargetTable {
  const o = parseOptions(tableOptionsSchema, options);
  checkTotal(totalTokens);
  const cur = nativeCurriculum(c);
  try {
    const r = binding().curriculumTargetTableSync(cur, totalTokens, o.maxErrorTokens, o.maxEntries, o.threads);
    return { ...r, groups: c.groups };
  } catch (e) {
    throw wrap(e);
  }
}

/** targetTable on a worker thread, with progress and AbortSignal. */
export async function targetTableAsync(c: Curriculum, totalTokens: number, options?: TargetTableAsyncOptions): Promise<TargetTable> {
  const o = parseOptions(tableOptionsSchema, options);
  checkTotal(totalTokens);
  const cur = nativeCurriculum(c);
  if (o.signal?.aborted) throw new AbortError();
  const onProgress = options?.onProgress;
  const job = binding().curriculumTargetTable(
    cur,
    totalTokens,
    o.maxErrorTokens,
    o.maxEntries,
    o.threads,
    onProgress ? (tokens, total) => onProgress({ tokens, totalTokens: total }) : undefined,
  );
  const abort = () => job.cancel();
  o.signal?.addEventListener('abort', abort, { once: true });
  try {
    const r = await job.promise;
    return { ...r, groups: c.groups };
  } catch (e) {
    throw wrap(e);
  } finally {
    o.signal?.removeEventListener('abort', abort);
  }
}

/** Linear interpolation of a table at S tokens (clamped to the last row beyond the grid). */
export function interpolateTable(table: Pick<TargetTable, 'tokens' | 'cumulative'>, K: number, S: number): Float64Array {
  const t = table.tokens;
  const G = t.length;
  const out = new Float64Array(K);
  if (S >= t[G - 1]) {
    out.set(table.cumulative.subarray((G - 1) * K, G * K));
    return out;
  }
  let lo = 0;
  let hi = G - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= S) lo = mid;
    else hi = mid;
  }
  const w = (S - t[lo]) / (t[hi] - t[lo]);
  for (let k = 0; k < K; k++) {
    const a = table.cumulative[lo * K + k];
    out[k] = a + w * (table.cumulative[hi * K + k] - a);
  }
  return out;
}

/**
 * Per-group length-bin shares κ_{b|j} (K×B row-major) from a sequence set:
 * tokens of group j in bin b over tokens of group j. A group without tokens gets
 * the global bin shares (as the scheduler does).
 */
export function binShares(set: SequenceSet): Float64Array {
  const K = set.numGroups;
  const B = set.numBins;
  const kappa = new Float64Array(K * B);
  const byGroup = new Float64Array(K);
  const byBin = new Float64Array(B);
  for (let i = 0; i < set.tokens.length; i++) {
    const g = set.group[i];
    const b = set.bin[i];
    if (g >= K) throw new ValidationError(`group[${i}]`, `group[${i}] = ${g} is out of range [0, ${K})`);
    if (b >= B) throw new ValidationError(`bin[${i}]`, `bin[${i}] = ${b} is out of range [0, ${B})`);
    kappa[g * B + b] += set.tokens[i];
    byGroup[g] += set.tokens[i];
    byBin[b] += set.tokens[i];
  }
  let total = 0;
  for (let b = 0; b < B; b++) total += byBin[b];
  for (let g = 0; g < K; g++) {
    for (let b = 0; b < B; b++) {
      kappa[g * B + b] = byGroup[g] > 0 ? kappa[g * B + b] / byGroup[g] : total > 0 ? byBin[b] / total : 1 / B;
    }
  }
  return kappa;
}

/**
 * U*_b at the table's grid: U*_b(S) = Σ_j E_j(S) κ_{b|j}. `kappa` is K×B row-major
 * (rows non-negative, each summing to 1). Linear interpolation of the result
 * errs by at most Σ_j κ_{b|j}·(bound of E_j) <= K·maxErrorTokens·max κ; see docs.
 */
export function binTargetTable(table: Pick<TargetTable, 'tokens' | 'cumulative'>, kappa: ArrayLike<number>): { tokens: Float64Array; cumulative: Float64Array; bins: number } {
  const G = table.tokens.length;
  if (G === 0 || table.cumulative.length % G !== 0) {
    throw new ValidationError('table', `\`table.cumulative\` has ${table.cumulative.length} entries, not a multiple of ${G} grid points`);
  }
  const K = table.cumulative.length / G;
  if (kappa.length === 0 || kappa.length % K !== 0) {
    throw new ValidationError('kappa', `\`kappa\` has ${kappa.length} entries; expected K×B with K = ${K} groups`);
  }
  const B = kappa.length / K;
  for (let j = 0; j < K; j++) {
    let sum = 0;
    for (let b = 0; b < B; b++) {
      const x = kappa[j * B + b];
      if (!Number.isFinite(x) || x < 0) throw new ValidationError(`kappa[${j}][${b}]`, `\`kappa[${j}][${b}]\` = ${describeValue(x)} must be a finite share >= 0`);
      sum += x;
    }
    if (Math.abs(sum - 1) > 1e-9) throw new ValidationError(`kappa[${j}]`, `row \`kappa[${j}]\` sums to ${sum}; each group's bin shares must sum to 1`);
  }
  const out = new Float64Array(G * B);
  for (let g = 0; g < G; g++) {
    for (let j = 0; j < K; j++) {
      const e = table.cumulative[g * K + j];
      if (e === 0) continue;
      for (let b = 0; b < B; b++) out[g * B + b] += e * kappa[j * B + b];
    }
  }
  return { tokens: table.tokens, cumulative: out, bins: B };
}
