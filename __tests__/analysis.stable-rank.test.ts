/** Stable rank vs matrices with known singular values and vs a one-sided Jacobi SVD. */
import { stableRank, stableRankSync, summariseLayers, type GradientMatrix } from '../lib/analysis/stable-rank';
import { AbortError, CurriculaError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { Rng, jacobiSingularValues, matrixWithSingularValues } from './reference/linalg-reference';

function exactSrank(sigma: number[]): number {
  return sigma.reduce((a, s) => a + s * s, 0) / Math.max(...sigma) ** 2;
}

describe('stableRankSync', () => {
  test.each([
    [20, 30, [5, 4, 3, 2, 1]],
    [30, 12, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], // srank = rank: all equal
    [16, 16, [10, 0.1, 0.1]], // close to rank one
    [25, 40, [3, 2.999, 2.998, 1, 0.5]], // a tiny gap at the top
  ])('equals Σσ²/σ₁² for M = U diag(σ) Vᵀ (%i×%i)', (rows, cols, sigma) => {
    const m = matrixWithSingularValues(sigma, rows, cols, new Rng(rows * cols));
    const r = stableRankSync([{ data: m, rows, cols }], { tol: 1e-10 });
    const exact = exactSrank(sigma);
    expect(Math.abs(r.ranks[0].srank - exact) / exact).toBeLessThan(1e-8);
    expect(Math.abs(r.ranks[0].spectral2 - sigma[0] ** 2) / sigma[0] ** 2).toBeLessThan(1e-9);
    expect(r.ranks[0].converged).toBe(true);
  });

  test('matches the Jacobi SVD on random float64 and float32 matrices; srank lies in [1, rank]', () => {
    const rng = new Rng(42);
    const shapes: [number, number][] = [[10, 50], [50, 10], [33, 33], [1, 20], [20, 1], [64, 7]];
    const matrices: GradientMatrix[] = shapes.map(([r, c], i) => {
      const d = rng.normals(r * c);
      return { data: i % 2 ? Float32Array.from(d) : d, rows: r, cols: c, layer: `layer${i % 3}` };
    });
    const out = stableRankSync(matrices, { tol: 1e-9 });
    matrices.forEach((m, i) => {
      const s = jacobiSingularValues(m.data, m.rows, m.cols);
      const exact = exactSrank(Array.from(s));
      expect(Math.abs(out.ranks[i].srank - exact) / exact).toBeLessThan(1e-7);
      expect(out.ranks[i].srank).toBeGreaterThanOrEqual(1 - 1e-12);
      expect(out.ranks[i].srank).toBeLessThanOrEqual(Math.min(m.rows, m.cols) * (1 + 1e-12));
      expect(out.ranks[i].layer).toBe(`layer${i % 3}`);
    });
    expect(out.layers.map((l) => l.layer)).toEqual(['layer0', 'layer1', 'layer2']);
    const l0 = [0, 3].map((i) => out.ranks[i].srank);
    expect(out.layers[0]).toEqual({ layer: 'layer0', matrices: 2, min: Math.min(...l0), mean: (l0[0] + l0[1]) / 2, max: Math.max(...l0) });
  });

  test('rank-one matrices have srank 1', () => {
    const u = [1, -2, 3];
    const v = [0.5, 1, 0, 2];
    const data = Float64Array.from(u.flatMap((a) => v.map((b) => a * b)));
    expect(stableRankSync([{ data, rows: 3, cols: 4 }]).ranks[0].srank).toBeCloseTo(1, 12);
  });

  test('results do not depend on the thread count, single matrix or batch', () => {
    const rng = new Rng(9);
    const batch = Array.from({ length: 5 }, () => ({ data: rng.normals(40 * 60), rows: 40, cols: 60 }));
    const one = stableRankSync(batch, { threads: 1 }).ranks.map((r) => r.srank);
    const two = stableRankSync(batch, { threads: 2 }).ranks.map((r) => r.srank);
    expect(two).toEqual(one);
    const single1 = stableRankSync([batch[0]], { threads: 1 }).ranks[0].srank;
    const single2 = stableRankSync([batch[0]], { threads: 2 }).ranks[0].srank;
    expect(single2).toBe(single1);
    expect(single1).toBe(one[0]); // matrix 0 draws the same start vector alone or in a batch
  });

  test('a tolerance too tight for maxIterations is reported, not hidden', () => {
    const rng = new Rng(3);
    const data = rng.normals(60 * 80);
    let caught: unknown;
    try {
      stableRankSync([{ data, rows: 60, cols: 80 }], { tol: 1e-14, maxIterations: 3 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CurriculaError);
    expect((caught as CurriculaError).code).toBe('ERR_CURRICULA_NO_CONVERGENCE');
    expect((caught as Error).message).toMatch(/matrices\[0\]/);
  });

  test('bad input names the field', () => {
    const ok = { data: new Float64Array([1, 2, 3, 4]), rows: 2, cols: 2 };
    expectValidation(() => stableRankSync([ok], { tol: 0 }), 'tol', /tol/);
    expectValidation(() => stableRankSync([ok], { tol: -1 }), 'tol', /tol/);
    expectValidation(() => stableRankSync([ok], { maxIterations: 0 }), 'maxIterations', /maxIterations/);
    expectValidation(() => stableRankSync([]), 'matrices', /non-empty/);
    expectValidation(() => stableRankSync([ok, { ...ok, data: new Float64Array(3) }]), 'matrices[1].data', /Expected 4 entries/);
    expectValidation(() => stableRankSync([{ ...ok, rows: 0 }]), 'matrices[0].rows', /positive integer/);
    expectValidation(() => stableRankSync([{ ...ok, data: new Float32Array([1, NaN, 0, 0]) }]), 'matrices[0].data[1]', /finite/);
    expectValidation(() => stableRankSync([ok, { ...ok, data: new Float64Array(4) }]), 'matrices[1]', /all zeros/);
    expectValidation(() => stableRankSync([{ ...ok, data: [1, 2, 3, 4] as never }]), 'matrices[0].data', /Float32Array or Float64Array/);
  });

  test('summariseLayers keeps first-appearance order', () => {
    const s = summariseLayers([{ layer: 'b', srank: 2 }, { layer: 'a', srank: 1 }, { layer: 'b', srank: 4 }]);
    expect(s).toEqual([
      { layer: 'b', matrices: 2, min: 2, mean: 3, max: 4 },
      { layer: 'a', matrices: 1, min: 1, mean: 1, max: 1 },
    ]);
  });
});

describe('stableRank (async)', () => {
  test('equals the sync result with progress; abort rejects', async () => {
    const rng = new Rng(5);
    const batch = Array.from({ length: 6 }, () => ({ data: Float32Array.from(rng.normals(30 * 50)), rows: 30, cols: 50 }));
    const seen: number[] = [];
    const r = await stableRank(batch, { onProgress: (p) => seen.push(p.done) });
    expect(r.ranks.map((x) => x.srank)).toEqual(stableRankSync(batch).ranks.map((x) => x.srank));
    expect(seen.length).toBeGreaterThan(0);
    const c = new AbortController();
    c.abort();
    await expect(stableRank(batch, { signal: c.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
