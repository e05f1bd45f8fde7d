/**
 * Every CUDA twin against its CPU twin on seeded random inputs. Needs the CUDA
 * build (`npm run build:cuda`) and a GPU; otherwise the whole file is skipped
 * and the reason logged. scripts/gpu-suite.sh runs it on a GPU machine.
 *
 * Tolerances: projections are FP32 GEMMs on both sides with different
 * summation orders (relative 1e-5 of the largest entry); everything after the
 * projection is FP64. The scheduler's order must be identical.
 */
import { stableRank, stableRankSync } from '../lib/analysis/stable-rank';
import { AbortError } from '../lib/errors';
import { cudaDeviceInfo, cudaUnavailableReason } from '../lib/device';
import { InfluenceAccumulator, projectGradientsSync, type ProjectionOptions } from '../lib/influence/accumulator';
import { schedule, scheduleBruteForceSync, scheduleSync, type ScheduleOptions } from '../lib/scheduler';
import { expectValidation } from './helpers/expect-errors';
import { maxRelDiff, randomBf16Bits, randomClusters, randomF16Bits, randomF32, randomTargets } from './helpers/influence-data';
import { randomInstance, randomMixture, toNumbers } from './reference/naive-scheduler';

const reason = cudaUnavailableReason();
const gpu = reason === undefined ? describe : describe.skip;
if (reason !== undefined) console.log(`cuda.kernels: skipped (${reason})`);
else console.log(`cuda.kernels: running on ${cudaDeviceInfo().name} (sm_${cudaDeviceInfo().computeCapability.replace('.', '')})`);

const FP32_TOL = 1e-5;

gpu('clip + projection twins', () => {
  const cases: { name: string; projection: ProjectionOptions; D: number }[] = [
    { name: 'dense', projection: { kind: 'dense', inputDim: 300, dim: 37, seed: 3 }, D: 300 },
    { name: 'rademacher', projection: { kind: 'rademacher', inputDim: 517, dim: 100, seed: 2n ** 63n + 5n }, D: 517 },
    { name: 'rademacher d=1', projection: { kind: 'rademacher', inputDim: 64, dim: 1, seed: 0 }, D: 64 },
  ];
  for (const c of cases) {
    for (const clip of [undefined, 5]) {
      it(`${c.name}, clip ${clip ?? 'none'}: features match the CPU`, () => {
        const n = 70;
        const grads = randomF32(n * c.D, 17, 0.5);
        const cpu = projectGradientsSync(c.projection, { grads }, { clip });
        const cuda = projectGradientsSync(c.projection, { grads }, { clip, device: 'cuda' });
        expect(maxRelDiff(cuda, cpu)).toBeLessThan(FP32_TOL);
      });
    }
  }
  it('f16 and bf16 inputs are widened like the CPU', () => {
    const projection: ProjectionOptions = { kind: 'dense', inputDim: 96, dim: 16, seed: 9 };
    for (const [dtype, grads] of [['f16', randomF16Bits(20 * 96, 4)], ['bf16', randomBf16Bits(20 * 96, 5)]] as const) {
      const cpu = projectGradientsSync(projection, { grads, dtype }, { clip: 1 });
      const cuda = projectGradientsSync(projection, { grads, dtype }, { clip: 1, device: 'cuda' });
      expect(maxRelDiff(cuda, cpu)).toBeLessThan(FP32_TOL);
    }
  });
  it('kronecker: features match the CPU', () => {
    const projection: ProjectionOptions = { kind: 'kronecker', inDim: 33, outDim: 20, inProj: 8, outProj: 5, seed: 11 };
    const n = 9, T = 7;
    const activations = randomF32(n * T * 33, 1);
    const outGrads = randomF32(n * T * 20, 2);
    for (const clip of [undefined, 0.5]) {
      const cpu = projectGradientsSync(projection, { activations, outGrads, tokens: T }, { clip });
      const cuda = projectGradientsSync(projection, { activations, outGrads, tokens: T }, { clip, device: 'cuda' });
      expect(maxRelDiff(cuda, cpu)).toBeLessThan(FP32_TOL);
    }
  });
  it('a non-finite row is rejected with the CPU message', () => {
    const projection: ProjectionOptions = { kind: 'dense', inputDim: 10, dim: 3 };
    const grads = randomF32(4 * 10, 1);
    grads[2 * 10 + 3] = NaN;
    expectValidation(() => projectGradientsSync(projection, { grads }, { device: 'cuda' }), 'grads', /example 2 \(row 2 of the batch\)/);
  });
});

