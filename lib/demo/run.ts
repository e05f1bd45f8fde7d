/**
 * The end-to-end demo as a pipeline of named stages:
 *   data -> plan (one training order per configuration) -> train+evaluate
 *   (every configuration x seed) -> fidelity -> report.
 * A configuration only has to produce a training order (and the curriculum
 * behind it); Baseline schedules the corpus mixture greedily. TerRIFIC,
 * TerRIFIC-AVG and Curriculum plug in as further `Configuration`s, using the
 * helpers on `DemoContext` (scheduling, training, evaluation, gradients).
 */
import * as fs from 'fs';
import * as path from 'path';

import { z } from 'zod';

import { parseOptions } from '../config';
import { AbortError, ValidationError } from '../errors';
import { fidelityReport, type FidelityReport } from '../fidelity';
import { writeFileAtomic } from '../io/atomic';
import { corpusMixture, validateMixture } from '../io/mixture';
import { schedule } from '../scheduler';
import { demoDataOptionsSchema, prepareDemoData, type DemoData, type EvalSet } from './data';
import {
  evalLoss,
  lrScheduleSchema,
  paramCount,
  trainModel,
  type LossReport,
  type ModelShape,
  type TrainedModel,
} from './model';
import { silentProgress, type DemoProgress } from './progress';
import { renderReport } from './report';

export const demoOptionsSchema = z
  .object({
    /** output folder (created if missing) */
    out: z.string().min(1).default('demo-out'),
    data: demoDataOptionsSchema.default(() => demoDataOptionsSchema.parse({})),
    model: z
      .object({ context: z.int().min(1).max(8).default(3), embed: z.int().min(1).max(512).default(32), hidden: z.int().min(1).max(1024).default(64) })
      .strict()
      .default({ context: 3, embed: 32, hidden: 64 }),
    /** training tokens per run (every configuration and seed) */
    budget: z.int().min(1).default(200_000),
    batchSize: z.int().min(1).default(4),
    lr: lrScheduleSchema.default({ peak: 1, decay: 'cosine', warmupSteps: 10, final: 0.1 }),
    clipNorm: z.number().finite().min(0).default(5),
    /** model-initialisation seeds; every configuration is trained once per seed */
    seeds: z.array(z.int().min(0).max(0xffffffff)).min(1).default([1, 2, 3]),
    /** checkpoints spaced geometrically in tokens between first and last (fractions of the budget) */
    checkpoints: z
      .object({ count: z.int().min(1).max(100).default(5), first: z.number().gt(0).max(1).default(0.05), last: z.number().gt(0).max(1).default(0.8) })
      .strict()
      .refine((c) => c.first <= c.last, { message: 'first must be <= last' })
      .default({ count: 5, first: 0.05, last: 0.8 }),
    /** trainings run at once (each on its own thread) */
    concurrency: z.int().min(1).max(16).default(2),
    /** threads per evaluation */
    evalThreads: z.int().min(1).max(16).default(1),
    /** scheduler: weight of the document-length-bin family */
    lambda: z.number().finite().min(0).default(1),
    /** seed of the random shuffle the fidelity report compares against */
    shuffleSeed: z.int().min(0).default(0),
    signal: z.instanceof(AbortSignal).optional(),
  })
  .strict();
export type DemoOptions = z.input<typeof demoOptionsSchema>;
export type DemoOptionsParsed = z.output<typeof demoOptionsSchema>;

/** A piece of a curriculum: from `startTokens` on, the order follows `mixture`. */
export interface CurriculumPhase {
  startTokens: number;
  mixture: number[];
}

export interface OrderPlan {
  /** sequence ids (into ctx.data.train) in training order, about `budget` tokens */
  order: Uint32Array;
  /** the mixture the fidelity report compares the order against */
  mixture: Float64Array;
  curriculum: CurriculumPhase[];
  /** anything the configuration wants in results.json */
  notes?: Record<string, unknown>;
}

export interface Configuration {
  name: string;
  description: string;
  plan(ctx: DemoContext): Promise<OrderPlan>;
}

export interface RunResult {
  seed: number;
  tokens: number;
  targetLoss: number;
  /** mean over all held-out tokens of the other genres */
  heldOutLoss: number;
  /** held-out loss per genre (null for the target genre, which is measured on the target set) */
  perGenre: (number | null)[];
  /** training loss, averaged over windows of steps, at these token counts */
  curve: { tokens: number[]; loss: number[] };
  checkpointTokens: number[];
  seconds: number;
}

export interface MeanStd {
  mean: number;
  std: number;
}

