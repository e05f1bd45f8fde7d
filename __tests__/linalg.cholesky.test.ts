/** Blocked Cholesky solve vs the unblocked reference; thread independence; bad input. */
import { choleskySolve, choleskySolveSync } from '../lib/analysis/linalg';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { Rng, maxAbs, maxAbsDiff, multiplyABt, naiveCholeskySolve } from './reference/linalg-reference';

function randomSpd(n: number, rng: Rng, shift = 0.1): Float64Array {
  const g = rng.normals(n * (n + 3));
  const a = multiplyABt(g, g, n, n, n + 3);
  for (let i = 0; i < n; i++) a[i * n + i] += shift;
  return a;
}

describe('choleskySolveSync', () => {
  test.each([1, 2, 5, 63, 64, 65, 129, 200])('matches the unblocked reference at n = %i', (n) => {
    const rng = new Rng(100 + n);
    const a = randomSpd(n, rng);
    const b = rng.normals(n);
    const x = choleskySolveSync(a, n, b);
    const ref = naiveCholeskySolve(a, n, b);
    expect(maxAbsDiff(x, ref) / maxAbs(ref)).toBeLessThan(1e-10);
  });

  test('the factor does not depend on the thread count (bitwise)', () => {
    const rng = new Rng(7);
    const n = 150;
    const a = randomSpd(n, rng);
    const b = rng.normals(n);
    expect(Array.from(choleskySolveSync(a, n, b, { threads: 1 }))).toEqual(Array.from(choleskySolveSync(a, n, b, { threads: 2 })));
  });

  test('reads only the lower triangle', () => {
    const rng = new Rng(8);
    const n = 70;
    const a = randomSpd(n, rng);
    const b = rng.normals(n);
    const junk = Float64Array.from(a);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) junk[i * n + j] = 1e6;
    expect(Array.from(choleskySolveSync(junk, n, b))).toEqual(Array.from(choleskySolveSync(a, n, b)));
  });

  test('a matrix that is not positive definite is a validation error', () => {
    const n = 80;
    const rng = new Rng(9);
    const g = rng.normals(n * 10); // rank 10
    const a = multiplyABt(g, g, n, n, 10);
    expectValidation(() => choleskySolveSync(a, n, new Float64Array(n)), 'a', /not positive definite/);
    const neg = new Float64Array([1, 2, 2, 1]);
    expectValidation(() => choleskySolveSync(neg, 2, new Float64Array(2)), 'a', /pivot 1/);
  });

  test('bad input names the field', () => {
    expectValidation(() => choleskySolveSync(new Float64Array(3), 2, new Float64Array(2)), 'a', /Expected 4 entries/);
    expectValidation(() => choleskySolveSync(new Float64Array([1, 0, 0, NaN]), 2, new Float64Array(2)), 'a[3]', /finite/);
    expectValidation(() => choleskySolveSync(new Float64Array([1, 0, 0, 1]), 2, new Float64Array(3)), 'b', /2 entries/);
    expectValidation(() => choleskySolveSync(new Float64Array([1, 0, 0, 1]), 2, new Float64Array([1, Infinity])), 'b[1]', /finite/);
    expectValidation(() => choleskySolveSync(new Float64Array(1), 0, new Float64Array(0)), 'n', /positive integer/);
    expectValidation(() => choleskySolveSync(new Float64Array([1]), 1, new Float64Array([1]), { threads: 3 }), 'threads', /threads/);
  });
});

describe('choleskySolve (async)', () => {
  test('gives the sync result and reports progress', async () => {
    const rng = new Rng(11);
    const n = 300;
    const a = randomSpd(n, rng);
    const b = rng.normals(n);
    const seen: number[] = [];
    const x = await choleskySolve(a, n, b, { onProgress: (p) => seen.push(p.done / p.total) });
    expect(Array.from(x)).toEqual(Array.from(choleskySolveSync(a, n, b)));
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
  });

  test('an aborted signal rejects with AbortError', async () => {
    const c = new AbortController();
    c.abort();
    await expect(choleskySolve(new Float64Array([1]), 1, new Float64Array([1]), { signal: c.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
