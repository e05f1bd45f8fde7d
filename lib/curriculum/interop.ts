/**
 * The public reference's knot-schedule JSON:
 *
 *   {"<tokens>": {"dataset0": p0, "dataset1": p1, ...}, ...}
 *
 * Its semantics: the *probabilities* are interpolated linearly in log tokens
 * between knots and clamped at the ends. A curriculum here interpolates
 * *logits* instead. Importing sets logits = log p at each knot, which agrees
 * at the knots but NOT between them (softmax of an interpolated log p is a
 * normalised geometric mean, below the arithmetic one for groups that change).
 * To use an imported schedule in its own semantics, keep the KnotSchedule and
 * use evaluateKnotSchedule / knotScheduleCumulative / knotScheduleTargetTable.
 */
import * as fs from 'fs';

import { FormatError, ValidationError, describeValue } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { logitsFromProbabilities, softmax, validateCurriculum, type Curriculum } from './curriculum';
import type { TargetTable } from './targets';

export interface KnotSchedule {
  /** knot positions in tokens, strictly increasing, positive */
  tokens: Float64Array;
  /** numKnots × K probabilities (each row sums to 1) */
  probs: Float64Array;
  names: string[];
}

/** Tolerance on each knot's probabilities summing to 1 (rows are then renormalised). */
export const KNOT_SUM_TOLERANCE = 1e-6;

