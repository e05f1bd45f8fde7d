/**
 * The accumulator against the naive sums; merge in any order; serialisation
 * round trip; thread-count identity; bad batches leave the state unchanged;
 * async add with progress and abort; whole directories with percentile clipping.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { AbortError, FormatError, ValidationError } from '../lib/errors';
import {
  InfluenceAccumulator,
  accumulateInfluence,
  gradientNormsSync,
  percentile,
  projectGradientsSync,
  type AccumulatorOptions,
} from '../lib/influence/accumulator';
import { writeGradientsDir } from '../lib/influence/shard-writer';
import { mergeAll, mergeStates, readState, writeStateAtomic, type InfluenceState } from '../lib/influence/state';
import { expectValidation } from './helpers/expect-errors';
import {
  expectBitIdentical,
  maxRelDiff,
  randomBf16Bits,
  randomClusters,
  randomF16Bits,
  randomF32,
  randomTargets,
  shuffled,
} from './helpers/influence-data';
import { naiveAccumulate, naiveClip, naiveMatrix, naiveProject, toNumbers, type NaiveState } from './reference/naive-influence';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-influence-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function expectStateClose(s: InfluenceState, want: NaiveState, tol: number): void {
  expect(Array.from(s.count)).toEqual(want.count);
  expect(s.targetCount).toBe(want.targetCount);
  expect(s.covCount).toBe(want.covCount);
  expect(maxRelDiff(s.sum, want.sum)).toBeLessThan(tol);
  expect(maxRelDiff(s.targetSum, want.targetSum)).toBeLessThan(tol);
  expect(maxRelDiff(s.cov, want.cov)).toBeLessThan(tol);
  // cov is exactly symmetric
  for (let i = 0; i < s.dim; i++) for (let j = 0; j < i; j++) expect(s.cov[i * s.dim + j]).toBe(s.cov[j * s.dim + i]);
}

describe('randomized equivalence with the naive accumulator', () => {
  const cases = [
    { kind: 'dense', D: 50, d: 7, K: 3, batches: [10, 1, 25], dtype: 'f32', clip: undefined, seed: 1 },
    { kind: 'rademacher', D: 200, d: 70, K: 5, batches: [300, 40], dtype: 'f16', clip: 8, seed: 2 },
    { kind: 'rademacher', D: 33, d: 33, K: 1, batches: [5], dtype: 'bf16', clip: 0.3, seed: 3 },
    { kind: 'dense', D: 129, d: 65, K: 4, batches: [7, 0, 9], dtype: 'f32', clip: 2, seed: 4 },
  ] as const;
  test.each(cases)('$kind D=$D d=$d K=$K batches=$batches $dtype clip=$clip', (c) => {
    const acc = new InfluenceAccumulator({ projection: { kind: c.kind, inputDim: c.D, dim: c.d, seed: 99 }, numClusters: c.K, clip: c.clip });
    const P = naiveMatrix(c.kind, 99n, c.D, c.d);
    const features: number[][] = [];
    const clusters: number[] = [];
    const targets: number[] = [];
    c.batches.forEach((n, bi) => {
      const grads = c.dtype === 'f32' ? randomF32(n * c.D, c.seed * 10 + bi) : c.dtype === 'f16' ? randomF16Bits(n * c.D, bi) : randomBf16Bits(n * c.D, bi);
      const cluster = randomClusters(n, c.K, bi + 7);
      const target = randomTargets(n, 0.2, bi + 8);
      acc.addSync({ grads, dtype: c.dtype, cluster, target });
      const g = toNumbers(grads, c.dtype);
      for (let e = 0; e < n; e++) features.push(naiveProject(naiveClip(g.slice(e * c.D, (e + 1) * c.D), c.clip ?? Infinity), P, c.d));
      clusters.push(...cluster);
      targets.push(...target);
    });
    const s = acc.state();
    expect(s.dim).toBe(c.d);
    expect(s.numClusters).toBe(c.K);
    expect(s.meta).toMatchObject({ projection: c.kind, seed: '99', inputDim: c.D, clip: c.clip ?? null, examples: features.length });
    expectStateClose(s, naiveAccumulate(features, clusters, targets, c.K), 1e-5);
  });

  test('kronecker: sums of the per-example features', () => {
    const projection = { kind: 'kronecker', inDim: 6, outDim: 5, inProj: 3, outProj: 2, seed: 4 } as const;
    const acc = new InfluenceAccumulator({ projection, numClusters: 2, clip: 1.5 });
    const T = 3;
    const n = 9;
    const activations = randomF32(n * T * 6, 1);
    const outGrads = randomF32(n * T * 5, 2);
    const cluster = randomClusters(n, 2, 3);
    const target = randomTargets(n, 0.3, 4);
    acc.addSync({ activations, outGrads, tokens: T, cluster, target });
    const f = projectGradientsSync(projection, { activations, outGrads, tokens: T }, { clip: 1.5 });
    const rows = Array.from({ length: n }, (_, e) => Array.from(f.subarray(e * 6, (e + 1) * 6)));
    expectStateClose(acc.state(), naiveAccumulate(rows, Array.from(cluster), Array.from(target), 2), 1e-12);
  });
});

function randomState(opts: AccumulatorOptions, n: number, seed: number): InfluenceState {
  const acc = new InfluenceAccumulator(opts);
  const p = opts.projection as { inputDim: number };
  acc.addSync({ grads: randomF32(n * p.inputDim, seed), cluster: randomClusters(n, opts.numClusters, seed), target: randomTargets(n, 0.25, seed) });
  return acc.state();
}

describe('merge and serialise', () => {
  const opts: AccumulatorOptions = { projection: { kind: 'rademacher', inputDim: 64, dim: 24, seed: 7 }, numClusters: 4, clip: 2 };

  test('merging shard states in any order gives the single-pass state within 1e-12', () => {
    const sizes = [3, 17, 1, 30, 8, 12];
    const acc = new InfluenceAccumulator(opts);
    const states = sizes.map((n, i) => {
      const grads = randomF32(n * 64, 100 + i);
      const cluster = randomClusters(n, 4, 200 + i);
      const target = randomTargets(n, 0.25, 300 + i);
      acc.addSync({ grads, cluster, target });
      const one = new InfluenceAccumulator(opts);
      one.addSync({ grads, cluster, target });
      return one.state();
    });
    const whole = acc.state();
    for (let perm = 0; perm < 8; perm++) {
      const order = shuffled(states, perm);
      // also a tree-shaped reduction
      const merged = perm % 2 ? mergeAll(order) : mergeStates(mergeAll(order.slice(0, 3)), mergeAll(order.slice(3)));
      expect(merged.meta.examples).toBe(whole.meta.examples);
      expect(merged.covCount).toBe(whole.covCount);
      expect(merged.targetCount).toBe(whole.targetCount);
      expect(Array.from(merged.count)).toEqual(Array.from(whole.count));
      for (const k of ['sum', 'targetSum', 'cov'] as const) expect(maxRelDiff(merged[k], whole[k])).toBeLessThan(1e-12);
    }
  });

  test('merge refuses states of different projections, seeds, clips or shapes, naming the field', () => {
    const a = randomState(opts, 5, 1);
    expectValidation(() => mergeStates(a, randomState({ ...opts, clip: 3 }, 5, 1)), 'meta.clip', /meta.clip/);
    expectValidation(() => mergeStates(a, randomState({ ...opts, projection: { kind: 'rademacher', inputDim: 64, dim: 24, seed: 8 } }, 5, 1)), 'meta.seed', /seed/);
    expectValidation(() => mergeStates(a, randomState({ ...opts, projection: { kind: 'dense', inputDim: 64, dim: 24, seed: 7 } }, 5, 1)), 'meta.projection', /projection/);
    expectValidation(() => mergeStates(a, randomState({ ...opts, numClusters: 5 }, 5, 1)), 'numClusters', /numClusters/);
    expectValidation(() => mergeStates(a, randomState({ ...opts, projection: { kind: 'rademacher', inputDim: 64, dim: 23, seed: 7 } }, 5, 1)), 'dim', /dim/);
    expectValidation(() => mergeAll([]), 'states', /at least one/);
  });

  test('safetensors round trip is exact; corrupt state files give FormatErrors', () => {
    const s = randomState({ ...opts, clipPercentile: 90 }, 20, 5);
    const file = path.join(tmp, 'state.safetensors');
    writeStateAtomic(file, s);
    const back = readState(file);
    expect(back.meta).toEqual(s.meta);
    for (const k of ['count', 'sum', 'targetSum', 'cov'] as const) expectBitIdentical(back[k], s[k]);
    expect([back.dim, back.numClusters, back.targetCount, back.covCount]).toEqual([s.dim, s.numClusters, s.targetCount, s.covCount]);
    const noClip = randomState({ projection: opts.projection, numClusters: 4 }, 3, 5);
    writeStateAtomic(file, noClip);
    expect(readState(file).meta.clip).toBeNull();

    const bytes = fs.readFileSync(file);
    const bad = path.join(tmp, 'bad-state.safetensors');
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 8));
    expect(() => readState(bad)).toThrow(FormatError);
    expect(() => readState(bad)).toThrow(/data_offsets.*run past the end/);
    const text = bytes.toString('latin1').replace('"numClusters":"4"', '"numClusters":"5"');
    fs.writeFileSync(bad, Buffer.from(text, 'latin1'));
    expect(() => readState(bad)).toThrow(/tensor `count` must be F64 of shape \[5\]/);
    const nan = { ...s, cov: s.cov.slice() };
    nan.cov[3] = NaN;
    expectValidation(() => writeStateAtomic(bad, nan), 'cov[3]', /not finite/);
  });
});

describe('thread count and failure atomicity', () => {
  test('1 and 2 threads give bit-identical states', () => {
    const states = [1, 2].map((threads) => {
      const acc = new InfluenceAccumulator({ projection: { kind: 'dense', inputDim: 300, dim: 130, seed: 3 }, numClusters: 3, clip: 4, threads });
      acc.addSync({ grads: randomF32(300 * 70, 1), cluster: randomClusters(70, 3, 2), target: randomTargets(70, 0.1, 3) });
      acc.addSync({ grads: randomF32(300 * 300, 4), cluster: randomClusters(300, 3, 5) });
      return acc.state();
    });
    for (const k of ['count', 'sum', 'targetSum', 'cov'] as const) expectBitIdentical(states[0][k], states[1][k]);
  });

  test('a bad batch leaves the state unchanged and names the field and example', () => {
    const acc = new InfluenceAccumulator({ projection: { kind: 'rademacher', inputDim: 10, dim: 4 }, numClusters: 3 });
    acc.addSync({ grads: randomF32(50, 1), cluster: [0, 1, 2, 0, 1] });
    const before = acc.state();
    const grads = randomF32(30, 2);
    grads[25] = Infinity;
    expectValidation(() => acc.addSync({ grads, cluster: [0, 0, 0] }), 'grads', /non-finite .*example 7 \(row 2 of the batch\)/);
    expectValidation(() => acc.addSync({ grads: randomF32(30, 3), cluster: [0, 3, 0] }), 'cluster[1]', /cluster\[1\] = 3 is out of range \[0, 3\)/);
    expectValidation(() => acc.addSync({ grads: randomF32(30, 3), cluster: [0, -1, 0] }), 'cluster[1]', /out of range/);
    expectValidation(() => acc.addSync({ grads: randomF32(30, 3), cluster: [0, 1] }), 'cluster', /2 entries but the batch has 3/);
    expectValidation(() => acc.addSync({ grads: randomF32(30, 3), cluster: [0, 1, 1], target: [0, 2, 0] }), 'target[1]', /target\[1\]/);
    expectValidation(() => acc.addSync({ grads: randomF32(30, 3), cluster: [0, 1, 1], target: [0, 0] }), 'target', /2 entries/);
    // the cluster id of a target row is ignored
    const after = acc.state();
    for (const k of ['count', 'sum', 'targetSum', 'cov'] as const) expectBitIdentical(after[k], before[k]);
    acc.addSync({ grads: randomF32(20, 4), cluster: [0, 99], target: [false, true] });
    expect(acc.state().targetCount).toBe(1);
  });

  test.each([
    [{ numClusters: 0 }, 'numClusters'],
    [{ clip: 0 }, 'clip'],
    [{ clip: -2 }, 'clip'],
    [{ clip: NaN }, 'clip'],
    [{ clipPercentile: 0 }, 'clipPercentile'],
    [{ clipPercentile: 100.5 }, 'clipPercentile'],
    [{ threads: 0 }, 'threads'],
  ])('bad options %j', (over, field) => {
    expectValidation(() => new InfluenceAccumulator({ projection: { kind: 'dense', inputDim: 10, dim: 4 }, numClusters: 2, ...over }), field, new RegExp(field));
  });

  test('percentile: linear interpolation, (0, 100]', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2], 25)).toBe(1.25);
    expect(percentile([7], 100)).toBe(7);
    expectValidation(() => percentile([1], 0), 'clipPercentile', /\(0, 100\]/);
    expectValidation(() => percentile([1], 101), 'clipPercentile', /\(0, 100\]/);
  });
});

describe('async add', () => {
  const opts: AccumulatorOptions = { projection: { kind: 'rademacher', inputDim: 256, dim: 64 }, numClusters: 2 };
  test('matches addSync, reports progress per row block, and an aborted batch changes nothing', async () => {
    const n = 1000;
    const batch = { grads: randomF32(n * 256, 1), cluster: randomClusters(n, 2, 2) };
    const sync = new InfluenceAccumulator(opts);
    sync.addSync(batch);
    const acc = new InfluenceAccumulator(opts);
    const seen: number[] = [];
    await acc.add(batch, { onProgress: (p) => seen.push(p.rowsDone) });
    expect(seen[seen.length - 1]).toBe(n);
    // reports may coalesce on a busy machine (the worker delivers the latest), but never go back
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expectBitIdentical(acc.state().cov, sync.state().cov);

    const ac = new AbortController();
    ac.abort();
    await expect(acc.add(batch, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expectBitIdentical(acc.state().cov, sync.state().cov);
    expect(acc.state().meta.examples).toBe(n);

    // Aborting mid-batch: progress reaches JS asynchronously, so on a busy machine the
    // batch may already be done when abort() lands. Either the batch is rejected and
    // leaves no trace, or it completed whole; never anything in between.
    const ac2 = new AbortController();
    const outcome = await acc.add(batch, { signal: ac2.signal, onProgress: () => ac2.abort() }).then(
      () => 'done',
      (e: unknown) => e,
    );
    if (outcome === 'done') {
      const twice = new InfluenceAccumulator(opts);
      twice.addSync(batch);
      twice.addSync(batch);
      expectBitIdentical(acc.state().cov, twice.state().cov);
      expect(acc.state().meta.examples).toBe(2 * n);
    } else {
      expect(outcome).toBeInstanceOf(AbortError);
      expectBitIdentical(acc.state().cov, sync.state().cov);
      expect(acc.state().meta.examples).toBe(n);
    }
  });

  test('a second add while one runs is refused', async () => {
    const acc = new InfluenceAccumulator(opts);
    const batch = { grads: randomF32(500 * 256, 1), cluster: randomClusters(500, 2, 2) };
    const first = acc.add(batch);
    expect(() => acc.addSync(batch)).toThrow(/busy/);
    await first;
    expect(acc.state().meta.examples).toBe(500);
  });
});

describe('accumulateInfluence over gradient directories', () => {
  test('percentile clipping over safetensors and npy shards equals the naive two-pass computation', async () => {
    const D = 40;
    const K = 3;
    const dir = path.join(tmp, 'grads');
    const tdir = path.join(tmp, 'targets');
    const shards = [
      { grads: randomF32(13 * D, 1), dtype: 'f32', cluster: randomClusters(13, K, 1), format: 'safetensors' },
      { grads: randomF16Bits(7 * D, 2), dtype: 'f16', cluster: BigInt64Array.from(randomClusters(7, K, 2), BigInt), target: randomTargets(7, 0.3, 2), format: 'npy' },
      { grads: randomBf16Bits(9 * D, 3), dtype: 'bf16', cluster: randomClusters(9, K, 3), target: randomTargets(9, 0.3, 3), format: 'safetensors' },
      { grads: randomBf16Bits(4 * D, 4), dtype: 'bf16', cluster: randomClusters(4, K, 4), format: 'npy' },
    ] as const;
    writeGradientsDir(dir, D, K, shards);
    const tgrads = randomF32(5 * D, 9);
    writeGradientsDir(tdir, D, K, [{ grads: tgrads, dtype: 'f32', cluster: new Int32Array(5).fill(-1) }]);
    const progress: string[] = [];
    const s = await accumulateInfluence(dir, tdir, {
      projection: 'dense',
      dim: 6,
      seed: 11,
      clipPercentile: 60,
      blockRows: 4,
      onProgress: (p) => progress.push(p.phase),
    });
    expect(progress).toContain('norms');
    expect(progress[progress.length - 1]).toBe('accumulate');
    // naive: decode all rows, t = 60th percentile of all norms, clip, project, sum
    const rows: number[][] = [];
    const clusters: number[] = [];
    const targets: number[] = [];
    for (const sh of shards) {
      const g = toNumbers(sh.grads, sh.dtype);
      const n = g.length / D;
      for (let e = 0; e < n; e++) rows.push(g.slice(e * D, (e + 1) * D));
      clusters.push(...Array.from(sh.cluster, Number));
      targets.push(...('target' in sh ? Array.from(sh.target) : new Array(n).fill(0)));
    }
    const tg = toNumbers(tgrads, 'f32');
    for (let e = 0; e < 5; e++) {
      rows.push(tg.slice(e * D, (e + 1) * D));
      clusters.push(0);
      targets.push(1);
    }
    const t = percentile(rows.map((g) => Math.sqrt(g.reduce((a, x) => a + x * x, 0))), 60);
    expect(s.meta.clip).toBeCloseTo(t, 12);
    expect(s.meta.clipPercentile).toBe(60);
    const P = naiveMatrix('dense', 11n, D, 6);
    expectStateClose(s, naiveAccumulate(rows.map((g) => naiveProject(naiveClip(g, t), P, 6)), clusters, targets, K), 1e-5);
  });

  test('a non-finite value in a shard names the file and the example', async () => {
    const dir = path.join(tmp, 'nan');
    const grads = randomF32(6 * 8, 1);
    grads[8 * 4 + 3] = NaN;
    writeGradientsDir(dir, 8, 2, [{ grads: randomF32(16, 2), dtype: 'f32', cluster: new Int32Array(2) }, { grads, dtype: 'f32', cluster: new Int32Array(6) }]);
    let caught: unknown;
    try {
      await accumulateInfluence(dir, undefined, { dim: 4 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as Error).message).toMatch(/shard-00001\.safetensors.*non-finite .*example 6 \(row 4 of the batch\)/);
    await expect(accumulateInfluence(dir, undefined, { dim: 9 })).rejects.toThrow(/projection.dim/);
    await expect(accumulateInfluence(dir, undefined, { dim: 4, clip: 1, clipPercentile: 5 })).rejects.toThrow(/clipPercentile/);
  });

  test('norms pass agrees with gradientNormsSync', () => {
    const g = randomF32(30, 3);
    const n = gradientNormsSync({ kind: 'dense', inputDim: 10, dim: 2 }, { grads: g });
    expect(n[2]).toBeCloseTo(Math.sqrt(Array.from(g.subarray(20)).reduce((a, x) => a + x * x, 0)), 12);
  });
});
