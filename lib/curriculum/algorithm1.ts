/**
 * Algorithm 1 (TerRIFIC Curricula meta-update) and the static variants.
 *
 * Draw B log-times uniformly in [s_min, s_max] (seeded), take a logit update
 * Δf ∈ R^K at each, sort, interpolate piecewise linearly, clamp at the ends,
 * and set f ← f + η_t Δf. Both f and the interpolant are piecewise linear in s,
 * so the sum is exactly piecewise linear on the union of their knots.
 */
import { ValidationError, describeValue, expectPositiveInteger } from '../errors';
import { cloneCurriculum, logitsAt, logTokens, validateCurriculum, type Curriculum } from './curriculum';
import { seedToBigInt, uniformAt, type Seed } from './random';

/** One sample of the update field: a position (log tokens `s`, or `tokens`) and Δf ∈ R^K. */
export interface DeltaSample {
  s?: number;
  tokens?: number;
  delta: ArrayLike<number>;
}

/** Δf at log-time s (N = e^s tokens), e.g. a static TerRIFIC step at the checkpoint nearest N. */
export type DeltaField = (s: number, tokens: number) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** η as a constant or a function of the meta-iteration t. */
export type StepSize = number | ((t: number) => number);

export function stepSizeAt(eta: StepSize, t: number): number {
  const v = typeof eta === 'function' ? eta(t) : eta;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ValidationError('eta', `Expected finite number for \`eta\` (at meta-iteration ${t}) but received ${describeValue(v)}`);
  }
  return v;
}

/** Named step-size schedules: constant, eta0/sqrt(t+1), eta0·rate^t. */
export function stepSchedule(kind: 'constant' | 'inverse-sqrt' | 'exponential', eta0: number, rate = 1): (t: number) => number {
  if (!Number.isFinite(eta0)) throw new ValidationError('eta0', `Expected finite number for \`eta0\` but received ${describeValue(eta0)}`);
  if (!Number.isFinite(rate) || rate <= 0) throw new ValidationError('rate', `Expected positive number for \`rate\` but received ${describeValue(rate)}`);
  if (kind === 'constant') return () => eta0;
  if (kind === 'inverse-sqrt') return (t) => eta0 / Math.sqrt(t + 1);
  return (t) => eta0 * rate ** t;
}

export interface Range {
  minTokens: number;
  maxTokens: number;
}

/** [s_min, s_max] from a token range; rejects an empty range. */
export function logRange(range: Range, field = 'range'): { sMin: number; sMax: number } {
  const sMin = logTokens(range?.minTokens, `${field}.minTokens`);
  const sMax = logTokens(range?.maxTokens, `${field}.maxTokens`);
  if (!(sMin < sMax)) {
    throw new ValidationError(field, `\`${field}\` is empty: minTokens = ${range.minTokens} must be below maxTokens = ${range.maxTokens}`);
  }
  return { sMin, sMax };
}

/**
 * B log-times i.i.d. uniform in [s_min, s_max], in draw order. Draw b of
 * iteration t is a pure function of (seed, t, b).
 */
export function sampleLogTimes(range: Range, samples: number, seed: Seed, iteration = 0): Float64Array {
  const { sMin, sMax } = logRange(range);
  expectPositiveInteger('samples', samples);
  if (!Number.isSafeInteger(iteration) || iteration < 0) {
    throw new ValidationError('iteration', `Expected integer >= 0 for \`iteration\` but received ${describeValue(iteration)}`);
  }
  const stream = (seedToBigInt(seed) * 1000003n + BigInt(iteration)) & ((1n << 64n) - 1n);
  const out = new Float64Array(samples);
  for (let b = 0; b < samples; b++) out[b] = sMin + (sMax - sMin) * uniformAt(stream, b);
  return out;
}

