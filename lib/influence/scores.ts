/**
 * Influence scores and the logit increment Δℓ from an accumulator state:
 * I_j = ḡ_jᵀ R⁻¹ v̄ with ḡ_j = sum_j / count_j, v̄ = targetSum / targetCount and
 * R = cov / covCount + damping·I, then Δℓ = normalise(I). The increment is a
 * plain Float64Array of length K, ready for the curriculum's Algorithm 1 or a
 * static TerRIFIC update (ℓ ← ℓ + Δℓ). See docs/influence-scores.md.
 */
import { z } from 'zod';

import { binding, type NativeInfluenceState, type NativeScoreOptions, type NativeScores } from '../binding';
import { isFloat64Array, parseOptions } from '../config';
import { ValidationError, describeValue } from '../errors';
import { runNativeJob, runNativeSync, type Progress } from '../analysis/native-job';
import { normaliseOptionsSchema, normaliseScores } from './normalise';
import type { InfluenceState } from './state';

export const influenceScoreOptionsSchema = z
  .object({
    /** Absolute damping added to the diagonal of cov/covCount. Give this or `maxCondition`. */
    damping: z.number().finite().min(0).optional(),
    /** Choose the smallest damping with cond(R) <= maxCondition (default 1e4, like the public reference). */
    maxCondition: z.number().finite().gt(1).optional(),
    /** "cholesky": one factorisation and solve (fast); "eigen": through R = QΛQᵀ (gives the same scores). */
    method: z.enum(['cholesky', 'eigen']).default('cholesky'),
    /** Clusters with count 0: "exclude" (score 0, Δℓ 0, left out of the normalisation) or "error". */
    emptyClusters: z.enum(['exclude', 'error']).default('exclude'),
    /** How raw scores become Δℓ (defaults: z-score, clip ±5, step 0.2). */
    normalise: normaliseOptionsSchema.optional(),
    /** Threads for the factorisations (1 or 2); results do not depend on it. */
    threads: z.number().int().min(1).max(2).default(2),
    /** Seed of the Lanczos start vectors that bound the spectrum on the Cholesky path. */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    /** Relative tolerance of those spectrum bounds. */
    spectrumTol: z.number().finite().positive().max(0.1).default(1e-10),
  })
  .strict()
  .refine((o) => o.damping === undefined || o.maxCondition === undefined, {
    message: 'Give either `damping` (absolute) or `maxCondition`, not both',
    path: ['damping'],
  });

export type InfluenceScoreOptions = z.input<typeof influenceScoreOptionsSchema>;

export interface InfluenceDeltaAsyncOptions extends InfluenceScoreOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface InfluenceDelta {
  /** raw scores I_j (0 for excluded clusters) */
  scores: Float64Array;
  /** Δℓ_j: normalised, clipped and scaled scores (0 for excluded clusters) */
  delta: Float64Array;
  /** the damping used (absolute units, added to cov/covCount) */
  damping: number;
  /** cond(R): exact on the eigen path; an upper bound on the Cholesky path */
  condition: number;
  /** spectrum of cov/covCount: exact on the eigen path, else bounds (lambdaMin <= λ_min, lambdaMax >= λ_max) */
  lambdaMin: number;
  lambdaMax: number;
  spectrumExact: boolean;
  /** 1 where the cluster was scored */
  included: Uint8Array;
  /** clusters left out because their count is 0 */
  excluded: number[];
  method: 'cholesky' | 'eigen';
}

function expectArray(field: string, value: unknown, length: number): Float64Array {
  if (!(isFloat64Array(value))) {
    throw new ValidationError(field, `Expected Float64Array for \`${field}\` but received ${describeValue(value)}`);
  }
  if (value.length !== length) {
    throw new ValidationError(field, `Expected ${length} entries for \`${field}\` but received ${value.length}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (!Number.isFinite(value[i])) {
      throw new ValidationError(`${field}[${i}]`, `Expected finite number for \`${field}[${i}]\` but received ${value[i]}`);
    }
  }
  return value;
}

function expectCount(field: string, value: unknown, positive: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new ValidationError(
      field,
      `Expected ${positive ? 'positive' : 'non-negative'} finite number for \`${field}\` but received ${describeValue(value)}`,
    );
  }
  return value;
}

