/**
 * Influence scores: Cholesky path vs the unblocked reference, Cholesky vs
 * eigen path vs explicit whitening, condition-number damping, empty clusters,
 * non-SPD R, and bad input.
 */
import { AbortError } from '../lib/errors';
import { influenceDelta, influenceDeltaAsync, whitenFeatures } from '../lib/influence/scores';
import type { InfluenceState } from '../lib/influence/state';
import { expectValidation } from './helpers/expect-errors';
import { Rng, jacobiEigen, maxAbs, maxAbsDiff, naiveCholeskySolve } from './reference/linalg-reference';

/** A state from `examples` random gradients in dim d with K clusters, plus a target set. */
function makeState(d: number, K: number, examples: number, seed: number, emptyCluster = -1): InfluenceState {
  const rng = new Rng(seed);
  const count = new Float64Array(K);
  const sum = new Float64Array(K * d);
  const cov = new Float64Array(d * d);
  const targetSum = new Float64Array(d);
  const bias = rng.normals(d);
  for (let e = 0; e < examples; e++) {
    const g = rng.normals(d).map((x, i) => x * (1 + (i % 5)) + 0.3 * bias[i]);
    let j = rng.int(K);
    if (j === emptyCluster) j = (j + 1) % K;
    count[j]++;
    for (let i = 0; i < d; i++) sum[j * d + i] += g[i];
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] += g[a] * g[b];
    if (e % 3 === 0) for (let i = 0; i < d; i++) targetSum[i] += g[i] + 0.5 * bias[i];
  }
  return { dim: d, numClusters: K, count, sum, targetCount: Math.ceil(examples / 3), targetSum, covCount: examples, cov, meta: { projection: 'dense', seed: '0', clip: null, examples } };
}

/** Reference scores: R = cov/n + δI by definition, unblocked Cholesky solve. */
function referenceScores(s: InfluenceState, damping: number): Float64Array {
  const d = s.dim;
  const r = s.cov.map((x) => x / s.covCount);
  for (let i = 0; i < d; i++) r[i * d + i] += damping;
  const w = naiveCholeskySolve(r, d, s.targetSum.map((x) => x / s.targetCount));
  const out = new Float64Array(s.numClusters);
  for (let j = 0; j < s.numClusters; j++) {
    if (s.count[j] === 0) continue;
    let t = 0;
    for (let i = 0; i < d; i++) t += (s.sum[j * d + i] / s.count[j]) * w[i];
    out[j] = t;
  }
  return out;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxAbsDiff(a, b) / maxAbs(b);
}

