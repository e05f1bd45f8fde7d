/** Curriculum representation, validation, lossless JSON, and the run configuration schema. */
import { parseRunConfig } from '../lib/curriculum/config';
import {
  assertGroups,
  createCurriculum,
  logitsAt,
  mixtureAt,
  validateCurriculum,
  type Curriculum,
} from '../lib/curriculum/curriculum';
import { curriculumToJson, parseCurriculum } from '../lib/curriculum/serialize';
import { binding } from '../lib/binding';
import { expectValidation } from './helpers/expect-errors';
import { randomCurriculum, rng } from './helpers/curriculum-random';
import { refMixture } from './reference/curriculum-quadrature';

describe('representation', () => {
  test('mixtureAt matches the definition (TS and native), constant outside the knots', () => {
    const r = rng(1);
    for (let trial = 0; trial < 20; trial++) {
      const c = randomCurriculum(r, 1 + Math.floor(r() * 5), 1 + Math.floor(r() * 5), 10, 1e6);
      for (let q = 0; q < 20; q++) {
        const N = Math.exp(r() * 16);
        const want = refMixture(c, N);
        const got = mixtureAt(c, N);
        const nat = binding().curriculumMixture(c, Math.log(N));
        for (let k = 0; k < c.groups; k++) {
          expect(got[k]).toBeCloseTo(want[k], 13);
          expect(nat[k]).toBeCloseTo(want[k], 13);
        }
      }
      expect(Array.from(mixtureAt(c, 1))).toEqual(Array.from(mixtureAt(c, 5)));
    }
  });

  test('createCurriculum from a mixture or a number of groups', () => {
    const c = createCurriculum({ mixture: [0.25, 0.75, 0], knotTokens: [1e3, 1e6] });
    expect(c.s.length).toBe(2);
    const p = mixtureAt(c, 5e4);
    expect(p[0]).toBeCloseTo(0.25, 14);
    expect(p[2]).toBeLessThan(1e-300);
    const u = createCurriculum({ groups: 4 });
    expect(Array.from(mixtureAt(u, 7))).toEqual([0.25, 0.25, 0.25, 0.25]);
    expectValidation(() => createCurriculum({ mixture: [0.5, NaN] }), 'mixture[1]', /finite probability/);
    expectValidation(() => createCurriculum({ mixture: [0, 0] }), 'mixture', /sums to 0/);
    expectValidation(() => createCurriculum({ groups: 0 }), 'groups', /positive integer/);
    expectValidation(() => createCurriculum({ groups: 2, knotTokens: [10, 0] }), 'knotTokens[1]', /positive/);
    expectValidation(() => createCurriculum({ groups: 2, knotTokens: [10, 10] }), 'curriculum.s[1]', /strictly increasing/);
  });

  test('validation names the field', () => {
    const ok = (): Curriculum => ({ groups: 2, s: Float64Array.from([1, 2]), logits: Float64Array.from([0, 1, 2, 3]) });
    expect(() => validateCurriculum(ok())).not.toThrow();
    expectValidation(() => validateCurriculum({ ...ok(), s: Float64Array.from([2, 1]) }), 'curriculum.s[1]', /strictly increasing/);
    expectValidation(() => validateCurriculum({ ...ok(), s: Float64Array.from([1, Infinity]) }), 'curriculum.s[1]', /finite/);
    expectValidation(() => validateCurriculum({ ...ok(), logits: Float64Array.from([0, 1, NaN, 3]) }), 'curriculum.logits[1][0]', /finite/);
    expectValidation(() => validateCurriculum({ ...ok(), logits: Float64Array.from([0, 1, 2]) }), 'curriculum.logits', /3 entries/);
    expectValidation(() => validateCurriculum({ ...ok(), s: new Float64Array(0), logits: new Float64Array(0) }), 'curriculum.s', /at least one knot/);
    expectValidation(() => validateCurriculum({ ...ok(), names: ['a'] }), 'curriculum.names', /2 strings/);
    expectValidation(() => assertGroups(ok(), 3, 'schedule'), 'schedule.groups', /2 groups but the data has 3/);
    expect(() => assertGroups(ok(), 2)).not.toThrow();
    expect(logitsAt(ok(), 1.5)[1]).toBeCloseTo(2, 15);
  });
});

