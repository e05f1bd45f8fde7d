/** Normalisation of raw scores into Δℓ: centre, spread, clip, step. */
import { normaliseScores, trimmedMean } from '../lib/influence/normalise';
import { expectValidation } from './helpers/expect-errors';
import { Rng } from './reference/linalg-reference';

/** Reference: the same definition written plainly. */
function reference(s: number[], centre: number, scale: boolean, clip: number | null, step: number): number[] {
  const spread = scale ? Math.sqrt(s.reduce((a, v) => a + (v - centre) ** 2, 0) / s.length) : 1;
  return s.map((v) => {
    let z = (v - centre) / spread;
    if (clip !== null) z = Math.min(clip, Math.max(-clip, z));
    return step * z;
  });
}

describe('normaliseScores', () => {
  test('defaults: z-score, clip ±5, step 0.2', () => {
    const rng = new Rng(1);
    const s = Array.from({ length: 50 }, () => rng.normal() * 3 + 10);
    s[7] = 1000; // an outlier that the clip catches
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    const d = normaliseScores(Float64Array.from(s));
    const ref = reference(s, mean, true, 5, 0.2);
    for (let j = 0; j < s.length; j++) expect(d[j]).toBeCloseTo(ref[j], 12);
    expect(d[7]).toBe(0.2 * 5);
  });

  test('without clipping, the z-scores have mean 0 and population std 1', () => {
    const rng = new Rng(2);
    const s = Float64Array.from({ length: 40 }, () => rng.normal() * 0.01 - 3);
    const d = normaliseScores(s, { clip: null, step: 1 });
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / d.length);
    expect(Math.abs(mean)).toBeLessThan(1e-12);
    expect(sd).toBeCloseTo(1, 12);
  });

  test('trimmed mean centre, no scaling', () => {
    const s = [1, 2, 3, 4, 100];
    // quantiles 0.25 → 2, 0.75 → 4: mean of {2, 3, 4} = 3
    expect(trimmedMean(s, 0.25, 0.75)).toBe(3);
    const d = normaliseScores(Float64Array.from(s), { center: 'trimmed-mean', trim: [0.25, 0.75], scale: 'none', clip: 50, step: 0.5 });
    expect(Array.from(d)).toEqual(reference(s, 3, false, 50, 0.5));
    expect(Array.from(normaliseScores(Float64Array.from(s), { center: 'none', scale: 'none', clip: null, step: 1 }))).toEqual(s);
  });

  test('excluded entries get 0 and do not enter the statistics; constant scores give 0', () => {
    const s = Float64Array.from([1, 2, 999, 3]);
    const inc = Uint8Array.from([1, 1, 0, 1]);
    const d = normaliseScores(s, { clip: null, step: 1 }, inc);
    const ref = reference([1, 2, 3], 2, true, null, 1);
    expect(d[2]).toBe(0);
    expect([d[0], d[1], d[3]]).toEqual(ref);
    expect(Array.from(normaliseScores(Float64Array.from([4, 4, 4])))).toEqual([0, 0, 0]);
    expect(Array.from(normaliseScores(Float64Array.from([4])))).toEqual([0]);
  });

  test('bad options and scores name the field', () => {
    const s = Float64Array.from([1, 2, 3]);
    expectValidation(() => normaliseScores(s, { clip: -1 }), 'clip', /clip/);
    expectValidation(() => normaliseScores(s, { step: 0 }), 'step', /step/);
    expectValidation(() => normaliseScores(s, { trim: [0.9, 0.1] }), 'trim', /trim\[0\] < trim\[1\]/);
    expectValidation(() => normaliseScores(s, { trim: [0, 1.5] }), 'trim.1', /trim/);
    expectValidation(() => normaliseScores(s, { center: 'median' as never }), 'center', /center/);
    expectValidation(() => normaliseScores(s, { bogus: 1 } as never), 'normalise', /bogus/);
    expectValidation(() => normaliseScores(Float64Array.from([1, NaN]), {}), 'scores[1]', /finite/);
    expectValidation(() => normaliseScores(s, {}, new Uint8Array(2)), 'included', /3 entries/);
  });
});