/** Checks shapes and values of a state, naming the field of the first problem. */
export function validateInfluenceState(state: InfluenceState): NativeInfluenceState {
  if (state === null || typeof state !== 'object') {
    throw new ValidationError('state', `Expected an InfluenceState object for \`state\` but received ${describeValue(state)}`);
  }
  const { dim, numClusters } = state;
  for (const [field, v] of [['dim', dim], ['numClusters', numClusters]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new ValidationError(field, `Expected positive integer for \`${field}\` but received ${describeValue(v)}`);
    }
  }
  const count = expectArray('count', state.count, numClusters);
  for (let j = 0; j < count.length; j++) expectCount(`count[${j}]`, count[j], false);
  const cov = expectArray('cov', state.cov, dim * dim);
  return {
    dim,
    numClusters,
    count,
    sum: expectArray('sum', state.sum, numClusters * dim),
    targetCount: expectCount('targetCount', state.targetCount, true),
    targetSum: expectArray('targetSum', state.targetSum, dim),
    covCount: expectCount('covCount', state.covCount, true),
    cov,
  };
}

interface Prepared {
  native: NativeInfluenceState;
  options: NativeScoreOptions;
  normalise: unknown;
  method: 'cholesky' | 'eigen';
}

function prepare(state: InfluenceState, options: InfluenceScoreOptions | undefined): Prepared {
  const { signal: _s, onProgress: _p, ...rest } = (options ?? {}) as InfluenceDeltaAsyncOptions;
  const o = parseOptions(influenceScoreOptionsSchema, rest);
  const native = validateInfluenceState(state);
  return {
    native,
    method: o.method,
    normalise: o.normalise,
    options: {
      dampingMode: o.damping !== undefined ? 'absolute' : 'condition',
      damping: o.damping ?? 0,
      maxCondition: o.maxCondition ?? 1e4,
      method: o.method,
      excludeEmpty: o.emptyClusters === 'exclude',
      threads: o.threads,
      seed: o.seed,
      spectrumTol: o.spectrumTol,
    },
  };
}

function finish(p: Prepared, r: NativeScores): InfluenceDelta {
  const excluded: number[] = [];
  for (let j = 0; j < r.included.length; j++) if (!r.included[j]) excluded.push(j);
  return {
    scores: r.scores,
    delta: normaliseScores(r.scores, p.normalise as never, r.included),
    damping: r.damping,
    condition: r.condition,
    lambdaMin: r.lambdaMin,
    lambdaMax: r.lambdaMax,
    spectrumExact: r.spectrumExact,
    included: r.included,
    excluded,
    method: p.method,
  };
}

/** Scores and Δℓ, computed on the calling thread (fine for dim up to ~1000). */
export function influenceDelta(state: InfluenceState, options?: InfluenceScoreOptions): InfluenceDelta {
  const p = prepare(state, options);
  return finish(p, runNativeSync(() => binding().influenceScoresSync(p.native, p.options), 'state'));
}

/** Scores and Δℓ off the event loop, with progress and an AbortSignal (for large dim). */
export async function influenceDeltaAsync(state: InfluenceState, options?: InfluenceDeltaAsyncOptions): Promise<InfluenceDelta> {
  const p = prepare(state, options);
  const r = await runNativeJob((cb) => binding().influenceScores(p.native, p.options, cb), options?.signal, options?.onProgress, 'state');
  return finish(p, r);
}

export interface WhitenedFeatures {
  /** numRows × dim row-major: R^{-1/2} x for each input row (symmetric square root) */
  rows: Float64Array;
  damping: number;
  lambdaMin: number;
  lambdaMax: number;
}

function prepareRows(p: Prepared, rows: Float64Array, numRows: number): void {
  if (!Number.isSafeInteger(numRows) || numRows < 0) {
    throw new ValidationError('numRows', `Expected non-negative integer for \`numRows\` but received ${describeValue(numRows)}`);
  }
  expectArray('rows', rows, numRows * p.native.dim);
}

/**
 * Whitened features R^{-1/2} x for user rows (e.g. per-example gradients in
 * the projected space), through the eigendecomposition of R. Dot products of
 * whitened rows equal the Cholesky-path scores: whiten(ḡ_j)·whiten(v̄) = I_j.
 */
export function whitenFeatures(state: InfluenceState, rows: Float64Array, numRows: number, options?: InfluenceScoreOptions): WhitenedFeatures {
  const p = prepare(state, options);
  prepareRows(p, rows, numRows);
  return runNativeSync(() => binding().whitenSync(p.native, p.options, rows, numRows), 'state');
}

export async function whitenFeaturesAsync(
  state: InfluenceState,
  rows: Float64Array,
  numRows: number,
  options?: InfluenceDeltaAsyncOptions,
): Promise<WhitenedFeatures> {
  const p = prepare(state, options);
  prepareRows(p, rows, numRows);
  return runNativeJob((cb) => binding().whiten(p.native, p.options, rows, numRows, cb), options?.signal, options?.onProgress, 'state');
}