function natural(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Parses JSON text or an object; dataset names are ordered naturally (dataset2 before dataset10). */
export function parseKnotSchedule(input: string | unknown, where = 'schedule'): KnotSchedule {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new FormatError(where, `${where}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError(where, `${where}: expected an object {"<tokens>": {"<dataset>": p, ...}} but received ${describeValue(raw)}`);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) throw new ValidationError(where, `${where}: the schedule has no knots`);
  const knots = entries.map(([key, value]) => {
    const t = /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(key) ? Number(key) : NaN;
    if (!(t > 0) || !Number.isFinite(t)) throw new ValidationError(`${where}["${key}"]`, `${where}: knot key ${JSON.stringify(key)} must be a positive number of tokens`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ValidationError(`${where}["${key}"]`, `${where}: knot ${JSON.stringify(key)} must map dataset names to probabilities but is ${describeValue(value)}`);
    }
    return { key, t, probs: value as Record<string, unknown> };
  });
  knots.sort((a, b) => a.t - b.t);
  for (let i = 1; i < knots.length; i++) {
    if (!(knots[i].t > knots[i - 1].t)) {
      throw new ValidationError(`${where}["${knots[i].key}"]`, `${where}: knots ${JSON.stringify(knots[i - 1].key)} and ${JSON.stringify(knots[i].key)} are the same number of tokens`);
    }
  }
  const names = Object.keys(knots[0].probs).sort(natural);
  if (names.length === 0) throw new ValidationError(`${where}["${knots[0].key}"]`, `${where}: knot ${JSON.stringify(knots[0].key)} has no datasets`);
  const K = names.length;
  const probs = new Float64Array(knots.length * K);
  knots.forEach((kn, i) => {
    const keys = Object.keys(kn.probs);
    const missing = names.filter((n) => !(n in kn.probs));
    const extra = keys.filter((n) => !names.includes(n));
    if (missing.length || extra.length) {
      throw new ValidationError(
        `${where}["${kn.key}"]`,
        `${where}: knot ${JSON.stringify(kn.key)} has a different set of datasets than the first knot` +
          (missing.length ? ` (missing ${missing.map((m) => JSON.stringify(m)).join(', ')})` : '') +
          (extra.length ? ` (extra ${extra.map((m) => JSON.stringify(m)).join(', ')})` : ''),
      );
    }
    let sum = 0;
    names.forEach((n, k) => {
      const p = kn.probs[n];
      if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) {
        throw new ValidationError(`${where}["${kn.key}"].${n}`, `${where}: probability of ${JSON.stringify(n)} at knot ${JSON.stringify(kn.key)} is ${describeValue(p)}; it must be a finite number >= 0`);
      }
      probs[i * K + k] = p;
      sum += p;
    });
    if (!(Math.abs(sum - 1) <= KNOT_SUM_TOLERANCE)) {
      throw new ValidationError(`${where}["${kn.key}"]`, `${where}: probabilities at knot ${JSON.stringify(kn.key)} sum to ${sum}; they must sum to 1 within ${KNOT_SUM_TOLERANCE}`);
    }
    for (let k = 0; k < K; k++) probs[i * K + k] /= sum;
  });
  return { tokens: Float64Array.from(knots.map((k) => k.t)), probs, names };
}

export function readKnotSchedule(path: string): KnotSchedule {
  return parseKnotSchedule(fs.readFileSync(path, 'utf8'), path);
}

/** The reference JSON text (keys are token counts, values probabilities). */
export function knotScheduleToJson(ks: KnotSchedule): string {
  const K = ks.names.length;
  const out: Record<string, Record<string, number>> = {};
  for (let i = 0; i < ks.tokens.length; i++) {
    const row: Record<string, number> = {};
    ks.names.forEach((n, k) => (row[n] = ks.probs[i * K + k]));
    out[String(ks.tokens[i])] = row;
  }
  return JSON.stringify(out, null, 2) + '\n';
}

export function writeKnotSchedule(path: string, ks: KnotSchedule): void {
  writeFileAtomic(path, knotScheduleToJson(ks));
}

/** Import as a curriculum: knots at log(tokens), logits = log p (equal at knots only; see above). */
export function knotScheduleToCurriculum(ks: KnotSchedule): Curriculum {
  const K = ks.names.length;
  const logits = new Float64Array(ks.tokens.length * K);
  for (let i = 0; i < ks.tokens.length; i++) logits.set(logitsFromProbabilities(ks.probs.subarray(i * K, (i + 1) * K), `probs[${i}]`), i * K);
  return validateCurriculum({ groups: K, s: ks.tokens.map(Math.log), logits, names: [...ks.names] });
}

/** Export: p = softmax(logits) at each knot, tokens = e^s (names default to dataset0, dataset1, ...). */
export function curriculumToKnotSchedule(c: Curriculum, names?: string[]): KnotSchedule {
  validateCurriculum(c);
  const K = c.groups;
  const nm = names ?? c.names ?? Array.from({ length: K }, (_, k) => `dataset${k}`);
  if (nm.length !== K) throw new ValidationError('names', `\`names\` has ${nm.length} entries but the curriculum has ${K} groups`);
  const probs = new Float64Array(c.s.length * K);
  for (let i = 0; i < c.s.length; i++) probs.set(softmax(c.logits.subarray(i * K, (i + 1) * K)), i * K);
  return { tokens: c.s.map(Math.exp), probs, names: [...nm] };
}

/** Mixture at N tokens in the reference's semantics (probabilities linear in log tokens, clamped). */
export function evaluateKnotSchedule(ks: KnotSchedule, tokens: number): Float64Array {
  const K = ks.names.length;
  const n = ks.tokens.length;
  if (!(tokens > ks.tokens[0])) return ks.probs.slice(0, K);
  if (tokens >= ks.tokens[n - 1]) return ks.probs.slice((n - 1) * K);
  let i = 0;
  while (ks.tokens[i + 1] <= tokens) i++;
  const w = (Math.log(tokens) - Math.log(ks.tokens[i])) / (Math.log(ks.tokens[i + 1]) - Math.log(ks.tokens[i]));
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) out[k] = (1 - w) * ks.probs[i * K + k] + w * ks.probs[(i + 1) * K + k];
  return out;
}

/** d e^d − (e^d − 1), without cancellation for small d. */
function xexMinusExpm1(d: number): number {
  if (Math.abs(d) > 0.1) return d * Math.exp(d) - Math.expm1(d);
  let term = d; // d^k / (k-1)! for k = 1
  let sum = 0;
  for (let k = 2; k < 30; k++) {
    term *= d / (k - 1); // d^k/(k-1)!
    sum += (term * (k - 1)) / k; // d^k (k-1)/k!
  }
  return sum;
}

