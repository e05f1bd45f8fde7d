/**
 * The demo's influence plumbing on the real Brown data and a tiny model:
 * Kronecker features from perExampleLinearInputs equal the explicit
 * per-example gradient projected with the reference matrices; the influence
 * step's scores equal influenceDelta on naively summed features; the data
 * split keeps the influence target set apart from the evaluation target set.
 */
import { chunkCosineSync } from '../lib/analysis/chunk-cosine';
import { stableRankSync } from '../lib/analysis/stable-rank';
import { analyseGradients, evenBatches, shuffledOrder } from '../lib/demo/analysis';
import { prepareDemoData, type DemoData } from '../lib/demo/data';
import {
  influenceAt,
  influenceExamples,
  kroneckerFeatures,
  layerProjection,
  padLinearInputs,
} from '../lib/demo/influence';
import { batchGradients, initModel, perExampleGradients, perExampleLinearInputs, type LayerName, type ModelShape } from '../lib/demo/model';
import { permuteSequences, packDocuments } from '../lib/demo/pack';
import { InfluenceAccumulator } from '../lib/influence/accumulator';
import { normaliseScores } from '../lib/influence/normalise';
import { influenceDelta } from '../lib/influence/scores';
import type { InfluenceState } from '../lib/influence/state';
import { expectValidation } from './helpers/expect-errors';
import { kroneckerInElement, kroneckerOutElement, naiveAccumulate } from './reference/naive-influence';
import { Rng } from './reference/naive-scheduler';

let data: DemoData;
const shape: ModelShape = { vocab: 64, context: 2, embed: 4, hidden: 6 };
let params: Float32Array;

beforeAll(() => {
  data = prepareDemoData({ vocabSize: 64, seqLength: 16, maxInfluenceTokens: 200 });
  params = initModel(shape, 3);
  // move away from the initialisation so the output gradients are not all alike
  const rng = new Rng(5);
  for (let i = 0; i < params.length; i++) params[i] += 0.3 * (rng.next() - 0.5);
});

/** P_outᵀ G P_in for an explicit per-example gradient G ([in][out], the bias row last), in double. */
function explicitProjection(G: Float32Array, inDim: number, outDim: number, inProj: number, outProj: number, seed: number): number[] {
  const s = BigInt(seed);
  const pin = Array.from({ length: inDim * inProj }, (_, k) => kroneckerInElement(s, Math.floor(k / inProj), k % inProj, inProj));
  const pout = Array.from({ length: outDim * outProj }, (_, k) => kroneckerOutElement(s, Math.floor(k / outProj), k % outProj, outProj));
  const f: number[] = [];
  for (let p = 0; p < outProj; p++)
    for (let q = 0; q < inProj; q++) {
      let sum = 0;
      for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) sum += pout[o * outProj + p] * G[i * outDim + o] * pin[i * inProj + q];
      f.push(sum);
    }
  return f;
}

