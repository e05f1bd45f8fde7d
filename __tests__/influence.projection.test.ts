/**
 * sgemm and the seeded projections against naive double references; thread
 * count never changes a bit; Kronecker features equal the dense projection of
 * the explicit per-example gradient.
 */
import { binding } from '../lib/binding';
import { gradientNormsSync, projectGradientsSync } from '../lib/influence/accumulator';
import { expectValidation } from './helpers/expect-errors';
import { expectBitIdentical, maxRelDiff, randomBf16Bits, randomF16Bits, randomF32 } from './helpers/influence-data';
import {
  bf16ToNumber,
  denseElement,
  halfToNumber,
  kroneckerInElement,
  kroneckerOutElement,
  naiveClip,
  naiveKronecker,
  naiveMatrix,
  naiveProject,
  rademacherElement,
  toNumbers,
} from './reference/naive-influence';

function naiveGemm(M: number, N: number, K: number, A: Float32Array, B: Float32Array): { c: Float64Array; bound: Float64Array } {
  const c = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      for (let j = 0; j < N; j++) {
        c[i * N + j] += a * B[k * N + j];
        bound[i * N + j] += Math.abs(a * B[k * N + j]);
      }
    }
  return { c, bound };
}

describe('sgemm', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [6, 16, 256], [7, 17, 257], [13, 33, 600], [100, 40, 3], [97, 530, 20], [200, 1030, 9], [5, 3, 1000],
  ];
  test.each(shapes)('M=%i N=%i K=%i matches the double reference within float accumulation error', (M, N, K) => {
    const A = randomF32(M * K, M * 7 + K);
    const B = randomF32(K * N, N * 13 + K);
    const C = binding().sgemm(M, N, K, A, B, 2);
    const { c, bound } = naiveGemm(M, N, K, A, B);
    // float accumulation: error grows with K; 2K eps of the absolute sum is a safe bound
    let worst = 0;
    for (let i = 0; i < M * N; i++) worst = Math.max(worst, Math.abs(C[i] - c[i]) / (2 * K * 2 ** -24 * bound[i] + 1e-30));
    expect(worst).toBeLessThanOrEqual(1);
  });

  test.each(shapes)('M=%i N=%i K=%i: 1, 2 and 3 threads give bit-identical results', (M, N, K) => {
    const A = randomF32(M * K, 3 * M + K);
    const B = randomF32(K * N, 5 * N + K);
    const c1 = binding().sgemm(M, N, K, A, B, 1);
    expectBitIdentical(binding().sgemm(M, N, K, A, B, 2), c1);
    expectBitIdentical(binding().sgemm(M, N, K, A, B, 3), c1);
  });

  test('K = 0 gives zeros, bad lengths are refused', () => {
    expect(Array.from(binding().sgemm(2, 3, 0, new Float32Array(0), new Float32Array(0), 1))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => binding().sgemm(2, 3, 4, new Float32Array(7), new Float32Array(12), 1)).toThrow(/`A`/);
  });
});

