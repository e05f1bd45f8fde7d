/** Householder + implicit QL eigendecomposition vs cyclic Jacobi. */
import { symmetricEigen, symmetricEigenSync } from '../lib/analysis/linalg';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { Rng, jacobiEigen, maxAbs, maxAbsDiff, multiplyABt, randomOrthogonal } from './reference/linalg-reference';

function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  return a;
}

function checkDecomposition(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array, tol: number): void {
  const scale = Math.max(1, maxAbs(values));
  for (let i = 0; i < n; i++) {
    const v = vectors.subarray(i * n, (i + 1) * n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += a[r * n + c] * v[c];
      expect(Math.abs(s - values[i] * v[r])).toBeLessThan(tol * scale);
    }
  }
  const gram = multiplyABt(vectors, vectors, n, n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(gram[i * n + j] - (i === j ? 1 : 0))).toBeLessThan(tol);
}

describe('symmetricEigenSync', () => {
  test.each([1, 2, 3, 10, 33, 64])('matches Jacobi on a random symmetric matrix, n = %i', (n) => {
    const rng = new Rng(200 + n);
    const a = randomSymmetric(n, rng);
    const e = symmetricEigenSync(a, n);
    const ref = jacobiEigen(a, n);
    expect(maxAbsDiff(e.values, ref.values) / Math.max(1, maxAbs(ref.values))).toBeLessThan(1e-11);
    for (let i = 1; i < n; i++) expect(e.values[i]).toBeGreaterThanOrEqual(e.values[i - 1]);
    checkDecomposition(a, n, e.values, e.vectors as Float64Array, 1e-10);
  });

  test('repeated and zero eigenvalues (a rank-deficient projector-like matrix)', () => {
    const n = 40;
    const rng = new Rng(5);
    const q = randomOrthogonal(n, rng);
    const lambda = Array.from({ length: n }, (_, i) => (i < 15 ? 0 : i < 30 ? 2 : 7));
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += q[k * n + i] * lambda[k] * q[k * n + j];
        a[i * n + j] = s;
      }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j];
    const e = symmetricEigenSync(a, n);
    const sorted = [...lambda].sort((x, y) => x - y);
    expect(maxAbsDiff(e.values, sorted)).toBeLessThan(1e-12 * 7 * n);
    checkDecomposition(a, n, e.values, e.vectors as Float64Array, 1e-10);
  });

  test('diagonal and already-tridiagonal inputs', () => {
    const d = new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]);
    expect(Array.from(symmetricEigenSync(d, 3).values)).toEqual([-1, 2, 3]);
    const t = new Float64Array([2, -1, 0, -1, 2, -1, 0, -1, 2]);
    const e = symmetricEigenSync(t, 3);
    const exact = [2 - Math.SQRT2, 2, 2 + Math.SQRT2];
    expect(maxAbsDiff(e.values, exact)).toBeLessThan(1e-14);
  });

  test('values only, and results do not depend on the thread count', () => {
    const n = 90;
    const a = randomSymmetric(n, new Rng(3));
    const one = symmetricEigenSync(a, n, { threads: 1 });
    const two = symmetricEigenSync(a, n, { threads: 2 });
    expect(Array.from(one.values)).toEqual(Array.from(two.values));
    expect(Array.from(one.vectors as Float64Array)).toEqual(Array.from(two.vectors as Float64Array));
    const valuesOnly = symmetricEigenSync(a, n, { vectors: false });
    expect(valuesOnly.vectors).toBeUndefined();
    expect(maxAbsDiff(valuesOnly.values, one.values)).toBeLessThan(1e-12 * maxAbs(one.values));
  });

  test('bad input names the field', () => {
    expectValidation(() => symmetricEigenSync(new Float64Array(5), 2), 'a', /Expected 4 entries/);
    expectValidation(() => symmetricEigenSync(new Float64Array([1, NaN, NaN, 1]), 2), 'a[1]', /finite/);
    expectValidation(() => symmetricEigenSync(new Float64Array([1]), 1.5), 'n', /positive integer/);
  });
});

describe('symmetricEigen (async)', () => {
  test('gives the sync result with progress; abort rejects', async () => {
    const n = 120;
    const a = randomSymmetric(n, new Rng(4));
    let calls = 0;
    const e = await symmetricEigen(a, n, { onProgress: () => calls++ });
    expect(Array.from(e.values)).toEqual(Array.from(symmetricEigenSync(a, n).values));
    expect(calls).toBeGreaterThan(0);
    const c = new AbortController();
    const p = symmetricEigen(randomSymmetric(600, new Rng(1)), 600, { signal: c.signal });
    c.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
  });
});