describe('Kronecker features of the demo model', () => {
  test('equal the explicit per-example gradient projected with P_in and P_out, for sequences of unequal length', async () => {
    const tokens = data.influenceTarget.tokens; // one document per sequence: lengths differ
    const n = tokens.offsets.length - 1;
    const lengths = new Set(Array.from({ length: n }, (_, i) => tokens.offsets[i + 1] - tokens.offsets[i]));
    expect(lengths.size).toBeGreaterThan(1);
    const examples = Uint32Array.from({ length: Math.min(n, 7) }, (_, i) => (i * 5) % n);
    for (const layer of ['hidden', 'output'] as LayerName[]) {
      for (const seed of [0, 11]) {
        const proj = { inProj: 3, outProj: 5, seed };
        const p = layerProjection(shape, layer, proj);
        const f = await kroneckerFeatures(shape, params, tokens, examples, layer, proj, { batch: 3 });
        expect(f.cols).toBe(p.inProj * p.outProj);
        const G = perExampleGradients(shape, params, tokens, layer, examples);
        const size = p.inDim * p.outDim;
        examples.forEach((_, k) => {
          const want = explicitProjection(G.subarray(k * size, (k + 1) * size), p.inDim, p.outDim, p.inProj, p.outProj, seed);
          const scale = Math.max(...want.map(Math.abs));
          want.forEach((w, j) => expect(Math.abs(f.data[k * f.cols + j] - w)).toBeLessThan(1e-4 * scale + 1e-7));
        });
      }
    }
  });

  test('projection widths are capped at the layer widths', () => {
    const p = layerProjection(shape, 'hidden', { inProj: 100, outProj: 100, seed: 0 });
    expect(p).toMatchObject({ inDim: 2 * 4 + 1, outDim: 6, inProj: 9, outProj: 6 });
  });

  test('padding adds zero rows only; batches of equal length are passed through', () => {
    const tokens = data.influenceTarget.tokens;
    const li = perExampleLinearInputs(shape, params, tokens, 'hidden', Uint32Array.from([0, 1, 2]));
    const b = padLinearInputs(li);
    const lens = [0, 1, 2].map((e) => li.exampleOffsets[e + 1] - li.exampleOffsets[e]);
    expect(b.tokens).toBe(Math.max(...lens));
    for (let e = 0; e < 3; e++) {
      for (let t = 0; t < b.tokens; t++) {
        const row = Array.from(b.activations.subarray((e * b.tokens + t) * li.in, (e * b.tokens + t + 1) * li.in));
        const src = t < lens[e] ? Array.from(li.acts.subarray((li.exampleOffsets[e] + t) * li.in, (li.exampleOffsets[e] + t + 1) * li.in)) : new Array(li.in).fill(0);
        expect(row).toEqual(src);
      }
    }
    const full = data.train.tokens; // training sequences are all seqLength long except the last
    const same = perExampleLinearInputs(shape, params, full, 'output', Uint32Array.from([0, 1]));
    expect(padLinearInputs(same).activations).toBe(same.acts);
  });

  test('an unclipped accumulator still names an example with a non-finite activation', () => {
    const p = layerProjection(shape, 'hidden', { inProj: 2, outProj: 2, seed: 0 });
    const acc = new InfluenceAccumulator({ projection: p, numClusters: 2, threads: 1 });
    const activations = new Float32Array(2 * 3 * p.inDim);
    activations[3 * p.inDim + 4] = Number.NaN;
    expect(() => acc.addSync({ activations, outGrads: new Float32Array(2 * 3 * p.outDim), tokens: 3, cluster: [0, 1] })).toThrow(/example 1/);
  });
});

