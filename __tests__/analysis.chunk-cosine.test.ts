/** Chunk cosine (mixture fidelity) vs the definition; properties; heatmap; bad input. */
import { chunkCosine, chunkCosineSync } from '../lib/analysis/chunk-cosine';
import { cosineHeatmapSpec, renderCosineHeatmap } from '../lib/analysis/heatmap';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { Rng, maxAbsDiff, naiveChunkCosine } from './reference/linalg-reference';

function randomOrder(n: number, length: number, rng: Rng): Uint32Array {
  return Uint32Array.from({ length }, () => rng.int(n));
}

describe('chunkCosineSync', () => {
  test.each([
    [50, 8, 50, 5],
    [30, 3, 100, 7], // repeated examples, uneven chunks
    [20, 16, 20, 20], // one example per chunk
    [10, 4, 10, 1],
  ])('matches the definition (n=%i, d=%i, length=%i, k=%i)', (n, d, length, k) => {
    const rng = new Rng(n * 7 + k);
    const feats = rng.normals(n * d).map((x, i) => x + (i % d === 0 ? 3 : 0)); // a shared direction
    const order = randomOrder(n, length, rng);
    const r = chunkCosineSync(order, { data: feats, rows: n, cols: d }, k);
    const ref = naiveChunkCosine(order, feats, d, k);
    expect(maxAbsDiff(r.cosine, ref)).toBeLessThan(1e-12);
    // symmetric with unit diagonal, entries in [-1, 1]
    for (let a = 0; a < k; a++) {
      expect(r.cosine[a * k + a]).toBe(1);
      for (let b = 0; b < k; b++) {
        expect(r.cosine[a * k + b]).toBe(r.cosine[b * k + a]);
        expect(Math.abs(r.cosine[a * k + b])).toBeLessThanOrEqual(1);
      }
    }
    expect(r.boundaries[0]).toBe(0);
    expect(r.boundaries[k]).toBe(length);
    expect(r.minOffDiagonal).toBeLessThanOrEqual(r.maxOffDiagonal);
  });

  test('float32 features, BigUint64Array order, and thread independence', () => {
    const rng = new Rng(3);
    const n = 40;
    const d = 6;
    const feats = Float32Array.from(rng.normals(n * d));
    const order = randomOrder(n, 80, rng);
    const a = chunkCosineSync(order, { data: feats, rows: n, cols: d }, 6, { threads: 1 });
    const b = chunkCosineSync(BigUint64Array.from(order, (x) => BigInt(x)), { data: feats, rows: n, cols: d }, 6, { threads: 2 });
    expect(Array.from(b.cosine)).toEqual(Array.from(a.cosine));
    expect(maxAbsDiff(a.cosine, naiveChunkCosine(order, feats, d, 6))).toBeLessThan(1e-12);
  });

  test('identical chunks have cosine 1 everywhere', () => {
    const feats = Float64Array.from([1, 2, 3, -1, 0, 1]);
    const order = Uint32Array.from([0, 1, 1, 0, 0, 1]);
    const r = chunkCosineSync(order, { data: feats, rows: 2, cols: 3 }, 3);
    for (const x of r.cosine) expect(x).toBeCloseTo(1, 14);
  });

  test('bad input names the field', () => {
    const f = { data: new Float64Array([1, 0, 0, 1]), rows: 2, cols: 2 };
    const order = Uint32Array.from([0, 1, 1]);
    expectValidation(() => chunkCosineSync(order, f, 4), 'chunks', /<= 3/);
    expectValidation(() => chunkCosineSync(order, f, 0), 'chunks', /positive integer/);
    expectValidation(() => chunkCosineSync(Uint32Array.from([0, 2]), f, 1), 'order[1]', /< 2/);
    expectValidation(() => chunkCosineSync(new Uint32Array(0), f, 1), 'order', /non-empty/);
    expectValidation(() => chunkCosineSync([0, 1] as never, f, 1), 'order', /Uint32Array/);
    expectValidation(() => chunkCosineSync(order, { ...f, data: new Float64Array(3) }, 1), 'features.data', /Expected 4 entries/);
    expectValidation(() => chunkCosineSync(order, { ...f, data: new Float64Array([1, 0, NaN, 1]) }, 1), 'features.data[2]', /finite/);
    expectValidation(() => chunkCosineSync(order, { ...f, cols: 0 }, 1), 'features.cols', /positive integer/);
    const zero = { data: new Float64Array([1, 1, 0, 0]), rows: 2, cols: 2 };
    expectValidation(() => chunkCosineSync(Uint32Array.from([0, 1]), zero, 2), 'features', /chunk 1 is zero/);
  });
});

describe('chunkCosine (async) and the heatmap', () => {
  test('async equals sync; abort rejects; the heatmap renders as SVG rects', async () => {
    const rng = new Rng(11);
    const feats = rng.normals(30 * 4);
    const order = randomOrder(30, 60, rng);
    const sync = chunkCosineSync(order, { data: feats, rows: 30, cols: 4 }, 5);
    const r = await chunkCosine(order, { data: feats, rows: 30, cols: 4 }, 5);
    expect(Array.from(r.cosine)).toEqual(Array.from(sync.cosine));
    const c = new AbortController();
    c.abort();
    await expect(chunkCosine(order, { data: feats, rows: 30, cols: 4 }, 5, { signal: c.signal })).rejects.toBeInstanceOf(AbortError);
    const spec = cosineHeatmapSpec(r.cosine, 5) as { mark: string; data: { values: unknown[] } };
    expect(spec.mark).toBe('rect');
    expect(spec.data.values).toHaveLength(25);
    const svg = await renderCosineHeatmap(r.cosine, 5);
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/<path/g) ?? []).length).toBeGreaterThanOrEqual(25);
  });
});