describe('JSON', () => {
  test('round-trips random doubles bit for bit (including -0, subnormals and extremes)', () => {
    const r = rng(99);
    const buf = new Float64Array(1);
    const bits = new Uint32Array(buf.buffer);
    const randomDouble = (): number => {
      do {
        bits[0] = Math.floor(r() * 2 ** 32);
        bits[1] = Math.floor(r() * 2 ** 32);
      } while (!Number.isFinite(buf[0]));
      return buf[0];
    };
    for (let trial = 0; trial < 50; trial++) {
      const K = 1 + Math.floor(r() * 6);
      const n = 1 + Math.floor(r() * 6);
      const s = Float64Array.from({ length: n }, () => randomDouble()).sort();
      if (new Set(s).size !== n) continue;
      const logits = Float64Array.from({ length: n * K }, (_, i) => (i === 0 ? -0 : i === 1 ? 5e-324 : randomDouble()));
      const c: Curriculum = { groups: K, s, logits, ...(trial % 2 ? { names: Array.from({ length: K }, (_, k) => `g"${k}`) } : {}) };
      const back = parseCurriculum(curriculumToJson(c));
      expect(back.groups).toBe(K);
      expect(back.names).toEqual(c.names);
      expect(Buffer.from(back.s.buffer).equals(Buffer.from(s.buffer))).toBe(true);
      expect(Buffer.from(back.logits.buffer).equals(Buffer.from(logits.buffer))).toBe(true);
    }
  });

  test('bad files name the field', () => {
    const base = { groups: 2, knots: [{ s: 1, logits: [0, 1] }, { tokens: 100, logits: [1, 2] }] };
    expect(parseCurriculum(base).s[1]).toBeCloseTo(Math.log(100), 15);
    expectValidation(() => parseCurriculum({ ...base, knots: [{ s: 1, logits: [0] }] }), 'knots[0].logits', /Expected 2 logits/);
    expectValidation(() => parseCurriculum({ ...base, knots: [{ s: 1, logits: [0, null] }] }), 'knots[0].logits[1]', /number/);
    expectValidation(() => parseCurriculum({ ...base, knots: [{ logits: [0, 1] }] }), 'knots[0]', /needs `s`/);
    expectValidation(() => parseCurriculum({ ...base, knots: [{ tokens: -1, logits: [0, 1] }] }), 'knots[0].tokens', /0/);
    expectValidation(() => parseCurriculum({ ...base, groups: 0 }), 'groups', /0/);
    expectValidation(() => parseCurriculum('{"groups": 1, "knots": [{"s": 1e999, "logits": [0]}]}'), 'knots[0].s', /finite|Infinity|number/);
    expectValidation(() => parseCurriculum({ groups: 2, knots: [{ s: 2, logits: [0, 1] }, { s: 1, logits: [0, 1] }] }), 'curriculum.s[1]', /strictly increasing/);
    expect(() => parseCurriculum('{oops')).toThrow(/not valid JSON/);
  });
});

describe('run configuration', () => {
  const good = { groups: 10, progress: { minTokens: 1e6, maxTokens: 1e9 }, eta: 0.1, samples: 16 };
  test('defaults', () => {
    const c = parseRunConfig(good);
    expect(c).toMatchObject({ lambda: 1, sigma: 0, bins: 16, iterations: 1, maxErrorTokens: 0.5, seeds: { sampling: 0, noise: 0 } });
    expect(parseRunConfig({ ...good, eta: { schedule: 'inverse-sqrt', eta0: 1 } }).eta).toEqual({ schedule: 'inverse-sqrt', eta0: 1, rate: 1 });
  });
  test('errors name the field', () => {
    expectValidation(() => parseRunConfig({ ...good, progress: { minTokens: 5, maxTokens: 5 } }), 'progress', /empty range/);
    expectValidation(() => parseRunConfig({ ...good, progress: { minTokens: -5, maxTokens: 5 } }), 'progress.minTokens', /minTokens/);
    expectValidation(() => parseRunConfig({ ...good, eta: NaN }), 'eta', /eta/);
    expectValidation(() => parseRunConfig({ ...good, eta: Infinity }), 'eta', /eta/);
    expectValidation(() => parseRunConfig({ ...good, samples: 0 }), 'samples', /samples/);
    expectValidation(() => parseRunConfig({ ...good, lambda: -1 }), 'lambda', /received -1/);
    expectValidation(() => parseRunConfig({ ...good, sigma: -1 }), 'sigma', /sigma/);
    expectValidation(() => parseRunConfig({ ...good, bins: 0 }), 'bins', /bins/);
    expectValidation(() => parseRunConfig({ ...good, seeds: { sampling: -1 } }), 'seeds.sampling', /seeds.sampling/);
    expectValidation(() => parseRunConfig({ ...good, typo: 1 }), '(top level)', /typo/);
  });
});