describe('projection elements are pure functions of (seed, row, col)', () => {
  const seeds = [0n, 1n, 12345678901234567n, 2n ** 64n - 1n];
  test('rademacher: exactly the reference, +-1/sqrt(d), about half negative', () => {
    let neg = 0;
    let total = 0;
    for (const seed of seeds)
      for (let r = 0; r < 20; r++)
        for (let c = 0; c < 150; c += 7) {
          const v = binding().influenceProjectionElement('rademacher', seed, r, c, 150);
          expect(v).toBe(rademacherElement(seed, r, c, 150));
          expect(Math.abs(v)).toBe(Math.fround(1 / Math.sqrt(150)));
          neg += v < 0 ? 1 : 0;
          total++;
        }
    expect(neg / total).toBeGreaterThan(0.4);
    expect(neg / total).toBeLessThan(0.6);
  });

  test('dense and kronecker factors: the reference within one float ulp (libm log/cos may differ in the last bit)', () => {
    for (const seed of seeds)
      for (let r = 0; r < 10; r++)
        for (let c = 0; c < 40; c += 3) {
          for (const [kind, ref] of [
            ['dense', denseElement],
            ['kronecker-in', kroneckerInElement],
            ['kronecker-out', kroneckerOutElement],
          ] as const) {
            const v = binding().influenceProjectionElement(kind, seed, r, c, 40);
            const want = ref(seed, r, c, 40);
            expect(Math.abs(v - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23);
          }
        }
    // the two Kronecker factors and the dense matrix are different streams
    expect(binding().influenceProjectionElement('kronecker-in', 3n, 1, 1, 4)).not.toBe(binding().influenceProjectionElement('kronecker-out', 3n, 1, 1, 4));
  });

  test('scaling by 1/sqrt(d): E|Pg|^2 = |g|^2 (average over many seeds)', () => {
    const D = 64;
    const d = 32;
    const g = randomF32(D, 9);
    const g2 = Array.from(g).reduce((a, x) => a + x * x, 0);
    for (const kind of ['dense', 'rademacher'] as const) {
      let mean = 0;
      const seedsN = 200;
      for (let s = 0; s < seedsN; s++) {
        const f = projectGradientsSync({ kind, inputDim: D, dim: d, seed: s }, { grads: g });
        mean += f.reduce((a, x) => a + x * x, 0) / seedsN;
      }
      // |Pg|^2 / |g|^2 has std about sqrt(2/d) = 0.25 per seed; 0.25 / sqrt(200) = 0.018
      expect(Math.abs(mean / g2 - 1)).toBeLessThan(0.08);
    }
  });
});

describe('dense and rademacher features vs the naive double projection', () => {
  const cases = [
    { kind: 'dense', D: 70, d: 9, n: 11, dtype: 'f32', clip: Infinity },
    { kind: 'rademacher', D: 300, d: 70, n: 7, dtype: 'f32', clip: 3 },
    { kind: 'rademacher', D: 129, d: 129, n: 300, dtype: 'f16', clip: 5 },
    { kind: 'dense', D: 257, d: 33, n: 5, dtype: 'bf16', clip: 0.5 },
    { kind: 'rademacher', D: 40, d: 1, n: 3, dtype: 'bf16', clip: Infinity },
  ] as const;
  test.each(cases)('$kind D=$D d=$d n=$n $dtype clip=$clip', ({ kind, D, d, n, dtype, clip }) => {
    const seed = 77n;
    const grads = dtype === 'f32' ? randomF32(n * D, D + n) : dtype === 'f16' ? randomF16Bits(n * D, D) : randomBf16Bits(n * D, D);
    const proj = { kind, inputDim: D, dim: d, seed } as const;
    const f = projectGradientsSync(proj, { grads, dtype }, { clip: Number.isFinite(clip) ? clip : undefined, threads: 2 });
    const P = naiveMatrix(kind, seed, D, d);
    const g = toNumbers(grads, dtype);
    const want: number[] = [];
    for (let e = 0; e < n; e++) want.push(...naiveProject(naiveClip(g.slice(e * D, (e + 1) * D), clip), P, d));
    expect(maxRelDiff(f, want)).toBeLessThan(1e-5);
    // one thread: bit-identical
    expectBitIdentical(projectGradientsSync(proj, { grads, dtype }, { clip: Number.isFinite(clip) ? clip : undefined, threads: 1 }), f);
  });

  test('norms are the double L2 norms of the decoded rows', () => {
    const D = 50;
    const grads = randomF16Bits(4 * D, 1);
    const norms = gradientNormsSync({ kind: 'dense', inputDim: D, dim: 5 }, { grads, dtype: 'f16' });
    const g = Array.from(grads, halfToNumber);
    for (let e = 0; e < 4; e++) {
      const want = Math.sqrt(g.slice(e * D, (e + 1) * D).reduce((a, x) => a + x * x, 0));
      expect(norms[e]).toBeCloseTo(want, 12);
    }
    expect(bf16ToNumber(0x3f80)).toBe(1);
  });
});

describe('kronecker projection', () => {
  test.each([
    { T: 1, inDim: 5, outDim: 4, inProj: 3, outProj: 2, n: 3, clip: Infinity },
    { T: 4, inDim: 9, outDim: 7, inProj: 4, outProj: 5, n: 4, clip: 0.7 },
    { T: 3, inDim: 20, outDim: 18, inProj: 20, outProj: 1, n: 2, clip: 2 },
  ])('T=$T in=$inDim out=$outDim -> $outProj x $inProj, clip $clip: equals the projection of the explicit gradient', (c) => {
    const seed = 5n;
    const A = randomF32(c.n * c.T * c.inDim, 1 + c.T);
    const G = randomF32(c.n * c.T * c.outDim, 2 + c.T);
    const proj = { kind: 'kronecker', inDim: c.inDim, outDim: c.outDim, inProj: c.inProj, outProj: c.outProj, seed } as const;
    const clip = Number.isFinite(c.clip) ? c.clip : undefined;
    const f = projectGradientsSync(proj, { activations: A, outGrads: G, tokens: c.T }, { clip });
    const d = c.inProj * c.outProj;
    const want: number[] = [];
    for (let e = 0; e < c.n; e++) {
      const a = Array.from(A.subarray(e * c.T * c.inDim, (e + 1) * c.T * c.inDim));
      const g = Array.from(G.subarray(e * c.T * c.outDim, (e + 1) * c.T * c.outDim));
      want.push(...naiveKronecker(a, g, c.T, c.inDim, c.outDim, c.inProj, c.outProj, seed, c.clip));
    }
    expect(f.length).toBe(c.n * d);
    expect(maxRelDiff(f, want)).toBeLessThan(1e-5);
    expectBitIdentical(projectGradientsSync(proj, { activations: A, outGrads: G, tokens: c.T }, { clip, threads: 1 }), f);
    // norm without forming the gradient == Frobenius norm of sum_t g_t a_t^T
    const norms = gradientNormsSync(proj, { activations: A, outGrads: G, tokens: c.T });
    for (let e = 0; e < c.n; e++) {
      let s = 0;
      for (let o = 0; o < c.outDim; o++)
        for (let i = 0; i < c.inDim; i++) {
          let w = 0;
          for (let t = 0; t < c.T; t++) w += G[(e * c.T + t) * c.outDim + o] * A[(e * c.T + t) * c.inDim + i];
          s += w * w;
        }
      expect(norms[e]).toBeCloseTo(Math.sqrt(s), 10);
    }
  });
});

describe('bad projections and batches name the field', () => {
  const grads = randomF32(20, 1);
  test.each([
    [{ kind: 'dense', inputDim: 10, dim: 0 }, 'dim', /dim/],
    [{ kind: 'dense', inputDim: 10, dim: -3 }, 'dim', /dim/],
    [{ kind: 'dense', inputDim: 10, dim: 11 }, 'projection.dim', /<= inputDim = 10/],
    [{ kind: 'rademacher', inputDim: 10, dim: 2.5 }, 'dim', /dim/],
    [{ kind: 'kronecker', inDim: 4, outDim: 4, inProj: 5, outProj: 1 }, 'projection.inProj', /inProj/],
    [{ kind: 'gaussian', inputDim: 10, dim: 2 }, 'kind', /kind/],
    [{ kind: 'dense', inputDim: 10, dim: 2, seed: -1 }, 'seed', /seed/],
  ])('%j', (proj, field, msg) => {
    expectValidation(() => projectGradientsSync(proj as never, { grads }), field, msg);
  });

  test('wrong dtype, length, clip and non-finite values', () => {
    const p = { kind: 'dense', inputDim: 10, dim: 2 } as const;
    expectValidation(() => projectGradientsSync(p, { grads: new Uint16Array(20) }), 'dtype', /dtype/);
    expectValidation(() => projectGradientsSync(p, { grads: new Float32Array(20), dtype: 'f16' }), 'grads', /Uint16Array/);
    expectValidation(() => projectGradientsSync(p, { grads: new Float64Array(20) as never }), 'dtype', /dtype/);
    expectValidation(() => projectGradientsSync(p, { grads: new Float32Array(21) }), 'grads', /multiple of .*inputDim = 10/);
    expectValidation(() => projectGradientsSync(p, { grads }, { clip: 0 }), 'clip', /clip/);
    expectValidation(() => projectGradientsSync(p, { grads }, { clip: -1 }), 'clip', /clip/);
    const bad = grads.slice();
    bad[13] = NaN;
    expectValidation(() => projectGradientsSync(p, { grads: bad }), 'grads', /non-finite .*example 1\b/);
    const inf = new Uint16Array(20).fill(0x3c00);
    inf[5] = 0x7c00; // f16 +inf
    expectValidation(() => gradientNormsSync(p, { grads: inf, dtype: 'f16' }), 'grads', /non-finite .*example 0\b/);
  });
});
