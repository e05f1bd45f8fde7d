/** Algorithm 1 (meta-update), knot cap, and the static TerRIFIC variants. */
import {
  capKnots,
  metaUpdate,
  metaUpdateFromSamples,
  sampleLogTimes,
  stepSchedule,
  terrificAverage,
  terrificStatic,
} from '../lib/curriculum/algorithm1';
import { createCurriculum, logitsAt } from '../lib/curriculum/curriculum';
import { expectValidation } from './helpers/expect-errors';
import { randomCurriculum, rng } from './helpers/curriculum-random';
import { refUpdated } from './reference/naive-meta-update';

function rows(c: { groups: number; logits: Float64Array; s: Float64Array }): number[][] {
  return Array.from(c.s, (_, i) => Array.from(c.logits.subarray(i * c.groups, (i + 1) * c.groups)));
}

describe('sampleLogTimes', () => {
  test('seeded, uniform in [s_min, s_max], different per iteration', () => {
    const range = { minTokens: 1e6, maxTokens: 1e9 };
    const a = sampleLogTimes(range, 2000, 42, 0);
    expect(Array.from(sampleLogTimes(range, 2000, 42, 0))).toEqual(Array.from(a));
    expect(Array.from(sampleLogTimes(range, 2000, 42, 1))).not.toEqual(Array.from(a));
    expect(Array.from(sampleLogTimes(range, 2000, 43, 0))).not.toEqual(Array.from(a));
    const lo = Math.log(1e6);
    const hi = Math.log(1e9);
    let mean = 0;
    for (const s of a) {
      expect(s).toBeGreaterThanOrEqual(lo);
      expect(s).toBeLessThan(hi);
      mean += s / a.length;
    }
    // mean of 2000 uniforms: sd = (hi-lo)/sqrt(12*2000) ≈ 0.045
    expect(Math.abs(mean - (lo + hi) / 2)).toBeLessThan(0.25);
    const buckets = new Array(4).fill(0);
    for (const s of a) buckets[Math.floor(((s - lo) / (hi - lo)) * 4)]++;
    for (const b of buckets) expect(Math.abs(b - 500)).toBeLessThan(120);
  });

  test('empty range and bad sizes name the field', () => {
    expectValidation(() => sampleLogTimes({ minTokens: 10, maxTokens: 10 }, 4, 0), 'range', /empty/);
    expectValidation(() => sampleLogTimes({ minTokens: 100, maxTokens: 10 }, 4, 0), 'range', /empty/);
    expectValidation(() => sampleLogTimes({ minTokens: 0, maxTokens: 10 }, 4, 0), 'range.minTokens', /positive/);
    expectValidation(() => sampleLogTimes({ minTokens: 1, maxTokens: 10 }, 0, 0), 'samples', /positive integer/);
    expectValidation(() => sampleLogTimes({ minTokens: 1, maxTokens: 10 }, 3, -1), 'seed', /seed/);
  });
});

