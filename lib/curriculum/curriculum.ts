/**
 * The curriculum representation: logits f(s) ∈ R^K piecewise linear in
 * s = log(tokens) between knots (s_i, logits_i), constant outside them, and the
 * mixture p(N) = softmax(f(log N)). See docs/curriculum.md.
 */
import { ValidationError, describeValue, expectPositiveInteger } from '../errors';

export interface Curriculum {
  /** number of groups K */
  groups: number;
  /** knots in log tokens, strictly increasing, finite */
  s: Float64Array;
  /** numKnots × K logits, row-major (row i belongs to s[i]) */
  logits: Float64Array;
  /** optional group names (K of them) */
  names?: string[];
}

/** Logit used for a probability of exactly 0 (e^-700 ≈ 1e-304). */
export const ZERO_PROBABILITY_LOGIT = -700;

function fail(field: string, message: string): never {
  throw new ValidationError(field, message);
}

/** Checks every field of `c` (names the field and index); returns `c`. */
export function validateCurriculum(c: Curriculum, field = 'curriculum'): Curriculum {
  if (c === null || typeof c !== 'object') fail(field, `Expected curriculum object for \`${field}\` but received ${describeValue(c)}`);
  expectPositiveInteger(`${field}.groups`, c.groups);
  if (!(c.s instanceof Float64Array)) fail(`${field}.s`, `Expected Float64Array for \`${field}.s\` but received ${describeValue(c.s)}`);
  if (!(c.logits instanceof Float64Array)) {
    fail(`${field}.logits`, `Expected Float64Array for \`${field}.logits\` but received ${describeValue(c.logits)}`);
  }
  const n = c.s.length;
  if (n < 1) fail(`${field}.s`, `\`${field}\` needs at least one knot but \`${field}.s\` is empty`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(c.s[i])) fail(`${field}.s[${i}]`, `\`${field}.s[${i}]\` = ${c.s[i]} must be finite (log tokens)`);
    if (i > 0 && !(c.s[i] > c.s[i - 1])) {
      fail(`${field}.s[${i}]`, `knots must be strictly increasing but \`${field}.s[${i}]\` = ${c.s[i]} <= s[${i - 1}] = ${c.s[i - 1]}`);
    }
  }
  if (c.logits.length !== n * c.groups) {
    fail(`${field}.logits`, `\`${field}.logits\` has ${c.logits.length} entries but ${n} knots × ${c.groups} groups = ${n * c.groups}`);
  }
  for (let i = 0; i < c.logits.length; i++) {
    if (!Number.isFinite(c.logits[i])) {
      const r = Math.floor(i / c.groups);
      fail(`${field}.logits[${r}][${i % c.groups}]`, `\`${field}.logits[${r}][${i % c.groups}]\` = ${c.logits[i]} must be finite`);
    }
  }
  if (c.names !== undefined) {
    if (!Array.isArray(c.names) || c.names.length !== c.groups || c.names.some((x) => typeof x !== 'string')) {
      fail(`${field}.names`, `\`${field}.names\` must be ${c.groups} strings (one per group) but received ${describeValue(c.names)}`);
    }
    if (new Set(c.names).size !== c.names.length) fail(`${field}.names`, `\`${field}.names\` has duplicates`);
  }
  return c;
}

/** Throws unless `c` has exactly K groups (e.g. K groups in the data). */
export function assertGroups(c: Curriculum, K: number, field = 'curriculum'): void {
  if (c.groups !== K) {
    fail(`${field}.groups`, `\`${field}\` has ${c.groups} groups but the data has ${K}; they must match`);
  }
}

/** Checks a token count and returns log(tokens). */
export function logTokens(tokens: number, field: string): number {
  if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens <= 0) {
    fail(field, `Expected positive finite number of tokens for \`${field}\` but received ${describeValue(tokens)}`);
  }
  return Math.log(tokens);
}

/** Knot positions in tokens, e^{s_i}. */
export function knotTokens(c: Curriculum): Float64Array {
  return c.s.map(Math.exp);
}

