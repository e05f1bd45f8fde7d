/**
 * Cumulative targets E_k(S) and the scheduler's target table, against the
 * adaptive Gauss–Kronrod reference in __tests__/reference/curriculum-quadrature.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { binding } from '../lib/binding';
import { createCurriculum, type Curriculum } from '../lib/curriculum/curriculum';
import {
  binShares,
  binTargetTable,
  cumulativeTargets,
  interpolateTable,
  targetTable,
  targetTableAsync,
} from '../lib/curriculum/targets';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { randomCurriculum, rng } from './helpers/curriculum-random';
import { refCumulative } from './reference/curriculum-quadrature';

describe('cumulativeTargets vs adaptive quadrature', () => {
  test('random curricula: relative error <= 1e-9 (observed ~1e-14)', () => {
    const r = rng(7);
    let worst = 0;
    for (let trial = 0; trial < 40; trial++) {
      const K = 1 + Math.floor(r() * 5);
      const n = 1 + Math.floor(r() * 6);
      const c = randomCurriculum(r, K, n, 1 + r() * 100, 1e3 + r() * 1e7, 1 + r() * 5);
      const points = [0, ...Array.from({ length: 5 }, () => Math.exp(Math.log(1e8) * r()))];
      const e = cumulativeTargets(c, points);
      points.forEach((S, i) => {
        const ref = refCumulative(c, S);
        for (let k = 0; k < K; k++) {
          const got = e[i * K + k];
          if (S === 0) expect(got).toBe(0);
          else {
            const rel = Math.abs(got - ref[k]) / ref[k];
            worst = Math.max(worst, rel);
            expect(rel).toBeLessThanOrEqual(1e-9);
          }
        }
      });
    }
    expect(worst).toBeLessThan(1e-12);
  });

  test('steep logits (slopes up to ~50 per unit of log tokens) stay accurate', () => {
    const c: Curriculum = { groups: 2, s: Float64Array.from([Math.log(1e3), Math.log(1.2e3), Math.log(1e5)]), logits: Float64Array.from([0, 0, 10, -10, -20, 30]) };
    for (const S of [1100, 1200, 5e4, 2e5]) {
      const e = cumulativeTargets(c, [S]);
      const ref = refCumulative(c, S);
      for (let k = 0; k < 2; k++) expect(Math.abs(e[k] - ref[k]) / ref[k]).toBeLessThanOrEqual(1e-9);
    }
  });

  test('groups sum to S, E is linear below the first knot and above the last', () => {
    const c = randomCurriculum(rng(3), 4, 3, 1e3, 1e6);
    const pts = [10, 500, 1e3, 4e4, 1e6, 2e6, 5e6];
    const e = cumulativeTargets(c, pts);
    pts.forEach((S, i) => {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += e[i * 4 + k];
      expect(Math.abs(sum - S) / S).toBeLessThan(1e-13);
    });
    const first = Math.exp(c.s[0]);
    for (let k = 0; k < 4; k++) expect(e[4 + k] / e[k]).toBeCloseTo(50, 12); // 500 vs 10 tokens
    const last = Math.exp(c.s[c.s.length - 1]);
    const at = cumulativeTargets(c, [last, 3 * last, 5 * last]);
    for (let k = 0; k < 4; k++) expect((at[8 + k] - at[4 + k]) / (at[4 + k] - at[k])).toBeCloseTo(1, 12);
    expect(first).toBeLessThan(500 + 1e9); // (keeps `first` meaningful for readers)
  });

  test('a static curriculum gives tau * S', () => {
    const c = createCurriculum({ mixture: [0.2, 0.3, 0.5], knotTokens: [100, 1e4] });
    const e = cumulativeTargets(c, [1e5]);
    expect(e[0]).toBeCloseTo(2e4, 6);
    expect(e[2]).toBeCloseTo(5e4, 6);
  });

  test('bad points name the field', () => {
    const c = createCurriculum({ groups: 2 });
    expectValidation(() => cumulativeTargets(c, [1, -1]), 'points[1]', /points\[1\]/);
    expectValidation(() => cumulativeTargets(c, [NaN]), 'points[0]', /points\[0\]/);
  });
});

function checkTable(c: Curriculum, T: number, maxErr: number, r: () => number): void {
  const K = c.groups;
  const t = targetTable(c, T, { maxErrorTokens: maxErr });
  const G = t.tokens.length;
  expect(t.tokens[0]).toBe(0);
  expect(t.tokens[G - 1]).toBeGreaterThanOrEqual(T);
  expect(t.cumulative.length).toBe(G * K);
  // violations are counted and checked once (an expect per entry is slow at K = 1000)
  const bad: string[] = [];
  for (let g = 1; g < G; g++) {
    if (!Number.isInteger(t.tokens[g]) || !(t.tokens[g] > t.tokens[g - 1])) bad.push(`tokens[${g}] = ${t.tokens[g]}`);
    for (let k = 0; k < K; k++)
      if (!(t.cumulative[g * K + k] >= t.cumulative[(g - 1) * K + k])) bad.push(`E decreases at g = ${g}, k = ${k}`);
  }
  expect(t.interpolationBound + t.quadratureBound).toBeLessThanOrEqual(maxErr);
  // grid values against the independent evaluator
  const exactGrid = cumulativeTargets(c, t.tokens);
  for (let i = 0; i < G * K; i++)
    if (!(Math.abs(exactGrid[i] - t.cumulative[i]) <= t.quadratureBound + 1e-9 * exactGrid[i] + 1e-9))
      bad.push(`cumulative[${i}] = ${t.cumulative[i]} but E = ${exactGrid[i]}`);
  expect(bad.slice(0, 5)).toEqual([]);
  // dense exact evaluation: cell midpoints, quarter points and random points
  const pts: number[] = [];
  for (let g = 0; g + 1 < G; g++) {
    const a = t.tokens[g];
    const w = t.tokens[g + 1] - a;
    pts.push(a + w / 2, a + w / 4, a + (3 * w) / 4, a + w * r());
  }
  const exact = cumulativeTargets(c, pts);
  let worst = 0;
  pts.forEach((S, i) => {
    const lin = interpolateTable(t, K, S);
    for (let k = 0; k < K; k++) worst = Math.max(worst, Math.abs(lin[k] - exact[i * K + k]));
  });
  expect(worst).toBeLessThanOrEqual(maxErr);
}

describe('targetTable', () => {
  test('random curricula: grid invariants, values, and interpolation error <= maxErrorTokens on dense points', () => {
    const r = rng(11);
    for (let trial = 0; trial < 12; trial++) {
      const K = 1 + Math.floor(r() * 6);
      const c = randomCurriculum(r, K, 1 + Math.floor(r() * 5), 0.5 + r() * 1e3, 1e4 + r() * 3e6, 0.5 + 3 * r());
      const T = Math.floor(1e4 + r() * 4e6);
      checkTable(c, T, [0.3, 0.5, 2][trial % 3], r);
    }
  });

  test('knots below one token, knots closer than one token, and knots beyond totalTokens', () => {
    const r = rng(5);
    const c: Curriculum = {
      groups: 3,
      s: Float64Array.from([Math.log(0.2), Math.log(50.1), Math.log(50.3), Math.log(7e5), Math.log(1e7)]),
      logits: Float64Array.from([3, 0, -3, -2, 2, 0, 0, 0, 5, 4, -4, 1, 0, 0, 0]),
    };
    checkTable(c, 1_000_000, 0.5, r);
    checkTable(c, 40, 0.5, r);
  });

  test('the table is bit-identical for 1, 2 and 3 threads (groups split into fixed chunks)', () => {
    const c = randomCurriculum(rng(12), 1500, 5, 1e3, 1e8, 2);
    const one = targetTable(c, 1e8, { threads: 1 });
    for (const threads of [2, 3]) {
      const t = targetTable(c, 1e8, { threads });
      expect(Buffer.from(t.tokens.buffer).equals(Buffer.from(one.tokens.buffer))).toBe(true);
      expect(Buffer.from(t.cumulative.buffer).equals(Buffer.from(one.cumulative.buffer))).toBe(true);
    }
    expect(one.tokens.length).toBeGreaterThan(100);
    expectValidation(() => targetTable(c, 1e8, { threads: 0 }), 'threads', /threads/);
  });

  test('many groups: 512-group chunks, a ragged tail of 4-lane blocks, one and many Newton-Cotes panels per cell', () => {
    const r = rng(13);
    // steep (libm exp and several panels per cell near 1e3 tokens, Taylor and one panel later)
    // and nearly flat (cells wide in log tokens: many panels)
    checkTable(randomCurriculum(r, 1037, 4, 1e3, 3e7, 3), 3e7, 0.5, r);
    checkTable(randomCurriculum(r, 517, 3, 1e2, 1e8, 1e-3), 1e8, 0.5, r);
  });

  test('the AVX2 and portable kernels give bit-identical tables (CURRICULA_NO_AVX2=1 in a child process)', () => {
    const cases = [randomCurriculum(rng(14), 1037, 4, 1e3, 3e7, 3), randomCurriculum(rng(15), 517, 3, 1e2, 1e8, 1e-3)];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-kernels-'));
    try {
      const input = path.join(dir, 'cases.json');
      fs.writeFileSync(input, JSON.stringify(cases.map((c) => ({ groups: c.groups, s: Array.from(c.s), logits: Array.from(c.logits) }))));
      const script = `
        const fs = require('fs');
        const b = require(${JSON.stringify(path.resolve(__dirname, '..', 'build', 'Release', 'curricula.node'))});
        const cases = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
        cases.forEach((c, i) => {
          const t = b.curriculumTargetTableSync({ groups: c.groups, s: Float64Array.from(c.s), logits: Float64Array.from(c.logits) }, 1e8, 0.5, 2 ** 28, 1);
          fs.writeFileSync(process.argv[2] + '/' + i + '.bin', Buffer.concat([Buffer.from(t.tokens.buffer), Buffer.from(t.cumulative.buffer)]));
        });
        process.stdout.write(b.curriculumTableKernel);`;
      const child = spawnSync(process.execPath, ['-e', script, input, dir], { encoding: 'utf8', env: { ...process.env, CURRICULA_NO_AVX2: '1' } });
      expect(child.stderr).toBe('');
      expect(child.stdout).toBe('portable');
      cases.forEach((c, i) => {
        const t = targetTable(c, 1e8);
        const mine = Buffer.concat([Buffer.from(t.tokens.buffer), Buffer.from(t.cumulative.buffer)]);
        expect(mine.equals(fs.readFileSync(path.join(dir, `${i}.bin`)))).toBe(true);
      });
      // on a CPU without AVX2 both sides ran the portable kernels
      expect(['avx2', 'portable']).toContain(binding().curriculumTableKernel);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a static curriculum needs only the endpoints', () => {
    const t = targetTable(createCurriculum({ mixture: [0.5, 0.5], knotTokens: [10, 1e6] }), 1e9);
    expect(Array.from(t.tokens)).toEqual([0, 10, 1e6, 1e9]);
    expect(t.interpolationBound).toBe(0);
  });

  test('async variant gives the same table; abort rejects with AbortError; progress is reported', async () => {
    const c = randomCurriculum(rng(9), 50, 6, 1e3, 1e8, 2);
    const sync = targetTable(c, 1e8);
    let calls = 0;
    const asy = await targetTableAsync(c, 1e8, { onProgress: () => calls++ });
    expect(Array.from(asy.tokens)).toEqual(Array.from(sync.tokens));
    expect(Array.from(asy.cumulative)).toEqual(Array.from(sync.cumulative));
    expect(calls).toBeGreaterThan(0);
    const pre = new AbortController();
    pre.abort();
    await expect(targetTableAsync(c, 1e8, { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
    // abort from the first progress report of a long job (thousands of cells)
    const big = randomCurriculum(rng(10), 2000, 8, 1e3, 1e10, 3);
    const ac = new AbortController();
    const p = targetTableAsync(big, 1e10, { signal: ac.signal, maxEntries: 2 ** 30, onProgress: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(AbortError);
  });

  test('bad input names the field', () => {
    const c = createCurriculum({ groups: 2, knotTokens: [10, 100] });
    expectValidation(() => targetTable(c, 0), 'totalTokens', /totalTokens/);
    expectValidation(() => targetTable(c, 1.5), 'totalTokens', /totalTokens/);
    expectValidation(() => targetTable(c, 100, { maxErrorTokens: 0.1 }), 'maxErrorTokens', /maxErrorTokens/);
    expectValidation(() => targetTable(c, 100, { maxErrorTokens: NaN }), 'maxErrorTokens', /maxErrorTokens/);
    const steep: Curriculum = { groups: 2, s: Float64Array.from([0, 20]), logits: Float64Array.from([0, 0, 30, -30]) };
    expectValidation(() => targetTable(steep, 1e8, { maxEntries: 100 }), 'maxEntries', /maxEntries/);
    const bad: Curriculum = { groups: 2, s: Float64Array.from([1, 1]), logits: new Float64Array(4) };
    expectValidation(() => targetTable(bad, 100), 'curriculum.s[1]', /strictly increasing/);
    const nan: Curriculum = { groups: 2, s: Float64Array.from([1, 2]), logits: Float64Array.from([0, NaN, 0, 0]) };
    expectValidation(() => targetTable(nan, 100), 'curriculum.logits[0][1]', /finite/);
  });
});

describe('length-bin targets', () => {
  test('binTargetTable = Σ_j E_j κ_{b|j}, and bins sum to the group total', () => {
    const c = randomCurriculum(rng(2), 3, 3, 100, 1e5);
    const t = targetTable(c, 200_000);
    const kappa = [0.5, 0.5, 0, 0.1, 0.2, 0.7, 1, 0, 0];
    const u = binTargetTable(t, kappa);
    const G = t.tokens.length;
    expect(u.bins).toBe(3);
    for (let g = 0; g < G; g += 7) {
      for (let b = 0; b < 3; b++) {
        let want = 0;
        for (let j = 0; j < 3; j++) want += t.cumulative[g * 3 + j] * kappa[j * 3 + b];
        expect(u.cumulative[g * 3 + b]).toBeCloseTo(want, 6);
      }
      const sumU = u.cumulative[g * 3] + u.cumulative[g * 3 + 1] + u.cumulative[g * 3 + 2];
      const sumE = t.cumulative[g * 3] + t.cumulative[g * 3 + 1] + t.cumulative[g * 3 + 2];
      expect(sumU).toBeCloseTo(sumE, 6);
    }
    expectValidation(() => binTargetTable(t, [0.5, 0.5, 0, 0.1, 0.2, 0.7, 1, 0]), 'kappa', /K×B/);
    expectValidation(() => binTargetTable(t, [0.5, 0.6, 0, 0.1, 0.2, 0.7, 1, 0, 0]), 'kappa[0]', /sum/);
    expectValidation(() => binTargetTable(t, [0.5, 0.5, 0, 0.1, -0.2, 1.1, 1, 0, 0]), 'kappa[1][1]', /finite share/);
  });

  test('binShares from data: tokens of group j in bin b over tokens of group j; empty groups get global shares', () => {
    const set = {
      offsets: new BigUint64Array([0n, 2n, 3n]),
      group: Uint32Array.from([0, 0, 2]),
      bin: Uint32Array.from([0, 1, 1]),
      tokens: Uint32Array.from([30, 10, 60]),
      numGroups: 3,
      numBins: 2,
    } as never;
    const kappa = binShares(set);
    expect(Array.from(kappa)).toEqual([0.75, 0.25, 0.3, 0.7, 0, 1]);
  });
});