export interface ConfigurationResult {
  name: string;
  description: string;
  orderSequences: number;
  orderTokens: number;
  mixture: number[];
  curriculum: CurriculumPhase[];
  /** realized group shares of the order in windows ending at these token counts */
  realized: { tokens: number[]; shares: number[][] };
  runs: RunResult[];
  targetLoss: MeanStd;
  heldOutLoss: MeanStd;
  perGenre: (MeanStd | null)[];
  fidelity: FidelityReport;
  notes?: Record<string, unknown>;
}

export interface DemoResults {
  format: 'curricula.demo';
  version: 1;
  options: Omit<DemoOptionsParsed, 'signal'>;
  data: {
    genres: string[];
    codes: string[];
    target: { index: number; code: string; name: string };
    vocabSize: number;
    coverage: number;
    trainDocuments: number;
    trainSequences: number;
    trainTokens: number;
    targetDocuments: string[];
    targetTokens: number;
    heldOutDocuments: number;
    heldOutTokens: number;
    corpusMixture: number[];
  };
  model: { shape: ModelShape; parameters: number };
  checkpoints: number[];
  configurations: ConfigurationResult[];
  timings: { stage: string; seconds: number }[];
  totalSeconds: number;
}

/** Everything a configuration can use while it plans its order. */
export interface DemoContext {
  options: DemoOptionsParsed;
  data: DemoData;
  shape: ModelShape;
  /** checkpoint token counts (geometric) */
  checkpoints: number[];
  progress: DemoProgress;
  signal?: AbortSignal;
  /** greedy order following `mixture` for the budget (or `budget` tokens), continuing `resume` if given */
  scheduleMixture(mixture: Float64Array, opts?: { budget?: number; resume?: Uint32Array; label?: string }): Promise<Uint32Array>;
  /** one training run over `order` with the demo's optimiser settings */
  train(order: Uint32Array, seed: number, label?: string): Promise<TrainedModel>;
  /** target-set and held-out losses of `params` */
  evaluate(params: Float32Array): Promise<{ target: LossReport; heldOut: LossReport }>;
}

/** Geometric token counts: count points from first*budget to last*budget. */
export function geometricCheckpoints(budget: number, count: number, first: number, last: number): number[] {
  if (count === 1) return [Math.round(budget * last)];
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(budget * first * Math.pow(last / first, i / (count - 1))));
  return out;
}