/** Logits from probabilities: log p (p = 0 gives ZERO_PROBABILITY_LOGIT). */
export function logitsFromProbabilities(p: ArrayLike<number>, field: string): Float64Array {
  const out = new Float64Array(p.length);
  for (let k = 0; k < p.length; k++) {
    const x = p[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) fail(`${field}[${k}]`, `\`${field}[${k}]\` = ${describeValue(x)} must be a finite probability >= 0`);
    out[k] = x === 0 ? ZERO_PROBABILITY_LOGIT : Math.max(Math.log(x), ZERO_PROBABILITY_LOGIT);
  }
  return out;
}

export interface CreateCurriculumOptions {
  /** a mixture (K probabilities, need not be normalised) or a number of groups (uniform) */
  mixture?: ArrayLike<number>;
  groups?: number;
  /** knot positions in tokens (default: one knot at 1 token, i.e. a static mixture) */
  knotTokens?: ArrayLike<number>;
  names?: string[];
}

/** A curriculum whose mixture is the same at every knot (a static mixture). */
export function createCurriculum(opts: CreateCurriculumOptions): Curriculum {
  let row: Float64Array;
  if (opts.mixture !== undefined) {
    row = logitsFromProbabilities(opts.mixture, 'mixture');
    if (row.length === 0) fail('mixture', '`mixture` is empty');
    if (opts.groups !== undefined && opts.groups !== row.length) fail('groups', `\`groups\` = ${opts.groups} but \`mixture\` has ${row.length} entries`);
    let sum = 0;
    for (let k = 0; k < opts.mixture.length; k++) sum += opts.mixture[k];
    if (!(sum > 0)) fail('mixture', '`mixture` sums to 0');
  } else {
    row = new Float64Array(expectPositiveInteger('groups', opts.groups));
  }
  const K = row.length;
  const tk = opts.knotTokens ?? [1];
  const s = new Float64Array(tk.length);
  for (let i = 0; i < tk.length; i++) s[i] = logTokens(tk[i], `knotTokens[${i}]`);
  const logits = new Float64Array(tk.length * K);
  for (let i = 0; i < tk.length; i++) logits.set(row, i * K);
  return validateCurriculum({ groups: K, s, logits, ...(opts.names ? { names: opts.names } : {}) });
}

/** f(s): logits at log-tokens s (clamped outside the knots). */
export function logitsAt(c: Curriculum, s: number): Float64Array {
  const K = c.groups;
  const n = c.s.length;
  if (!(s > c.s[0])) return c.logits.slice(0, K);
  if (s >= c.s[n - 1]) return c.logits.slice((n - 1) * K, n * K);
  let lo = 0;
  let hi = n - 1; // s[lo] <= s < s[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (c.s[mid] <= s) lo = mid;
    else hi = mid;
  }
  const lam = (s - c.s[lo]) / (c.s[hi] - c.s[lo]);
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) out[k] = (1 - lam) * c.logits[lo * K + k] + lam * c.logits[hi * K + k];
  return out;
}

/** Numerically stable softmax. */
export function softmax(f: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let k = 0; k < f.length; k++) mx = Math.max(mx, f[k]);
  const out = new Float64Array(f.length);
  let z = 0;
  for (let k = 0; k < f.length; k++) z += out[k] = Math.exp(f[k] - mx);
  for (let k = 0; k < f.length; k++) out[k] /= z;
  return out;
}

/** p(N) = softmax(f(log N)), the instantaneous mixture after N tokens. */
export function mixtureAt(c: Curriculum, tokens: number): Float64Array {
  return softmax(logitsAt(c, logTokens(tokens, 'tokens')));
}

/** A deep copy. */
export function cloneCurriculum(c: Curriculum): Curriculum {
  return { groups: c.groups, s: c.s.slice(), logits: c.logits.slice(), ...(c.names ? { names: [...c.names] } : {}) };
}