describe('influence step', () => {
  test('training examples: one-genre sequences only, at most perGenre per genre, seeded', () => {
    const ex = influenceExamples(data, 5, 1);
    const set = data.train.set;
    ex.examples.forEach((s, i) => {
      for (let k = Number(set.offsets[s]); k < Number(set.offsets[s + 1]); k++) expect(set.group[k]).toBe(ex.cluster[i]);
    });
    expect(ex.perGenre).toHaveLength(15);
    expect(ex.perGenre.every((c) => c === 5)).toBe(true);
    expect(influenceExamples(data, 5, 1)).toEqual(ex);
    expect(Array.from(influenceExamples(data, 5, 2).examples)).not.toEqual(Array.from(ex.examples));
  });

  test('scores per layer equal influenceDelta on naively summed features; Δℓ normalises their sum', async () => {
    const o = { perGenre: 4, inProj: 3, outProj: 4, seed: 9, batch: 5 };
    const r = await influenceAt(shape, params, data, o);
    const ex = influenceExamples(data, 4, 9);
    const targets = data.influenceTarget.tokens;
    const targetIds = Uint32Array.from({ length: targets.offsets.length - 1 }, (_, i) => i);
    expect(r.examples).toEqual({ perGenre: ex.perGenre, target: targetIds.length });
    const K = 15;
    const total = new Float64Array(K);
    for (const [li, layer] of (['hidden', 'output'] as LayerName[]).entries()) {
      const a = await kroneckerFeatures(shape, params, data.train.tokens, ex.examples, layer, o);
      const b = await kroneckerFeatures(shape, params, targets, targetIds, layer, o);
      const rows = (m: { data: Float64Array; rows: number; cols: number }) => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
      const naive = naiveAccumulate([...rows(a), ...rows(b)], [...ex.cluster, ...new Array(b.rows).fill(0)], [...new Array(a.rows).fill(0), ...new Array(b.rows).fill(1)], K);
      const state: InfluenceState = {
        dim: a.cols,
        numClusters: K,
        count: Float64Array.from(naive.count),
        sum: Float64Array.from(naive.sum),
        targetCount: naive.targetCount,
        targetSum: Float64Array.from(naive.targetSum),
        covCount: naive.covCount,
        cov: Float64Array.from(naive.cov),
        meta: { projection: 'kronecker', seed: '9', clip: null, examples: a.rows + b.rows },
      };
      const want = influenceDelta(state, { maxCondition: 1e4 });
      expect(r.layers[li].layer).toBe(layer);
      want.scores.forEach((x, j) => {
        expect(Math.abs(r.layers[li].scores[j] - x)).toBeLessThan(1e-6 * Math.max(...Array.from(want.scores, Math.abs)));
        total[j] += r.layers[li].scores[j];
      });
    }
    expect(r.scores).toEqual(Array.from(total));
    expect(r.delta).toEqual(Array.from(normaliseScores(total)));
    expect(r.excluded).toEqual([]);
  });

  test('bad influence options name the field', async () => {
    await expect(influenceAt(shape, params, data, { perGenre: -1 })).rejects.toMatchObject({ field: 'influence.perGenre' });
    await expect(influenceAt(shape, params, data, { normalise: { step: 0 } })).rejects.toMatchObject({ field: 'influence.normalise.step' });
    await expect(influenceAt(shape, params, data, { inProj: 1.5 })).rejects.toMatchObject({ field: 'influence.inProj' });
  });
});

describe('gradient analyses', () => {
  test('stable rank and chunk cosine equal the library functions on batchGradients and Kronecker features; the shuffle permutes the same sequences', async () => {
    const order = Uint32Array.from({ length: 40 }, (_, i) => (i * 37) % 300);
    const proj = { inProj: 3, outProj: 4, seed: 2, batch: 16 };
    const a = await analyseGradients({ shape, data, influence: proj, slot: (fn) => fn() }, params, 'test', order, 5, { batches: 3, rows: 4, chunks: 5, cosineLayer: 'hidden' });
    const shuffle = shuffledOrder(order, 5);
    expect([...shuffle].sort((x, y) => x - y)).toEqual([...order].sort((x, y) => x - y));
    expect(Array.from(shuffle)).not.toEqual(Array.from(order));
    for (const [kind, o] of [['greedy', order], ['shuffle', shuffle]] as const) {
      const batches = evenBatches(o, 3, 4);
      expect(batches.map((b) => b.length)).toEqual([4, 4, 4]);
      expect(Array.from(batches[2])).toEqual(Array.from(o.subarray(36, 40)));
      const want = (['hidden', 'output'] as LayerName[]).flatMap((layer) => {
        const g = batchGradients(shape, params, data.train.tokens, batches, layer);
        const mats = batches.map((_, i) => ({ data: Float32Array.from(g.data.subarray(i * g.rows * g.cols, (i + 1) * g.rows * g.cols)), rows: g.rows, cols: g.cols, layer }));
        return stableRankSync(mats, { threads: 1 }).layers;
      });
      a[kind].stableRank.forEach((l, i) => {
        expect(l.layer).toBe(want[i].layer);
        expect(l.min).toBeCloseTo(want[i].min, 9);
        expect(l.mean).toBeCloseTo(want[i].mean, 9);
      });
      const f = await kroneckerFeatures(shape, params, data.train.tokens, o, 'hidden', proj);
      const cos = chunkCosineSync(Uint32Array.from(o, (_, i) => i), { data: Float64Array.from(f.data), rows: f.rows, cols: f.cols }, 5, { threads: 1 });
      a[kind].cosine.matrix.forEach((x, i) => expect(x).toBeCloseTo(cos.cosine[i], 9));
    }
    expect(a.cosineDim).toBe(12);
  });
});