describe('influenceDelta', () => {
  test.each([
    [8, 5, 100, 0.01],
    [33, 12, 20, 0.5], // covCount < dim: C is singular, damping makes R definite
    [70, 9, 400, 1e-3],
  ])('Cholesky path matches the reference (d=%i, K=%i, n=%i, damping=%f)', (d, K, n, damping) => {
    const s = makeState(d, K, n, d * 31 + K);
    const r = influenceDelta(s, { damping });
    expect(r.damping).toBe(damping);
    expect(relErr(r.scores, referenceScores(s, damping))).toBeLessThan(1e-10);
    expect(r.delta).toBeInstanceOf(Float64Array);
    expect(r.delta.length).toBe(K);
    expect(r.method).toBe('cholesky');
  });

  test.each([
    [12, 6, 50, 1e-2],
    [48, 10, 30, 1e-3],
    [90, 7, 300, 1e-4],
  ])('Cholesky and eigen paths and explicit whitening agree to 1e-9 (d=%i)', (d, K, n, damping) => {
    const s = makeState(d, K, n, 7 * d + 1);
    const chol = influenceDelta(s, { damping });
    const eig = influenceDelta(s, { damping, method: 'eigen' });
    expect(eig.spectrumExact).toBe(true);
    expect(relErr(eig.scores, chol.scores)).toBeLessThan(1e-9);
    // whitened features: R^{-1/2} ḡ_j · R^{-1/2} v̄ = I_j
    const rows = new Float64Array((K + 1) * d);
    for (let j = 0; j < K; j++) for (let i = 0; i < d; i++) rows[j * d + i] = s.count[j] > 0 ? s.sum[j * d + i] / s.count[j] : 0;
    for (let i = 0; i < d; i++) rows[K * d + i] = s.targetSum[i] / s.targetCount;
    const w = whitenFeatures(s, rows, K + 1, { damping });
    const viaFeatures = new Float64Array(K);
    for (let j = 0; j < K; j++) for (let i = 0; i < d; i++) viaFeatures[j] += w.rows[j * d + i] * w.rows[K * d + i];
    expect(relErr(viaFeatures, chol.scores)).toBeLessThan(1e-9);
    // the spectrum bounds of the Cholesky path bracket the exact spectrum
    expect(chol.lambdaMax).toBeGreaterThanOrEqual(eig.lambdaMax * (1 - 1e-12));
    expect(chol.lambdaMin).toBeLessThanOrEqual(eig.lambdaMin + 1e-12 * eig.lambdaMax);
    expect(chol.condition).toBeGreaterThanOrEqual(eig.condition * (1 - 1e-9));
  });

  test.each([
    [30, 20, 1e4], // singular C
    [25, 200, 20], // full rank but cond(C) > 20
    [25, 200, 1e3], // full rank and cond(C) < 1e3: no damping
    [40, 15, 1e3],
  ])('maxCondition damping achieves cond(R) <= c (d=%i, n=%i, c=%f), and R is definite', (d, n, c) => {
    const s = makeState(d, 6, n, d + n);
    for (const method of ['cholesky', 'eigen'] as const) {
      const r = influenceDelta(s, { maxCondition: c, method });
      const m = s.cov.map((x) => x / s.covCount);
      for (let i = 0; i < d; i++) m[i * d + i] += r.damping;
      const ev = jacobiEigen(m, d).values;
      expect(ev[0]).toBeGreaterThan(0);
      const cond = ev[d - 1] / ev[0];
      expect(cond).toBeLessThanOrEqual(c * (1 + 1e-9));
      // not over-damped: with damping the bound is tight; without, C itself is within c
      if (r.damping > 0) expect(cond).toBeGreaterThan(c * (1 - 1e-6));
      else expect(r.spectrumExact ? r.condition : cond).toBeLessThanOrEqual(c);
      expect(r.condition).toBeGreaterThanOrEqual(cond * (1 - 1e-9));
      expect(relErr(r.scores, referenceScores(s, r.damping))).toBeLessThan(1e-9);
    }
  });

  test('a well-conditioned covariance needs no damping under maxCondition', () => {
    const d = 6;
    const s = makeState(d, 3, 1, 1);
    s.cov = new Float64Array(d * d);
    for (let i = 0; i < d; i++) s.cov[i * d + i] = 1 + i;
    const r = influenceDelta(s, { maxCondition: 100 });
    expect(r.damping).toBe(0);
    expect(r.condition).toBeCloseTo(6, 8);
  });

  test('the default is cond(R) <= 1e4 with a z-scored, clipped, 0.2-step delta', () => {
    const s = makeState(20, 30, 60, 2);
    const r = influenceDelta(s);
    expect(r.condition).toBeLessThanOrEqual(1e4 * (1 + 1e-9));
    const live = Array.from(r.delta);
    const mean = live.reduce((a, b) => a + b, 0) / live.length;
    expect(Math.abs(mean)).toBeLessThan(1e-12 + 0.2 * 5 * 30); // finite and bounded
    for (const x of live) expect(Math.abs(x)).toBeLessThanOrEqual(1 + 1e-15);
  });

  test('empty clusters are excluded (score 0, delta 0) or an error naming count[j]', () => {
    const s = makeState(10, 5, 80, 3, 2);
    expect(s.count[2]).toBe(0);
    const r = influenceDelta(s, { damping: 0.1 });
    expect(r.excluded).toEqual([2]);
    expect(r.included[2]).toBe(0);
    expect(r.scores[2]).toBe(0);
    expect(r.delta[2]).toBe(0);
    for (const x of r.delta) expect(Number.isFinite(x)).toBe(true);
    const rest = [0, 1, 3, 4].map((j) => r.delta[j]);
    expect(Math.abs(rest.reduce((a, b) => a + b, 0))).toBeLessThan(1e-12);
    expectValidation(() => influenceDelta(s, { damping: 0.1, emptyClusters: 'error' }), 'count[2]', /no examples/);
    const none = { ...s, count: new Float64Array(5) };
    expectValidation(() => influenceDelta(none, { damping: 0.1 }), 'count', /every cluster/);
  });

  test('a singular R (no damping) is a clear error on both paths', () => {
    const s = makeState(30, 4, 10, 4); // covCount 10 < dim 30
    for (const method of ['cholesky', 'eigen'] as const) {
      expectValidation(() => influenceDelta(s, { damping: 0, method }), 'damping', /not positive definite/);
    }
  });

  test('bad input names the field', () => {
    const s = makeState(5, 3, 20, 5);
    const bad = (patch: Partial<InfluenceState>) => ({ ...s, ...patch });
    const nanCov = Float64Array.from(s.cov);
    nanCov[7] = NaN;
    expectValidation(() => influenceDelta(bad({ cov: nanCov })), 'cov[7]', /finite/);
    expectValidation(() => influenceDelta(bad({ sum: new Float64Array(14) })), 'sum', /Expected 15 entries/);
    expectValidation(() => influenceDelta(bad({ targetCount: 0 })), 'targetCount', /positive/);
    expectValidation(() => influenceDelta(bad({ covCount: -1 })), 'covCount', /positive/);
    expectValidation(() => influenceDelta(bad({ count: new Float64Array([1, -2, 3]) })), 'count[1]', /non-negative/);
    expectValidation(() => influenceDelta(bad({ dim: 0 })), 'dim', /positive integer/);
    expectValidation(() => influenceDelta(bad({ targetSum: new Float64Array([1, 2, 3, 4, Infinity]) })), 'targetSum[4]', /finite/);
    const asym = Float64Array.from(s.cov);
    asym[1] += 1;
    expectValidation(() => influenceDelta(bad({ cov: asym })), 'cov', /not symmetric/);
    expectValidation(() => influenceDelta(s, { damping: 1, maxCondition: 10 }), 'damping', /not both/);
    expectValidation(() => influenceDelta(s, { maxCondition: 1 }), 'maxCondition', /maxCondition/);
    expectValidation(() => influenceDelta(s, { damping: -1 }), 'damping', /damping/);
    expectValidation(() => influenceDelta(s, { normalise: { clip: 0 } }), 'normalise.clip', /clip/);
    expectValidation(() => influenceDelta(s, { method: 'qr' as never }), 'method', /method/);
    expectValidation(() => whitenFeatures(s, new Float64Array(9), 2, { damping: 1 }), 'rows', /Expected 10 entries/);
  });
});

describe('influenceDeltaAsync', () => {
  test('equals the sync result, reports progress, honours AbortSignal', async () => {
    const s = makeState(60, 8, 100, 6);
    const seen: number[] = [];
    const r = await influenceDeltaAsync(s, { onProgress: (p) => seen.push(p.done / p.total) });
    const sync = influenceDelta(s);
    expect(Array.from(r.scores)).toEqual(Array.from(sync.scores));
    expect(Array.from(r.delta)).toEqual(Array.from(sync.delta));
    expect(seen.length).toBeGreaterThan(0);
    const c = new AbortController();
    c.abort();
    await expect(influenceDeltaAsync(s, { signal: c.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
