/** The public reference's knot-schedule JSON: parse, export, and its own probability-interpolation semantics. */
import { mixtureAt } from '../lib/curriculum/curriculum';
import {
  curriculumToKnotSchedule,
  evaluateKnotSchedule,
  knotScheduleCumulative,
  knotScheduleTargetTable,
  knotScheduleToCurriculum,
  knotScheduleToJson,
  parseKnotSchedule,
} from '../lib/curriculum/interop';
import { interpolateTable } from '../lib/curriculum/targets';
import { expectValidation } from './helpers/expect-errors';
import { randomCurriculum, rng } from './helpers/curriculum-random';

const REF = {
  '1000000': { dataset0: 0.7, dataset1: 0.2, dataset2: 0.1 },
  '100000000': { dataset1: 0.3, dataset0: 0.2, dataset2: 0.5 },
  '10000000': { dataset0: 0.5, dataset2: 0.2, dataset1: 0.3 },
};

/** Reference semantics by definition, and its integral by brute-force midpoint sums in log n. */
function refProb(t: number[], p: number[][], n: number): number[] {
  if (n <= t[0]) return p[0];
  if (n >= t[t.length - 1]) return p[p.length - 1];
  let i = 0;
  while (!(t[i] <= n && n <= t[i + 1])) i++;
  const w = (Math.log(n) - Math.log(t[i])) / (Math.log(t[i + 1]) - Math.log(t[i]));
  return p[i].map((a, k) => a + w * (p[i + 1][k] - a));
}

describe('knot-schedule interop', () => {
  test('parse sorts knots by tokens and datasets naturally', () => {
    const ks = parseKnotSchedule(JSON.stringify(REF));
    expect(Array.from(ks.tokens)).toEqual([1e6, 1e7, 1e8]);
    expect(ks.names).toEqual(['dataset0', 'dataset1', 'dataset2']);
    expect(Array.from(ks.probs.subarray(3, 6))).toEqual([0.5, 0.3, 0.2]);
    const ten = parseKnotSchedule({ '5': Object.fromEntries(Array.from({ length: 11 }, (_, k) => [`dataset${k}`, 1 / 11])) });
    expect(ten.names[2]).toBe('dataset2');
    expect(ten.names[10]).toBe('dataset10');
  });

  test('evaluation interpolates probabilities linearly in log tokens and clamps', () => {
    const ks = parseKnotSchedule(REF);
    const t = [1e6, 1e7, 1e8];
    const p = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]];
    for (const n of [10, 1e6, 3e6, 1e7, 5e7, 1e8, 1e12]) {
      const got = evaluateKnotSchedule(ks, n);
      refProb(t, p, n).forEach((x, k) => expect(got[k]).toBeCloseTo(x, 14));
    }
    expect(evaluateKnotSchedule(ks, Math.sqrt(1e6 * 1e7))[0]).toBeCloseTo(0.6, 14);
  });

  test('closed-form E in the reference semantics matches brute-force integration; its target table meets the bound', () => {
    const ks = parseKnotSchedule(REF);
    const t = [1e6, 1e7, 1e8];
    const p = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]];
    for (const S of [5e5, 2e6, 3e7, 2e8]) {
      const e = knotScheduleCumulative(ks, [S]);
      // midpoint rule in s = log n on [log 1, log S] with 2e5 cells, plus [0, 1]
      const want = [0, 0, 0].map((_, k) => refProb(t, p, 0.5)[k]);
      const m = 200000;
      const h = Math.log(S) / m;
      for (let i = 0; i < m; i++) {
        const s = (i + 0.5) * h;
        const q = refProb(t, p, Math.exp(s));
        for (let k = 0; k < 3; k++) want[k] += q[k] * Math.exp(s) * h;
      }
      for (let k = 0; k < 3; k++) expect(Math.abs(e[k] - want[k]) / want[k]).toBeLessThan(1e-8);
    }
    const table = knotScheduleTargetTable(ks, 200_000_000);
    expect(table.tokens[0]).toBe(0);
    expect(table.tokens[table.tokens.length - 1]).toBe(2e8);
    const r = rng(3);
    const pts: number[] = [];
    for (let g = 0; g + 1 < table.tokens.length; g += 3) pts.push(table.tokens[g] + (table.tokens[g + 1] - table.tokens[g]) * r());
    const exact = knotScheduleCumulative(ks, pts);
    pts.forEach((S, i) => {
      const lin = interpolateTable(table, 3, S);
      for (let k = 0; k < 3; k++) expect(Math.abs(lin[k] - exact[i * 3 + k])).toBeLessThanOrEqual(0.5);
    });
  });

  test('import to logits agrees at the knots but not between them; export/import round trip at knots', () => {
    const ks = parseKnotSchedule(REF);
    const c = knotScheduleToCurriculum(ks);
    expect(c.names).toEqual(ks.names);
    for (const n of [1e6, 1e7, 1e8]) {
      const a = mixtureAt(c, n);
      const b = evaluateKnotSchedule(ks, n);
      for (let k = 0; k < 3; k++) expect(a[k]).toBeCloseTo(b[k], 12);
    }
    const mid = Math.sqrt(1e7 * 1e8);
    expect(Math.abs(mixtureAt(c, mid)[0] - evaluateKnotSchedule(ks, mid)[0])).toBeGreaterThan(1e-3);
    const cur = randomCurriculum(rng(6), 4, 3, 1e3, 1e9);
    const back = knotScheduleToCurriculum(parseKnotSchedule(knotScheduleToJson(curriculumToKnotSchedule(cur))));
    expect(back.names).toEqual(['dataset0', 'dataset1', 'dataset2', 'dataset3']);
    for (let i = 0; i < 3; i++) {
      const a = mixtureAt(cur, Math.exp(cur.s[i]));
      const b = mixtureAt(back, Math.exp(cur.s[i]));
      for (let k = 0; k < 4; k++) expect(b[k]).toBeCloseTo(a[k], 12);
    }
  });

  test('bad input names the field', () => {
    expectValidation(() => parseKnotSchedule({ abc: { a: 1 } }), 'schedule["abc"]', /positive number of tokens/);
    expectValidation(() => parseKnotSchedule({ '-5': { a: 1 } }), 'schedule["-5"]', /positive number of tokens/);
    expectValidation(() => parseKnotSchedule({ '5': { a: NaN } }), 'schedule["5"].a', /finite/);
    expectValidation(() => parseKnotSchedule({ '5': { a: 0.5, b: 0.6 } }), 'schedule["5"]', /sum to/);
    expectValidation(() => parseKnotSchedule({ '5': { a: 1 }, '6': { b: 1 } }), 'schedule["6"]', /different set of datasets/);
    expectValidation(() => parseKnotSchedule({ '5': { a: 1 }, '5.0': { a: 1 } }), 'schedule["5.0"]', /same number of tokens/);
    expectValidation(() => parseKnotSchedule({}), 'schedule', /no knots/);
    expectValidation(() => parseKnotSchedule([]), 'schedule', /expected an object/);
  });
});
