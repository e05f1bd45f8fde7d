/**
 * The demo pipeline end to end at a tiny size: output files, the structure of
 * results.json, plug-in configurations, and option validation.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { prepareDemoData } from '../lib/demo/data';
import {
  baselineConfiguration,
  geometricCheckpoints,
  meanStd,
  realizedMixture,
  runDemo,
  targetShareConfiguration,
  type DemoOptions,
  type DemoResults,
} from '../lib/demo/run';
import { AbortError } from '../lib/errors';

const tiny: DemoOptions = {
  data: { vocabSize: 128, maxEvalTokensPerGenre: 256, maxTargetTokens: 1024 },
  model: { context: 2, embed: 8, hidden: 8 },
  budget: 6000,
  seeds: [1, 2],
  checkpoints: { count: 3, first: 0.1, last: 0.8 },
};

describe('runDemo', () => {
  let dir: string;
  let results: DemoResults;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-demo-'));
    const run = await runDemo({ ...tiny, out: dir }, [baselineConfiguration, targetShareConfiguration(0.5)]);
    results = run.results;
    expect(run.models.get('Baseline')).toHaveLength(2);
    expect(run.models.get('Target 50%')![0].checkpoints.map((c) => c.tokens)).toEqual(results.configurations[1].runs[0].checkpointTokens);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes report.html with embedded SVG, results.json and curriculum.json, and no temp files', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['curriculum.json', 'report.html', 'results.json']);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect((html.match(/<svg/g) ?? []).length).toBe(6); // target, per genre, curve, 2 curricula, fidelity
    expect(html).toContain('learned');
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as DemoResults;
    expect(onDisk.format).toBe('curricula.demo');
    expect(onDisk.configurations.map((c) => c.name)).toEqual(['Baseline', 'Target 50%']);
    const cur = JSON.parse(fs.readFileSync(path.join(dir, 'curriculum.json'), 'utf8'));
    expect(cur.groups).toHaveLength(15);
    expect(cur.configurations['Target 50%'][0].mixture[results.data.target.index]).toBeCloseTo(0.5, 12);
  });

  test('every configuration is trained once per seed on the same budget, with finite losses per genre', () => {
    for (const c of results.configurations) {
      expect(c.runs.map((r) => r.seed)).toEqual([1, 2]);
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
    }
    expect(results.data.target).toEqual({ index: 8, code: 'J', name: 'learned' });
    expect(results.timings.map((t) => t.stage)).toEqual(['data', 'plan', 'train+evaluate', 'fidelity', 'report']);
    // the target-heavy order really holds about half target tokens
    const heavy = results.configurations[1].realized;
    const last = heavy.shares[heavy.shares.length - 1];
    expect(last[8]).toBeGreaterThan(0.3);
  });

  test('an aborted signal stops the run with AbortError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runDemo({ ...tiny, out: path.join(dir, 'never'), signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
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
  });
});
