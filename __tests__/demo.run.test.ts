/**
 * The demo pipeline end to end at a tiny size: output files, the structure of
 * results.json, plug-in configurations, and option validation.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { metaUpdateFromSamples } from '../lib/curriculum/algorithm1';
import { createCurriculum } from '../lib/curriculum/curriculum';
import { parseCurriculum } from '../lib/curriculum/serialize';
import { prepareDemoData } from '../lib/demo/data';
import {
  baselineConfiguration,
  configurationsByName,
  createLimiter,
  defaultConfigurations,
  geometricCheckpoints,
  meanStd,
  realizedMixture,
  runDemo,
  targetShareConfiguration,
  type DemoOptions,
  type DemoResults,
  type DemoRun,
} from '../lib/demo/run';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';

const tiny: DemoOptions = {
  data: { vocabSize: 128, maxEvalTokensPerGenre: 256, maxTargetTokens: 1024, maxInfluenceTokens: 1024 },
  model: { context: 2, embed: 8, hidden: 8 },
  budget: 6000,
  seeds: [1, 2, 3],
  checkpoints: { count: 3, first: 0.1, last: 0.8 },
  influence: { perGenre: 3, inProj: 4, outProj: 4 },
  curriculum: { iterations: 2, samples: 2 },
  analysis: { batches: 2, rows: 4, chunks: 4 },
};

describe('runDemo: all four configurations at a tiny size', () => {
  let dir: string;
  let run: DemoRun;
  let results: DemoResults;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-demo-'));
    run = await runDemo({ ...tiny, out: dir });
    results = run.results;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes report.html with embedded SVG, report.svg, results.json and the learned curriculum, and no temp files', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['curriculum.json', 'report.html', 'report.svg', 'results.json']);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    // target, per genre, curve, learned curriculum, 4 realized mixtures, fidelity, Δℓ, stable rank, 2 heatmaps
    expect((html.match(/<svg/g) ?? []).length).toBe(13);
    for (const word of ['learned', 'TerRIFIC-AVG', 'Stable rank', 'chunk gradient sums', 'meta-iteration']) expect(html).toContain(word);
    expect(fs.readFileSync(path.join(dir, 'report.svg'), 'utf8')).toMatch(/^<svg/);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as DemoResults;
    expect(onDisk.format).toBe('curricula.demo');
    expect(onDisk.configurations.map((c) => c.name)).toEqual(['Baseline', 'TerRIFIC', 'TerRIFIC-AVG', 'Curriculum']);
    // curriculum.json is the learned curriculum, readable by the library
    const cur = parseCurriculum(fs.readFileSync(path.join(dir, 'curriculum.json'), 'utf8'));
    expect(cur.groups).toBe(15);
    expect(cur.names).toEqual(results.data.genres);
    expect(results.curriculumFile).toBe('Curriculum');
    expect(cur.s.length).toBeGreaterThan(2);
  });

  test('every configuration is trained once per seed on the same budget, with finite losses per genre', () => {
    for (const c of results.configurations) {
      expect(c.runs.map((r) => r.seed)).toEqual([1, 2, 3]);
      expect(c.orderTokens).toBeGreaterThanOrEqual(6000);
      expect(c.orderTokens).toBeLessThan(6000 + 128);
      for (const r of c.runs) {
        expect(r.tokens).toBe(c.orderTokens);
        expect(Number.isFinite(r.targetLoss)).toBe(true);
        expect(r.perGenre[results.data.target.index]).toBeNull();
        expect(r.perGenre.filter((x) => x !== null).every((x) => Number.isFinite(x))).toBe(true);
        expect(r.checkpointTokens).toHaveLength(3);
      }
      expect(c.targetLoss).toEqual(meanStd(c.runs.map((r) => r.targetLoss)));
      expect(c.fidelity.greedy.tokens).toBe(c.orderTokens);
      expect(c.mixture.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
    expect(results.data.target).toEqual({ index: 8, code: 'J', name: 'learned' });
    expect(results.timings.map((t) => t.stage)).toEqual(['data', 'configurations+analysis', 'fidelity', 'report']);
    expect(results.cpuSeconds).toBeGreaterThan(0);
  });

  test('TerRIFIC is softmax(log baseline + η Δℓ) with Δℓ from the last checkpoint; -AVG uses the mean over all', () => {
    const base = results.configurations[0].mixture;
    const eta = results.options.terrific.eta;
    for (const [i, count] of [[1, 1], [2, 3]] as const) {
      const c = results.configurations[i];
      const deltas = c.notes!.delta as number[][];
      expect(deltas).toHaveLength(count);
      expect(c.notes!.checkpoints).toHaveLength(count);
      for (const t of c.notes!.checkpoints as number[]) expect(results.reference.checkpoints).toContain(t);
      const mean = base.map((_, j) => deltas.reduce((a, d) => a + d[j], 0) / count);
      const logits = base.map((p, j) => Math.log(p) + eta * mean[j]);
      const z = logits.reduce((a, l) => a + Math.exp(l), 0);
      logits.forEach((l, j) => expect(c.mixture[j]).toBeCloseTo(Math.exp(l) / z, 12));
      // Δℓ is z-scored over genres, clipped to ±5 and scaled by 0.2
      for (const d of deltas) {
        expect(Math.abs(d.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
        expect(Math.max(...d.map(Math.abs))).toBeLessThanOrEqual(1 + 1e-12);
      }
    }
    // the late checkpoint is the last one of the -AVG list
    expect((results.configurations[1].notes!.checkpoints as number[])[0]).toBe((results.configurations[2].notes!.checkpoints as number[])[2]);
  });

  test('Curriculum: each meta-iteration samples B log-times inside the checkpoint range and moves the logits by η Δf', () => {
    const c = results.configurations[3];
    const its = c.notes!.iterations as { iteration: number; sampleTokens: number[]; reachedTokens: number[]; delta: number[][]; influenceTargetLoss: number }[];
    expect(its.map((t) => t.iteration)).toEqual([0, 1]);
    const [lo, hi] = [results.checkpoints[0], results.checkpoints[results.checkpoints.length - 1]];
    for (const t of its) {
      expect(t.sampleTokens).toHaveLength(2);
      t.sampleTokens.forEach((x, b) => {
        expect(x).toBeGreaterThanOrEqual(lo);
        expect(x).toBeLessThanOrEqual(hi);
        expect(t.reachedTokens[b]).toBeGreaterThanOrEqual(x); // first step at or past the sample
      });
      expect(Number.isFinite(t.influenceTargetLoss)).toBe(true);
    }
    // the t = 0 samples are checkpoints of the reference run
    for (const x of its[0].reachedTokens) expect(results.reference.checkpoints).toContain(x);
    // the learned curriculum is Algorithm 1 replayed from the baseline logits with the recorded samples
    const cur = parseCurriculum(c.curriculum);
    let f = createCurriculum({ mixture: results.data.corpusMixture, knotTokens: [lo, hi], names: results.data.genres });
    for (const t of its) {
      const samples = t.reachedTokens.map((x, b) => ({ tokens: x, delta: t.delta[b] }));
      f = metaUpdateFromSamples(f, samples, { eta: results.options.curriculum.eta, iteration: t.iteration }).curriculum;
    }
    expect(Array.from(cur.s)).toEqual(Array.from(f.s));
    Array.from(cur.logits).forEach((x, i) => expect(x).toBeCloseTo(f.logits[i], 12));
    expect(cur.s.length).toBeGreaterThan(2);
  });

  test('gradient analyses: greedy vs shuffle stable rank per layer and chunk cosine matrices', () => {
    const a = results.analysis!;
    for (const order of ['greedy', 'shuffle'] as const) {
      expect(a[order].stableRank.map((l) => l.layer)).toEqual(['hidden', 'output']);
      for (const l of a[order].stableRank) {
        expect(l.min).toBeGreaterThanOrEqual(1 - 1e-9);
        expect(l.max).toBeLessThanOrEqual(a.rows + 1e-9);
        expect(l.min).toBeLessThanOrEqual(l.mean);
      }
      const m = a[order].cosine.matrix;
      expect(m).toHaveLength(a.chunks * a.chunks);
      for (let i = 0; i < a.chunks; i++) expect(m[i * a.chunks + i]).toBeCloseTo(1, 12);
    }
    expect(a.cosineDim).toBe(16);
  });

  test('the same options give the same orders and losses (deterministic end to end)', async () => {
    const again = await runDemo({ ...tiny, out: path.join(dir, 'again'), seeds: [2], analysis: { enabled: false } }, defaultConfigurations());
    for (const [i, c] of again.results.configurations.entries()) {
      const first = results.configurations[i];
      expect(Array.from(again.plans.get(c.name)!.order)).toEqual(Array.from(run.plans.get(c.name)!.order));
      expect(c.runs[0].targetLoss).toBe(first.runs[1].targetLoss);
    }
    expect(again.results.analysis).toBeNull();
  });

  test('an aborted signal stops the run with AbortError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runDemo({ ...tiny, out: path.join(dir, 'never'), signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
  });
});

describe('plug-in configurations', () => {
  test('Baseline with the target-share pair, without the influence step', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-demo-'));
    try {
      const r = await runDemo({ ...tiny, out: dir, seeds: [1], analysis: { enabled: false } }, [baselineConfiguration, targetShareConfiguration(0.5)]);
      const heavy = r.results.configurations[1];
      expect(heavy.mixture[8]).toBeCloseTo(0.5, 12);
      expect(heavy.realized.shares[heavy.realized.shares.length - 1][8]).toBeGreaterThan(0.3);
      expect(r.results.curriculumFile).toBe('Baseline');
      expect(r.reference).toBeUndefined();
      expect(parseCurriculum(fs.readFileSync(r.files.curriculum, 'utf8')).s).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('helpers', () => {
  test('geometricCheckpoints spaces counts by a constant ratio from first to last', () => {
    const c = geometricCheckpoints(1_000_000, 5, 0.05, 0.8);
    expect(c[0]).toBe(50_000);
    expect(c[4]).toBe(800_000);
    for (let i = 1; i < 4; i++) expect(c[i + 1] / c[i]).toBeCloseTo(c[1] / c[0], 4);
    expect(geometricCheckpoints(100, 1, 0.1, 0.5)).toEqual([50]);
  });

  test('meanStd uses the sample standard deviation', () => {
    expect(meanStd([1, 3])).toEqual({ mean: 2, std: Math.SQRT2 });
    expect(meanStd([4])).toEqual({ mean: 4, std: 0 });
  });

  test('realizedMixture: window shares sum to 1 and add up to the order mixture', () => {
    const data = prepareDemoData({ vocabSize: 64 });
    const order = Uint32Array.from({ length: 500 }, (_, i) => i * 3);
    const r = realizedMixture(data, order, 10);
    const K = data.genres.length;
    const total = new Array(K).fill(0);
    let prev = 0;
    r.tokens.forEach((t, i) => {
      expect(r.shares[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      r.shares[i].forEach((s, j) => (total[j] += s * (t - prev)));
      prev = t;
    });
    const direct = new Array(K).fill(0);
    for (const s of order)
      for (let k = Number(data.train.set.offsets[s]); k < Number(data.train.set.offsets[s + 1]); k++) direct[data.train.set.group[k]] += data.train.set.tokens[k];
    total.forEach((x, j) => expect(x).toBeCloseTo(direct[j], 6));
  });
});

describe('validation', () => {
  test('options are checked by name before anything runs', async () => {
    await expect(runDemo({ budget: 0 })).rejects.toMatchObject({ field: 'budget' });
    await expect(runDemo({ seeds: [] })).rejects.toMatchObject({ field: 'seeds' });
    await expect(runDemo({ model: { hidden: -1 } } as DemoOptions)).rejects.toMatchObject({ field: 'model.hidden' });
    await expect(runDemo({ ...tiny, budget: 1e9 })).rejects.toMatchObject({ field: 'budget', message: expect.stringMatching(/training tokens/) });
    await expect(runDemo({ ...tiny, data: { targetGenre: 'Z' } })).rejects.toMatchObject({ field: 'targetGenre' });
    await expect(runDemo(tiny, [baselineConfiguration, baselineConfiguration])).rejects.toMatchObject({ field: 'configurations' });
    await expect(runDemo({ ...tiny, influence: { perGenre: 0 } })).rejects.toMatchObject({ field: 'influence.perGenre' });
    await expect(runDemo({ ...tiny, influence: { layers: ['embedding'] } } as unknown as DemoOptions)).rejects.toMatchObject({ field: 'influence.layers.0' });
    await expect(runDemo({ ...tiny, curriculum: { iterations: 0 } })).rejects.toMatchObject({ field: 'curriculum.iterations' });
    await expect(runDemo({ ...tiny, terrific: { eta: Number.NaN } })).rejects.toMatchObject({ field: 'terrific.eta' });
    await expect(runDemo({ ...tiny, analysis: { chunks: 1 } })).rejects.toMatchObject({ field: 'analysis.chunks' });
    await expect(runDemo({ ...tiny, data: { targetFraction: 0.6, influenceFraction: 0.5 } })).rejects.toMatchObject({ field: 'influenceFraction' });
    await expect(runDemo({ ...tiny, bogus: 1 } as DemoOptions)).rejects.toThrow(/bogus/);
    expectValidation(() => configurationsByName(['baseline', 'nope'], '--configurations'), '--configurations', /Unknown configuration "nope".*terrific-avg/);
  });
});

describe('createLimiter', () => {
  test('runs at most n jobs at once and starts waiting jobs by priority, then arrival', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let peak = 0;
    const started: string[] = [];
    const job = (name: string) => async () => {
      started.push(name);
      peak = Math.max(peak, ++active);
      await new Promise((r) => setImmediate(r));
      active--;
      return name;
    };
    const all = await Promise.all([limit(job('a'), 1), limit(job('b'), 1), limit(job('c'), 2), limit(job('d'), 0), limit(job('e'), 1)]);
    expect(all).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(peak).toBe(2);
    expect(started).toEqual(['a', 'b', 'd', 'e', 'c']);
    await expect(limit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit(async () => 7)).toBe(7); // a failure frees its slot
  });
});