export function meanStd(xs: readonly number[]): MeanStd {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

function orderTokens(data: DemoData, order: Uint32Array): number {
  let t = 0;
  for (const s of order) t += data.train.tokens.offsets[s + 1] - data.train.tokens.offsets[s];
  return t;
}

/** Group shares of the order in windows ending at geometric token counts (the realized curriculum). */
export function realizedMixture(data: DemoData, order: Uint32Array, points = 24): { tokens: number[]; shares: number[][] } {
  const set = data.train.set;
  const total = orderTokens(data, order);
  const ends = [...new Set(Array.from({ length: points }, (_, i) => Math.max(1, Math.round(total * Math.pow(0.01, 1 - i / (points - 1))))))];
  const K = set.numGroups;
  const tokens: number[] = [];
  const shares: number[][] = [];
  let window = new Array<number>(K).fill(0);
  let seen = 0;
  let next = 0;
  for (const s of order) {
    for (let k = Number(set.offsets[s]); k < Number(set.offsets[s + 1]); k++) {
      window[set.group[k]] += set.tokens[k];
      seen += set.tokens[k];
    }
    while (next < ends.length && seen >= ends[next]) {
      const sum = window.reduce((a, b) => a + b, 0);
      if (sum > 0) {
        tokens.push(seen);
        shares.push(window.map((w) => w / sum));
      }
      window = new Array<number>(K).fill(0);
      next++;
    }
  }
  return { tokens, shares };
}

/** A configuration that schedules one fixed mixture greedily under the budget. */
export function fixedMixtureConfiguration(
  name: string,
  description: string,
  mixture: (ctx: DemoContext) => Float64Array,
): Configuration {
  return {
    name,
    description,
    async plan(ctx) {
      const m = validateMixture(mixture(ctx), ctx.data.train.set.numGroups, ctx.data.genres);
      const order = await ctx.scheduleMixture(m, { label: name });
      return { order, mixture: m, curriculum: [{ startTokens: 0, mixture: Array.from(m) }] };
    },
  };
}

/** Baseline: the training corpus's own genre mixture, ordered by the greedy scheduler. */
export const baselineConfiguration: Configuration = fixedMixtureConfiguration(
  'Baseline',
  'corpus mixture + greedy scheduler',
  (ctx) => corpusMixture(ctx.data.train.set),
);

/**
 * The sanity pair: the same budget with no target-genre tokens, and with
 * `share` of them from the target genre (the rest in corpus proportions).
 */
export function targetShareConfiguration(share: number): Configuration {
  const pct = Math.round(share * 100);
  return fixedMixtureConfiguration(
    `Target ${pct}%`,
    `corpus mixture with the target genre's share set to ${pct}%`,
    (ctx) => {
      const m = corpusMixture(ctx.data.train.set);
      const t = ctx.data.target;
      const rest = 1 - m[t];
      return m.map((x, j) => (j === t ? share : (x * (1 - share)) / rest));
    },
  );
}

function downsampleCurve(model: TrainedModel, batchTokens: number[], points = 40): { tokens: number[]; loss: number[] } {
  const n = model.stepLoss.length;
  const w = Math.max(1, Math.ceil(n / points));
  const tokens: number[] = [];
  const loss: number[] = [];
  let seen = 0;
  for (let i = 0; i < n; i += w) {
    let sum = 0;
    let cnt = 0;
    for (let j = i; j < Math.min(n, i + w); j++) {
      sum += model.stepLoss[j] * batchTokens[j];
      cnt += batchTokens[j];
      seen += batchTokens[j];
    }
    tokens.push(seen);
    loss.push(sum / cnt);
  }
  return { tokens, loss };
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function evalSetLoss(ctx: { shape: ModelShape; options: DemoOptionsParsed }, params: Float32Array, set: EvalSet, K: number) {
  return evalLoss(ctx.shape, params, set.tokens, { groups: set.groups, numGroups: K, threads: ctx.options.evalThreads });
}

export interface DemoRun {
  results: DemoResults;
  /** trained models per configuration, in seed order (not written to disk) */
  models: Map<string, TrainedModel[]>;
  plans: Map<string, OrderPlan>;
  data: DemoData;
  files: { results: string; report: string; curriculum: string };
}

/**
 * Runs the demo and writes results.json, curriculum.json and report.html into
 * options.out (each atomically). `configurations` defaults to Baseline only.
 */
export async function runDemo(
  options: DemoOptions = {},
  configurations: readonly Configuration[] = [baselineConfiguration],
  progress: DemoProgress = silentProgress(),
): Promise<DemoRun> {
  const o = parseOptions(demoOptionsSchema, options);
  if (configurations.length === 0) throw new ValidationError('configurations', 'Expected at least one configuration');
  const names = configurations.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ValidationError('configurations', `configuration name ${JSON.stringify(dup)} appears twice`);
  const signal = o.signal;
  const checkAbort = () => {
    if (signal?.aborted) throw new AbortError();
  };
  const start = process.hrtime.bigint();
  const timings: { stage: string; seconds: number }[] = [];
  const stage = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    checkAbort();
    const t0 = process.hrtime.bigint();
    progress.log(`stage ${name}...`);
    const r = await fn();
    timings.push({ stage: name, seconds: seconds(t0) });
    progress.log(`stage ${name} done in ${seconds(t0).toFixed(1)}s`);
    return r;
  };

  // Stage: data
  const data = await stage('data', () => prepareDemoData(o.data));
  const K = data.genres.length;
  const shape: ModelShape = { vocab: data.vocab.words.length, ...o.model };
  const available = data.train.tokens.ids.length;
  if (o.budget > available) {
    throw new ValidationError('budget', `Expected \`budget\` <= ${available} (training tokens) but received ${o.budget}`);
  }
  const checkpoints = geometricCheckpoints(o.budget, o.checkpoints.count, o.checkpoints.first, o.checkpoints.last);

  const ctx: DemoContext = {
    options: o,
    data,
    shape,
    checkpoints,
    progress,
    signal,
    async scheduleMixture(mixture, opts = {}) {
      const budget = opts.budget ?? o.budget;
      const task = progress.task(`schedule ${opts.label ?? ''}`.trim(), budget, 'tokens');
      try {
        const r = await schedule(data.train.set, {
          mixture,
          lambda: o.lambda,
          budget,
          resume: opts.resume,
          signal,
          onProgress: (p) => task.update(p.tokens),
        });
        return r.order instanceof Uint32Array ? r.order : Uint32Array.from(r.order, Number);
      } finally {
        task.done();
      }
    },
    async train(order, seed, label) {
      const task = progress.task(label ?? `train seed ${seed}`, orderTokens(data, order), 'tokens');
      try {
        return await trainModel(shape, { seed }, data.train.tokens, order, {
          batchSize: o.batchSize,
          lr: o.lr,
          clipNorm: o.clipNorm,
          checkpoints,
          signal,
          onProgress: (p) => task.update(p.tokens, `loss ${p.loss.toFixed(3)}`),
        });
      } finally {
        task.done();
      }
    },
    async evaluate(params) {
      const target = await evalSetLoss(ctx, params, data.targetSet, K);
      const heldOut = await evalSetLoss(ctx, params, data.heldOut, K);
      return { target, heldOut };
    },
  };

  // Stage: plan (one order per configuration)
  const plans = new Map<string, OrderPlan>();
  await stage('plan', async () => {
    for (const c of configurations) {
      checkAbort();
      plans.set(c.name, await c.plan(ctx));
    }
  });

  // Stage: train + evaluate every configuration x seed
  const jobs = configurations.flatMap((c) => o.seeds.map((seed) => ({ c, seed })));
  const trained = new Array<TrainedModel>(jobs.length);
  const runs = await stage('train+evaluate', () =>
    pool(jobs, o.concurrency, async ({ c, seed }, i): Promise<RunResult> => {
      const t0 = process.hrtime.bigint();
      const order = plans.get(c.name)!.order;
      const model = await ctx.train(order, seed, `${c.name} seed ${seed}`);
      const { target, heldOut } = await ctx.evaluate(model.params);
      trained[i] = model;
      const batchTokens: number[] = [];
      for (let i = 0; i < order.length; i += o.batchSize) batchTokens.push(orderTokens(data, order.subarray(i, i + o.batchSize)));
      return {
        seed,
        tokens: model.tokens,
        targetLoss: target.mean,
        heldOutLoss: heldOut.mean,
        perGenre: heldOut.perGroup!.map((x, j) => (j === data.target ? null : x)),
        curve: downsampleCurve(model, batchTokens),
        checkpointTokens: model.checkpoints.map((cp) => cp.tokens),
        seconds: seconds(t0),
      };
    }),
  );
  const models = new Map<string, TrainedModel[]>(
    configurations.map((c) => [c.name, trained.filter((_, i) => jobs[i].c === c)]),
  );

  // Stage: fidelity of every order against its mixture, and the realized curriculum
  const fidelity = await stage('fidelity', () =>
    configurations.map((c) => {
      const plan = plans.get(c.name)!;
      return fidelityReport(data.train.set, plan.order, plan.mixture, { shuffleSeed: o.shuffleSeed });
    }),
  );

  const configResults: ConfigurationResult[] = configurations.map((c, ci) => {
    const plan = plans.get(c.name)!;
    const mine = runs.filter((_, i) => jobs[i].c === c);
    return {
      name: c.name,
      description: c.description,
      orderSequences: plan.order.length,
      orderTokens: orderTokens(data, plan.order),
      mixture: Array.from(plan.mixture),
      curriculum: plan.curriculum,
      realized: realizedMixture(data, plan.order),
      runs: mine,
      targetLoss: meanStd(mine.map((r) => r.targetLoss)),
      heldOutLoss: meanStd(mine.map((r) => r.heldOutLoss)),
      perGenre: data.genres.map((_, j) => (j === data.target ? null : meanStd(mine.map((r) => r.perGenre[j] as number)))),
      fidelity: fidelity[ci],
      ...(plan.notes ? { notes: plan.notes } : {}),
    };
  });

  const { signal: _signal, ...shownOptions } = o;
  const results: DemoResults = {
    format: 'curricula.demo',
    version: 1,
    options: shownOptions,
    data: {
      genres: data.genres,
      codes: data.codes,
      target: { index: data.target, code: data.codes[data.target], name: data.genres[data.target] },
      vocabSize: data.vocab.words.length,
      coverage: data.coverage,
      trainDocuments: data.docIds.train.length,
      trainSequences: data.train.tokens.offsets.length - 1,
      trainTokens: data.train.tokens.ids.length,
      targetDocuments: data.docIds.target,
      targetTokens: data.targetSet.tokens.ids.length,
      heldOutDocuments: data.docIds.heldOut.length,
      heldOutTokens: data.heldOut.tokens.ids.length,
      corpusMixture: Array.from(corpusMixture(data.train.set)),
    },
    model: { shape, parameters: paramCount(shape) },
    checkpoints,
    configurations: configResults,
    timings,
    totalSeconds: 0,
  };

  // Stage: report
  const files = {
    results: path.join(o.out, 'results.json'),
    report: path.join(o.out, 'report.html'),
    curriculum: path.join(o.out, 'curriculum.json'),
  };
  await stage('report', async () => {
    const html = await renderReport(results);
    checkAbort();
    fs.mkdirSync(o.out, { recursive: true });
    results.totalSeconds = seconds(start);
    const curriculum = {
      format: 'curricula.curriculum',
      version: 1,
      groups: data.genres,
      configurations: Object.fromEntries(configResults.map((c) => [c.name, c.curriculum])),
    };
    writeFileAtomic(files.curriculum, JSON.stringify(curriculum, null, 2) + '\n');
    writeFileAtomic(files.report, html);
  });
  results.totalSeconds = seconds(start);
  writeFileAtomic(files.results, JSON.stringify(results, null, 2) + '\n');
  return { results, models, plans, data, files };
}