/** Checks samples, sorts them by s and averages samples at the same s. */
export function deltaInterpolant(samples: readonly DeltaSample[], K: number): { s: Float64Array; values: Float64Array } {
  if (!Array.isArray(samples) || samples.length === 0) throw new ValidationError('samples', '`samples` must be a non-empty array of {s or tokens, delta}');
  const rows = samples.map((x, i) => {
    if (x === null || typeof x !== 'object') throw new ValidationError(`samples[${i}]`, `Expected {s or tokens, delta} for \`samples[${i}]\` but received ${describeValue(x)}`);
    let s: number;
    if (x.s !== undefined) {
      if (typeof x.s !== 'number' || !Number.isFinite(x.s)) throw new ValidationError(`samples[${i}].s`, `Expected finite number for \`samples[${i}].s\` but received ${describeValue(x.s)}`);
      s = x.s;
    } else s = logTokens(x.tokens as number, `samples[${i}].tokens`);
    const d = x.delta;
    if (d === null || typeof d !== 'object' || typeof d.length !== 'number') {
      throw new ValidationError(`samples[${i}].delta`, `Expected array of ${K} numbers for \`samples[${i}].delta\` but received ${describeValue(d)}`);
    }
    if (d.length !== K) throw new ValidationError(`samples[${i}].delta`, `\`samples[${i}].delta\` has ${d.length} entries but the curriculum has ${K} groups`);
    for (let k = 0; k < K; k++) {
      if (typeof d[k] !== 'number' || !Number.isFinite(d[k])) {
        throw new ValidationError(`samples[${i}].delta[${k}]`, `\`samples[${i}].delta[${k}]\` = ${describeValue(d[k])} must be finite`);
      }
    }
    return { s, d };
  });
  rows.sort((a, b) => a.s - b.s);
  const s: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < rows.length; ) {
    let j = i;
    while (j < rows.length && rows[j].s === rows[i].s) j++;
    s.push(rows[i].s);
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let q = i; q < j; q++) sum += rows[q].d[k];
      values.push(sum / (j - i));
    }
    i = j;
  }
  return { s: Float64Array.from(s), values: Float64Array.from(values) };
}

/** f + η·g for two piecewise-linear clamped functions, exactly, on the union of knots. */
export function addPiecewiseLinear(c: Curriculum, g: { s: Float64Array; values: Float64Array }, eta: number): Curriculum {
  const K = c.groups;
  const union = Float64Array.from(new Set([...c.s, ...g.s])).sort();
  const gc: Curriculum = { groups: K, s: g.s, logits: g.values };
  const logits = new Float64Array(union.length * K);
  for (let i = 0; i < union.length; i++) {
    const f = logitsAt(c, union[i]);
    const d = logitsAt(gc, union[i]);
    for (let k = 0; k < K; k++) logits[i * K + k] = f[k] + eta * d[k];
  }
  return validateCurriculum({ groups: K, s: union, logits, ...(c.names ? { names: [...c.names] } : {}) });
}

/**
 * Caps the number of knots by regridding to `maxKnots` knots evenly spaced in s
 * over the same range. Returns the exact sup-norm change of the logits
 * (evaluated on the union of both knot sets, where the PL difference attains it);
 * log-probabilities change by at most twice that.
 */