/** ∫_{a}^{b} p(n) dn in the reference semantics, exactly (closed form per knot interval). */
function integrateKnot(ks: KnotSchedule, a: number, b: number, acc: Float64Array): void {
  const K = ks.names.length;
  const n = ks.tokens.length;
  const first = ks.tokens[0];
  const last = ks.tokens[n - 1];
  if (a < first) {
    const len = Math.min(b, first) - a;
    if (len > 0) for (let k = 0; k < K; k++) acc[k] += ks.probs[k] * len;
  }
  if (b > last) {
    const len = b - Math.max(a, last);
    if (len > 0) for (let k = 0; k < K; k++) acc[k] += ks.probs[(n - 1) * K + k] * len;
  }
  for (let i = 0; i + 1 < n; i++) {
    const lo = Math.max(a, ks.tokens[i]);
    const hi = Math.min(b, ks.tokens[i + 1]);
    if (!(hi > lo)) continue;
    // p = A + β (s − s_lo) on [s_lo, s_lo + d]; ∫ p e^s ds = e^{s_lo}[A (e^d − 1) + β (d e^d − e^d + 1)]
    const s0 = Math.log(ks.tokens[i]);
    const ds = Math.log(ks.tokens[i + 1]) - s0;
    const sl = Math.log(lo);
    const d = Math.log(hi) - sl;
    for (let k = 0; k < K; k++) {
      const p0 = ks.probs[i * K + k];
      const beta = (ks.probs[(i + 1) * K + k] - p0) / ds;
      const A = p0 + beta * (sl - s0);
      acc[k] += lo * (A * Math.expm1(d) + beta * xexMinusExpm1(d));
    }
  }
}

/** E_k(S) in the reference semantics, for each point (out[i*K + k]). */
export function knotScheduleCumulative(ks: KnotSchedule, points: ArrayLike<number>): Float64Array {
  const K = ks.names.length;
  const out = new Float64Array(points.length * K);
  for (let i = 0; i < points.length; i++) {
    const S = points[i];
    if (typeof S !== 'number' || !Number.isFinite(S) || S < 0) throw new ValidationError(`points[${i}]`, `Expected finite number of tokens >= 0 for \`points[${i}]\` but received ${describeValue(S)}`);
    const acc = new Float64Array(K);
    integrateKnot(ks, 0, S, acc);
    out.set(acc, i * K);
  }
  return out;
}

/**
 * The target table (same contract as targetTable) in the reference semantics.
 * On a knot interval p_k is linear in s with slope β_k, so |E_k''(n)| = |β_k|/n
 * and a cell [x, x+h] interpolates within h²·max|β|/(8x); one-token cells are
 * within 1/4 (slopes in [0, 1]).
 */
export function knotScheduleTargetTable(ks: KnotSchedule, totalTokens: number, options?: { maxErrorTokens?: number }): TargetTable {
  const maxErr = options?.maxErrorTokens ?? 0.5;
  if (!Number.isFinite(maxErr) || maxErr < 0.3) throw new ValidationError('maxErrorTokens', `Expected number >= 0.3 for \`maxErrorTokens\` but received ${describeValue(maxErr)}`);
  if (!Number.isSafeInteger(totalTokens) || totalTokens < 1) throw new ValidationError('totalTokens', `Expected positive integer for \`totalTokens\` but received ${describeValue(totalTokens)}`);
  const K = ks.names.length;
  const n = ks.tokens.length;
  const quad = totalTokens * 1e-12; // closed form: rounding only
  const eps = maxErr - quad;
  const marks = new Set<number>([totalTokens]);
  for (const t of ks.tokens) {
    if (t < totalTokens) {
      if (Math.floor(t) >= 1) marks.add(Math.floor(t));
      marks.add(Math.ceil(t));
    }
  }
  const grid = [0];
  let bound = 0;
  for (const y of [...marks].sort((a, b) => a - b)) {
    let x = grid[grid.length - 1];
    const i = ks.tokens.findIndex((t, j) => j + 1 < n && t <= x && ks.tokens[j + 1] >= y);
    if (i < 0 || y - x <= 1) {
      if (i < 0 && ks.tokens.some((t) => t > x && t < y)) bound = Math.max(bound, 0.25);
      else if (i >= 0) bound = Math.max(bound, 0.25 * (y - x));
      grid.push(y);
      continue;
    }
    const ds = Math.log(ks.tokens[i + 1]) - Math.log(ks.tokens[i]);
    let beta = 0;
    for (let k = 0; k < K; k++) beta = Math.max(beta, Math.abs(ks.probs[(i + 1) * K + k] - ks.probs[i * K + k]) / ds);
    while (x < y) {
      const h = beta > 0 ? Math.sqrt((8 * eps * x) / beta) : Infinity;
      const step = h >= y - x ? y - x : Math.max(1, Math.floor(h));
      bound = Math.max(bound, Math.min(step / 4, (step * step * beta) / (8 * x)));
      x += step;
      grid.push(x);
    }
  }
  const tokens = Float64Array.from(grid);
  return { tokens, cumulative: knotScheduleCumulative(ks, tokens), groups: K, interpolationBound: bound, quadratureBound: quad };
}