describe('data for the influence step', () => {
  test('the influence target documents are held-out target-genre documents, apart from training and evaluation', () => {
    const train = new Set(data.docIds.train);
    const evalTarget = new Set(data.docIds.target);
    expect(data.docIds.influence).toHaveLength(8); // round(0.1 * 80)
    expect(data.docIds.target).toHaveLength(16);
    for (const id of data.docIds.influence) {
      expect(train.has(id)).toBe(false);
      expect(evalTarget.has(id)).toBe(false);
      expect(id.startsWith('cj')).toBe(true);
    }
    expect(data.influenceTarget.groups.every((g) => g === data.target)).toBe(true);
    expect(data.influenceTarget.tokens.ids.length).toBeLessThanOrEqual(200 + 16);
  });

  test('the shuffled pool holds the packed sequences in another order', () => {
    const plain = prepareDemoData({ vocabSize: 64, seqLength: 16, shufflePool: false });
    expect(data.train.tokens.ids.length).toBe(plain.train.tokens.ids.length);
    const key = (d: DemoData, s: number) => Array.from(d.train.tokens.ids.subarray(d.train.tokens.offsets[s], d.train.tokens.offsets[s + 1])).join(',');
    const M = plain.train.tokens.offsets.length - 1;
    const a = Array.from({ length: M }, (_, s) => key(plain, s));
    const b = Array.from({ length: M }, (_, s) => key(data, s));
    expect(b).not.toEqual(a);
    expect([...b].sort()).toEqual([...a].sort());
  });

  test('permuteSequences moves segments, tokens and groups with each sequence; bad permutations are named', () => {
    const docs = [
      { ids: Uint32Array.from([5, 6, 7]), group: 0 },
      { ids: Uint32Array.from([8]), group: 1 },
      { ids: Uint32Array.from([9, 10, 11, 12]), group: 2 },
    ];
    const p = packDocuments(docs, { seqLength: 3, numGroups: 3, numBins: 2 });
    const M = p.tokens.offsets.length - 1;
    const perm = Uint32Array.from({ length: M }, (_, i) => M - 1 - i);
    const q = permuteSequences(p, perm);
    for (let i = 0; i < M; i++) {
      const s = perm[i];
      expect(Array.from(q.tokens.ids.subarray(q.tokens.offsets[i], q.tokens.offsets[i + 1]))).toEqual(Array.from(p.tokens.ids.subarray(p.tokens.offsets[s], p.tokens.offsets[s + 1])));
      const segs = (x: typeof p, j: number) =>
        Array.from({ length: Number(x.set.offsets[j + 1] - x.set.offsets[j]) }, (_, k) => {
          const z = Number(x.set.offsets[j]) + k;
          return [x.set.group[z], x.set.bin[z], x.set.tokens[z], x.segmentDoc[z]];
        });
      expect(segs(q, i)).toEqual(segs(p, s));
      expect(q.sequenceGroup[i]).toBe(p.sequenceGroup[s]);
    }
    expectValidation(() => permuteSequences(p, new Uint32Array(M)), 'perm[1]', /not a permutation/);
    expectValidation(() => permuteSequences(p, new Uint32Array(M + 1)), 'perm', new RegExp(`Expected ${M} entries`));
  });
});