export function capKnots(c: Curriculum, maxKnots: number): { curriculum: Curriculum; maxLogitChange: number } {
  expectPositiveInteger('maxKnots', maxKnots);
  if (maxKnots < 2) throw new ValidationError('maxKnots', `Expected integer >= 2 for \`maxKnots\` but received ${maxKnots}`);
  const n = c.s.length;
  if (n <= maxKnots) return { curriculum: c, maxLogitChange: 0 };
  const K = c.groups;
  const s = new Float64Array(maxKnots);
  const lo = c.s[0];
  const hi = c.s[n - 1];
  for (let i = 0; i < maxKnots; i++) s[i] = i === maxKnots - 1 ? hi : lo + ((hi - lo) * i) / (maxKnots - 1);
  const logits = new Float64Array(maxKnots * K);
  for (let i = 0; i < maxKnots; i++) logits.set(logitsAt(c, s[i]), i * K);
  const capped = validateCurriculum({ groups: K, s, logits, ...(c.names ? { names: [...c.names] } : {}) });
  let worst = 0;
  for (const x of [...c.s, ...s]) {
    const a = logitsAt(c, x);
    const b = logitsAt(capped, x);
    for (let k = 0; k < K; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
  }
  return { curriculum: capped, maxLogitChange: worst };
}

export interface MetaUpdateOptions {
  /** step size η, or η_t as a function of the meta-iteration */
  eta: StepSize;
  /** meta-iteration t (default 0) */
  iteration?: number;
  /** optional cap on the number of knots (regridding; see capKnots) */
  maxKnots?: number;
}

export interface MetaUpdateResult {
  curriculum: Curriculum;
  /** the η_t that was applied */
  eta: number;
  /** the samples used, sorted by s */
  samples: { s: Float64Array; values: Float64Array };
  /** sup-norm logit change caused by the knot cap (0 without a cap) */
  maxLogitChange: number;
}

/** Steps 3–4 of Algorithm 1 from given samples (e.g. arrays from the influence step). */
export function metaUpdateFromSamples(c: Curriculum, samples: readonly DeltaSample[], options: MetaUpdateOptions): MetaUpdateResult {
  validateCurriculum(c);
  const t = options?.iteration ?? 0;
  const eta = stepSizeAt(options?.eta, t);
  const g = deltaInterpolant(samples, c.groups);
  let next = addPiecewiseLinear(c, g, eta);
  let maxLogitChange = 0;
  if (options.maxKnots !== undefined) ({ curriculum: next, maxLogitChange } = capKnots(next, options.maxKnots));
  return { curriculum: next, eta, samples: g, maxLogitChange };
}

export interface AlgorithmOneOptions extends MetaUpdateOptions {
  range: Range;
  /** B, the number of log-time samples */
  samples: number;
  seed: Seed;
}

/** One full meta-iteration of Algorithm 1: sample, query `field` at each log-time, update. */
export async function metaUpdate(c: Curriculum, field: DeltaField, options: AlgorithmOneOptions): Promise<MetaUpdateResult> {
  validateCurriculum(c);
  if (typeof field !== 'function') throw new ValidationError('field', `Expected function (s, tokens) => delta for \`field\` but received ${describeValue(field)}`);
  const t = options.iteration ?? 0;
  stepSizeAt(options.eta, t); // fail before any expensive query
  const times = sampleLogTimes(options.range, options.samples, options.seed, t);
  const samples: DeltaSample[] = [];
  for (const s of times) samples.push({ s, delta: Array.from(await field(s, Math.exp(s))) });
  return metaUpdateFromSamples(c, samples, options);
}

function checkDelta(delta: ArrayLike<number>, K: number, field: string): void {
  if (delta === null || typeof delta !== 'object' || delta.length !== K) {
    throw new ValidationError(field, `Expected ${K} numbers for \`${field}\` but received ${describeValue(delta)}`);
  }
  for (let k = 0; k < K; k++) {
    if (typeof delta[k] !== 'number' || !Number.isFinite(delta[k])) throw new ValidationError(`${field}[${k}]`, `\`${field}[${k}]\` = ${describeValue(delta[k])} must be finite`);
  }
}

/** Static TerRIFIC: one Δℓ applied to the logits at every knot (f ← f + η Δℓ). */
export function terrificStatic(c: Curriculum, delta: ArrayLike<number>, eta: number): Curriculum {
  validateCurriculum(c);
  checkDelta(delta, c.groups, 'delta');
  const e = stepSizeAt(eta, 0);
  const out = cloneCurriculum(c);
  for (let i = 0; i < c.s.length; i++) for (let k = 0; k < c.groups; k++) out.logits[i * c.groups + k] += e * delta[k];
  return out;
}

/** TerRIFIC-AVG: the mean of the Δℓ from several checkpoints, applied statically. */
export function terrificAverage(c: Curriculum, deltas: readonly ArrayLike<number>[], eta: number): Curriculum {
  validateCurriculum(c);
  if (!Array.isArray(deltas) || deltas.length === 0) throw new ValidationError('deltas', '`deltas` must be a non-empty array of Δℓ vectors');
  const K = c.groups;
  const mean = new Float64Array(K);
  deltas.forEach((d, i) => {
    checkDelta(d, K, `deltas[${i}]`);
    for (let k = 0; k < K; k++) mean[k] += d[k] / deltas.length;
  });
  return terrificStatic(c, mean, eta);
}