describe('metaUpdate', () => {
  test('equals the pointwise definition everywhere (dense check), on random curricula and samples', () => {
    const r = rng(21);
    for (let trial = 0; trial < 30; trial++) {
      const K = 1 + Math.floor(r() * 4);
      const c = randomCurriculum(r, K, 1 + Math.floor(r() * 4), 10, 1e8);
      const B = 1 + Math.floor(r() * 6);
      const samples = Array.from({ length: B }, () => ({ s: Math.log(10) + r() * 20, delta: Array.from({ length: K }, () => 2 * r() - 1) }));
      const eta = 0.1 + r();
      const { curriculum } = metaUpdateFromSamples(c, samples, { eta });
      expect(curriculum.s.length).toBeLessThanOrEqual(c.s.length + B);
      for (let q = 0; q < 200; q++) {
        const s = -2 + r() * 25;
        const want = refUpdated(Array.from(c.s), rows(c), samples, eta, s);
        const got = logitsAt(curriculum, s);
        for (let k = 0; k < K; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-12 * (1 + Math.abs(want[k])));
      }
    }
  });

  test('callback form: queries the field at the seeded log-times with N = e^s; eta schedules apply per iteration', async () => {
    const c = createCurriculum({ groups: 2, knotTokens: [1e6, 1e9] });
    const seen: [number, number][] = [];
    const field = (s: number, N: number) => {
      seen.push([s, N]);
      return [s - 17, 0];
    };
    const opts = { range: { minTokens: 1e6, maxTokens: 1e9 }, samples: 8, seed: 5, eta: stepSchedule('inverse-sqrt', 1), iteration: 3 };
    const res = await metaUpdate(c, field, opts);
    expect(res.eta).toBeCloseTo(0.5, 15);
    expect(seen.map((x) => x[0])).toEqual(Array.from(sampleLogTimes(opts.range, 8, 5, 3)));
    for (const [s, N] of seen) expect(N).toBeCloseTo(Math.exp(s), 6);
    // Δf is linear in s between the extreme samples, so f0 moves by 0.5 (s − 17) there
    const sorted = seen.map((x) => x[0]).sort((a, b) => a - b);
    const mid = (sorted[0] + sorted[7]) / 2;
    expect(logitsAt(res.curriculum, mid)[0]).toBeCloseTo(0.5 * (mid - 17), 12);
    // clamped outside
    expect(logitsAt(res.curriculum, 0)[0]).toBeCloseTo(0.5 * (sorted[0] - 17), 12);
  });

  test('duplicates at the same s are averaged; samples by tokens work', () => {
    const c = createCurriculum({ groups: 1 });
    const { curriculum } = metaUpdateFromSamples(c, [{ tokens: 100, delta: [1] }, { s: Math.log(100), delta: [3] }], { eta: 1 });
    expect(logitsAt(curriculum, Math.log(100))[0]).toBeCloseTo(2, 14);
  });

  test('knot cap: at most maxKnots knots and the reported logit change is the true sup-norm change', () => {
    const r = rng(4);
    const c = randomCurriculum(r, 3, 40, 10, 1e9);
    const { curriculum, maxLogitChange } = capKnots(c, 8);
    expect(curriculum.s.length).toBe(8);
    let worst = 0;
    for (let q = 0; q < 5000; q++) {
      const s = c.s[0] + (c.s[39] - c.s[0]) * r();
      const a = logitsAt(c, s);
      const b = logitsAt(curriculum, s);
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
    }
    expect(worst).toBeLessThanOrEqual(maxLogitChange + 1e-12);
    expect(worst).toBeGreaterThan(0.8 * maxLogitChange);
    const up = metaUpdateFromSamples(c, [{ s: 5, delta: [1, 1, 1] }], { eta: 1, maxKnots: 10 });
    expect(up.curriculum.s.length).toBe(10);
    expect(up.maxLogitChange).toBeGreaterThan(0);
  });

  test('bad input names the field', async () => {
    const c = createCurriculum({ groups: 2 });
    expectValidation(() => metaUpdateFromSamples(c, [{ s: 1, delta: [1] }], { eta: 1 }), 'samples[0].delta', /2 groups/);
    expectValidation(() => metaUpdateFromSamples(c, [{ s: 1, delta: [1, NaN] }], { eta: 1 }), 'samples[0].delta[1]', /finite/);
    expectValidation(() => metaUpdateFromSamples(c, [{ s: NaN, delta: [1, 1] }], { eta: 1 }), 'samples[0].s', /finite/);
    expectValidation(() => metaUpdateFromSamples(c, [{ tokens: -5, delta: [1, 1] }], { eta: 1 }), 'samples[0].tokens', /positive/);
    expectValidation(() => metaUpdateFromSamples(c, [], { eta: 1 }), 'samples', /non-empty/);
    expectValidation(() => metaUpdateFromSamples(c, [{ s: 1, delta: [1, 1] }], { eta: Infinity }), 'eta', /finite/);
    expectValidation(() => metaUpdateFromSamples(c, [{ s: 1, delta: [1, 1] }], { eta: () => NaN }), 'eta', /finite/);
    expectValidation(() => capKnots(c, 1), 'maxKnots', />= 2/);
    await expect(metaUpdate(c, () => [0, 0], { range: { minTokens: 5, maxTokens: 5 }, samples: 2, seed: 0, eta: 1 })).rejects.toThrow(/empty/);
  });
});

describe('static TerRIFIC', () => {
  test('TerRIFIC adds η Δℓ at every knot; TerRIFIC-AVG uses the mean of the Δℓ', () => {
    const c = randomCurriculum(rng(8), 3, 4, 10, 1e6);
    const one = terrificStatic(c, [1, 0, -1], 0.5);
    for (let i = 0; i < 4; i++) {
      expect(one.logits[i * 3]).toBeCloseTo(c.logits[i * 3] + 0.5, 14);
      expect(one.logits[i * 3 + 2]).toBeCloseTo(c.logits[i * 3 + 2] - 0.5, 14);
    }
    const avg = terrificAverage(c, [[1, 0, 0], [0, 3, 0], [2, 0, 3]], 1);
    expect(avg.logits[0]).toBeCloseTo(c.logits[0] + 1, 14);
    expect(avg.logits[1]).toBeCloseTo(c.logits[1] + 1, 14);
    expect(avg.logits[2]).toBeCloseTo(c.logits[2] + 1, 14);
    expectValidation(() => terrificStatic(c, [1, 2], 1), 'delta', /3 numbers/);
    expectValidation(() => terrificAverage(c, [[1, 2, 3], [1, NaN, 3]], 1), 'deltas[1][1]', /finite/);
    expectValidation(() => terrificAverage(c, [], 1), 'deltas', /non-empty/);
    expectValidation(() => terrificStatic(c, [1, 2, 3], NaN), 'eta', /finite/);
  });
});
