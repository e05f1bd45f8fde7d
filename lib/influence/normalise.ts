/**
 * Normalisation of raw influence scores into a logit increment Δℓ, as in the
 * static TerRIFIC update: subtract a centre (mean or trimmed mean) across
 * clusters, divide by the spread, clip to ±clip, multiply by a step.
 * Defaults follow the reference: z-score, clip ±5, step 0.2.
 */
import { z } from 'zod';

import { parseOptions } from '../config';
import { ValidationError } from '../errors';

const quantile = z.number().finite().min(0).max(1);

export const normaliseOptionsSchema = z
  .object({
    /** "mean": subtract the mean; "trimmed-mean": the mean of the scores between the `trim` quantiles; "none". */
    center: z.enum(['mean', 'trimmed-mean', 'none']).default('mean'),
    /** Lower and upper quantiles kept by the trimmed mean. */
    trim: z.tuple([quantile, quantile]).default([0.1, 0.9]),
    /** "std": divide by sqrt(mean((s - centre)²)) (the population std when centre is the mean); "none". */
    scale: z.enum(['std', 'none']).default('std'),
    /** Clip the normalised scores to [-clip, clip]; null: no clipping. */
    clip: z.number().finite().positive().nullable().default(5),
    /** Multiplier applied last: Δℓ = step · clip(z). */
    step: z.number().finite().positive().default(0.2),
  })
  .strict()
  .refine((o) => o.trim[0] < o.trim[1], { message: 'Expected trim[0] < trim[1]', path: ['trim'] });

export type NormaliseOptions = z.input<typeof normaliseOptionsSchema>;
export type NormaliseOptionsParsed = z.output<typeof normaliseOptionsSchema>;

export function parseNormaliseOptions(options: unknown): NormaliseOptionsParsed {
  return parseOptions(normaliseOptionsSchema, options, 'normalise');
}

/** Linear-interpolation quantile (numpy's default) of sorted values. */
function quantileOf(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Mean of the values between the `lo` and `hi` quantiles (inclusive); the
 * median when no value lies strictly inside (tiny inputs).
 */
export function trimmedMean(values: readonly number[], lo: number, hi: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const a = quantileOf(sorted, lo);
  const b = quantileOf(sorted, hi);
  let sum = 0;
  let n = 0;
  for (const v of sorted) {
    if (v >= a && v <= b) {
      sum += v;
      n++;
    }
  }
  return n > 0 ? sum / n : quantileOf(sorted, 0.5);
}

/**
 * Δℓ from raw scores. Only entries with `included[j] = 1` (default: all)
 * enter the centre and spread; excluded entries get Δℓ = 0. When the spread
 * is 0 (all included scores equal) every Δℓ is 0: there is no direction to move.
 */
export function normaliseScores(scores: Float64Array, options?: NormaliseOptions, included?: Uint8Array): Float64Array {
  const o = parseNormaliseOptions(options);
  // toString, not instanceof: arrays made by the addon may come from another realm (jest)
  if (Object.prototype.toString.call(scores) !== '[object Float64Array]') {
    throw new ValidationError('scores', 'Expected Float64Array for `scores`');
  }
  if (included !== undefined && included.length !== scores.length) {
    throw new ValidationError('included', `Expected ${scores.length} entries for \`included\` but received ${included.length}`);
  }
  const live: number[] = [];
  for (let j = 0; j < scores.length; j++) {
    if (included && !included[j]) continue;
    if (!Number.isFinite(scores[j])) {
      throw new ValidationError(`scores[${j}]`, `Expected finite number for \`scores[${j}]\` but received ${scores[j]}`);
    }
    live.push(scores[j]);
  }
  const delta = new Float64Array(scores.length);
  if (live.length === 0) return delta;
  const centre =
    o.center === 'none' ? 0 : o.center === 'mean' ? live.reduce((s, v) => s + v, 0) / live.length : trimmedMean(live, o.trim[0], o.trim[1]);
  let spread = 1;
  if (o.scale === 'std') {
    spread = Math.sqrt(live.reduce((s, v) => s + (v - centre) * (v - centre), 0) / live.length);
    if (!(spread > 0) || !Number.isFinite(spread)) return delta;
  }
  for (let j = 0; j < scores.length; j++) {
    if (included && !included[j]) continue;
    let z = (scores[j] - centre) / spread;
    if (o.clip !== null) z = Math.max(-o.clip, Math.min(o.clip, z));
    delta[j] = o.step * z;
  }
  return delta;
}