gpu('accumulator twin (segment sums + covariance)', () => {
  for (const kind of ['rademacher', 'kronecker'] as const) {
    it(`${kind}: the state after several batches matches the CPU`, () => {
      const K = 4;
      const projection: ProjectionOptions =
        kind === 'kronecker' ? { kind, inDim: 16, outDim: 12, inProj: 4, outProj: 6, seed: 1 } : { kind, inputDim: 200, dim: 48, seed: 1 };
      const cpu = new InfluenceAccumulator({ projection, numClusters: K, clip: 2 });
      const cuda = new InfluenceAccumulator({ projection, numClusters: K, clip: 2, device: 'cuda' });
      expect(cuda.device).toBe('cuda');
      for (let b = 0; b < 3; b++) {
        const n = 50 + b * 13;
        const cluster = randomClusters(n, K, 10 + b);
        const target = randomTargets(n, 0.15, 20 + b);
        const batch =
          kind === 'kronecker'
            ? { activations: randomF32(n * 3 * 16, 30 + b), outGrads: randomF32(n * 3 * 12, 40 + b), tokens: 3, cluster, target }
            : { grads: randomF32(n * 200, 30 + b), cluster, target };
        cpu.addSync(batch);
        cuda.addSync(batch);
      }
      const a = cpu.state();
      const g = cuda.state();
      expect(g.count).toEqual(a.count);
      expect(g.targetCount).toBe(a.targetCount);
      expect(g.covCount).toBe(a.covCount);
      expect(g.meta).toEqual(a.meta);
      expect(maxRelDiff(g.sum, a.sum)).toBeLessThan(FP32_TOL);
      expect(maxRelDiff(g.targetSum, a.targetSum)).toBeLessThan(FP32_TOL);
      expect(maxRelDiff(g.cov, a.cov)).toBeLessThan(FP32_TOL);
      // the GPU covariance sums each entry in row order, so it is exactly symmetric
      for (let i = 0; i < g.dim; i++) for (let j = 0; j < i; j++) expect(g.cov[i * g.dim + j]).toBe(g.cov[j * g.dim + i]);
    });
  }
  it('async add() on a worker equals addSync(), reports progress, and an aborted add changes nothing', async () => {
    const projection: ProjectionOptions = { kind: 'dense', inputDim: 64, dim: 16, seed: 4 };
    const batch = { grads: randomF32(30 * 64, 6), cluster: randomClusters(30, 3, 7) };
    const sync = new InfluenceAccumulator({ projection, numClusters: 3, device: 'cuda' });
    const async = new InfluenceAccumulator({ projection, numClusters: 3, device: 'cuda' });
    sync.addSync(batch);
    const seen: number[] = [];
    await async.add(batch, { onProgress: (p) => seen.push(p.rowsDone) });
    expect(async.state()).toEqual(sync.state());
    expect(seen[seen.length - 1]).toBe(30);
    const ac = new AbortController();
    ac.abort();
    await expect(async.add(batch, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expect(async.state()).toEqual(sync.state());
  });
  it('a bad cluster id leaves the state unchanged', () => {
    const acc = new InfluenceAccumulator({ projection: { kind: 'dense', inputDim: 8, dim: 2 }, numClusters: 2, device: 'cuda' });
    const before = acc.state();
    expectValidation(() => acc.addSync({ grads: randomF32(3 * 8, 1), cluster: new Int32Array([0, 5, 1]) }), 'cluster[1]', /out of range/);
    expect(acc.state()).toEqual(before);
  });
});

gpu('stable rank twin', () => {
  const shapes: [number, number][] = [[12, 40], [40, 12], [3, 50000], [64, 64]];
  for (const [rows, cols] of shapes) {
    for (const f32 of [true, false]) {
      it(`${rows}x${cols} ${f32 ? 'float32' : 'float64'} matches the CPU Lanczos`, () => {
        const raw = randomF32(rows * cols, rows * 31 + cols);
        const data = f32 ? raw : Float64Array.from(raw);
        const m = [{ data, rows, cols }];
        const cpu = stableRankSync(m, { tol: 1e-9, maxIterations: 2000 });
        const cuda = stableRankSync(m, { tol: 1e-9, maxIterations: 2000, device: 'cuda' });
        expect(cuda.device).toBe('cuda');
        expect(Math.abs(cuda.ranks[0].frobenius2 - cpu.ranks[0].frobenius2) / cpu.ranks[0].frobenius2).toBeLessThan(1e-12);
        expect(Math.abs(cuda.ranks[0].srank - cpu.ranks[0].srank) / cpu.ranks[0].srank).toBeLessThan(1e-7);
      });
    }
  }
  it('async stableRank on the GPU equals the sync one and reports progress', async () => {
    const ms = [0, 1, 2].map((i) => ({ data: randomF32(20 * 50, 60 + i), rows: 20, cols: 50 }));
    const seen: number[] = [];
    const a = await stableRank(ms, { device: 'cuda', onProgress: (p) => seen.push(p.done) });
    expect(a.ranks).toEqual(stableRankSync(ms, { device: 'cuda' }).ranks);
    expect(seen[seen.length - 1]).toBe(3);
  });
  it('an all-zero matrix is rejected naming it', () => {
    expectValidation(() => stableRankSync([{ data: new Float32Array(6), rows: 2, cols: 3 }], { device: 'cuda' }), 'matrices[0]', /all zeros/);
  });
});

gpu('scheduler brute-force twin (exact order)', () => {
  const specs: { M: number; K: number; B: number; seqLength: number; opts: ScheduleOptions }[] = [];
  for (let id = 0; id < 16; id++) {
    const K = [1, 3, 9, 40][id % 4];
    const B = [1, 4, 7][id % 3];
    const M = 40 + ((id * 37) % 90);
    const opts: ScheduleOptions = {
      objective: id % 2 === 0 ? 'sos' : 'norm',
      lambda: [0, 0.3, 1][id % 3],
      ...(id % 5 === 1 ? { mixture: randomMixture(K, id) } : {}),
      ...(id % 7 === 3 ? { sigma: 0.5, seed: id } : {}),
    };
    specs.push({ M, K, B, seqLength: [2048, 12, 1 << 27][id % 3], opts });
  }
  specs.forEach((s, id) => {
    it(`#${id} M=${s.M} K=${s.K} B=${s.B} ${JSON.stringify({ ...s.opts, mixture: undefined })}`, () => {
      const set = randomInstance({ numSequences: s.M, numGroups: s.K, numBins: s.B, seed: 100 + id, seqLength: s.seqLength });
      const cpu = scheduleBruteForceSync(set, s.opts);
      const cuda = scheduleBruteForceSync(set, { ...s.opts, device: 'cuda' });
      expect(cuda.device).toBe('cuda');
      expect(toNumbers(cuda.order)).toEqual(toNumbers(cpu.order));
      expect(cuda.tokens).toBe(cpu.tokens);
      expect(cuda.stats.exactScores).toBe(cpu.stats.exactScores);
    });
  });
  it('budget and resume prefixes give the CPU order', () => {
    const set = randomInstance({ numSequences: 120, numGroups: 6, numBins: 3, seed: 7 });
    const full = scheduleSync(set, {});
    const resume = Uint32Array.from(toNumbers(full.order).slice(0, 30));
    const opts: ScheduleOptions = { resume, budget: Math.floor(full.tokens / 3) };
    expect(toNumbers(scheduleBruteForceSync(set, { ...opts, device: 'cuda' }).order)).toEqual(toNumbers(scheduleSync(set, opts).order));
  });
  it("schedule({engine: 'cuda-brute'}) equals schedule() and reports progress", async () => {
    const set = randomInstance({ numSequences: 300, numGroups: 12, numBins: 4, seed: 8 });
    const seen: number[] = [];
    const cuda = await schedule(set, { engine: 'cuda-brute', onProgress: (p) => seen.push(p.tokens) });
    const cpu = await schedule(set, {});
    expect(toNumbers(cuda.order)).toEqual(toNumbers(cpu.order));
    expect(cuda.device).toBe('cuda');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(cpu.tokens);
  });
});
