/**
 * The end-to-end demo as a pipeline of named stages:
 *   data -> configurations (plan an order, then train + evaluate every seed;
 *   all configurations and the gradient analyses run concurrently through one
 *   limiter of `concurrency` heavy native jobs) -> fidelity -> report.
 * A configuration only has to produce a training order and the curriculum
 * behind it (lib/demo/configurations.ts); the context offers scheduling,
 * training, evaluation, the shared reference run and the influence step.
 */
import * as fs from 'fs';
import * as path from 'path';

import { z } from 'zod';

import { parseOptions } from '../config';
import type { Curriculum } from '../curriculum/curriculum';
import { curriculumToJson } from '../curriculum/serialize';
import type { TargetTable } from '../binding';
import { AbortError, ValidationError } from '../errors';
import { fidelityReport, type FidelityReport } from '../fidelity';
import { writeFileAtomic } from '../io/atomic';
import { corpusMixture } from '../io/mixture';
import { schedule } from '../scheduler';
import { analyseGradients, analysisOptionsSchema, type GradientAnalysis } from './analysis';
import { defaultConfigurations, metaSampleTokens, orderTokens } from './configurations';
import { demoDataOptionsSchema, prepareDemoData, type DemoData, type EvalSet } from './data';
import { influenceAt, influenceExamples, influenceOptionsSchema, type InfluenceExamples, type InfluenceResult } from './influence';
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
import { renderReport, renderSummarySvg } from './report';

export {
  baselineConfiguration,
  curriculumConfiguration,
  defaultConfigurations,
  configurationsByName,
  fixedMixtureConfiguration,
  targetShareConfiguration,
  terrificAverageConfiguration,
  terrificConfiguration,
} from './configurations';

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
    /** model-initialisation seeds; every configuration is trained and evaluated once per seed */
    seeds: z.array(z.int().min(0).max(0xffffffff)).min(1).default([1, 2, 3]),
    /** seed of the reference run and the meta-iteration runs (the influence step's models), kept apart from `seeds` */
    referenceSeed: z.int().min(0).max(0xffffffff).default(0),
    /** checkpoints spaced geometrically in tokens between first and last (fractions of the budget) */
    checkpoints: z
      .object({ count: z.int().min(1).max(100).default(5), first: z.number().gt(0).max(1).default(0.05), last: z.number().gt(0).max(1).default(0.8) })
      .strict()
      .refine((c) => c.first <= c.last, { message: 'first must be <= last' })
      .default({ count: 5, first: 0.05, last: 0.8 }),
    /** the influence step (per-example Kronecker features, scores, Δℓ) */
    influence: influenceOptionsSchema.default(() => influenceOptionsSchema.parse({})),
    /** static TerRIFIC / TerRIFIC-AVG: mixture = softmax(log baseline + eta·Δℓ) */
    terrific: z.object({ eta: z.number().finite().min(0).default(2) }).strict().default({ eta: 2 }),
    /** Algorithm 1: meta-iterations, Δf samples per iteration (B), step η and sampling seed */
    curriculum: z
      .object({
        iterations: z.int().min(1).max(20).default(2),
        samples: z.int().min(1).max(64).default(3),
        eta: z.number().finite().min(0).default(1),
        seed: z.int().min(0).max(0xffffffff).default(0),
      })
      .strict()
      .default({ iterations: 2, samples: 3, eta: 1, seed: 0 }),
    /** stable rank and chunk cosine of the Baseline order vs a shuffle */
    analysis: analysisOptionsSchema.default(() => analysisOptionsSchema.parse({})),
    /** heavy native jobs (trainings, influence steps, analyses) run at once */
    concurrency: z.int().min(1).max(16).default(2),
    /** threads per evaluation */
    evalThreads: z.int().min(1).max(16).default(1),
    /** scheduler: weight of the document-length-bin family */
    lambda: z.number().finite().min(0).default(1),
    /** seed of the random shuffle the fidelity report and the gradient analyses compare against */
    shuffleSeed: z.int().min(0).default(0),
    signal: z.instanceof(AbortSignal).optional(),
  })
  .strict();
export type DemoOptions = z.input<typeof demoOptionsSchema>;
export type DemoOptionsParsed = z.output<typeof demoOptionsSchema>;

export interface OrderPlan {
  /** sequence ids (into ctx.data.train) in training order, about `budget` tokens */
  order: Uint32Array;
  /** the genre mixture averaged over the order's tokens (a fixed mixture: that mixture) */
  mixture: Float64Array;
  /** what the fidelity report compares the order against: the fixed mixture or the curriculum's target table */
  targets: Float64Array | TargetTable;
  /** the curriculum behind the order (a static mixture is a one-knot curriculum) */
  curriculum: Curriculum;
  /** true for a learned (time-varying) curriculum: it goes to curriculum.json */
  learned?: boolean;
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
  /** the genre mixture averaged over the order */
  mixture: number[];
  /** the curriculum (lossless JSON object, curricula.curriculum format) */
  curriculum: unknown;
  /** realized group shares of the order in windows ending at these token counts */
  realized: { tokens: number[]; shares: number[][] };
  runs: RunResult[];
  targetLoss: MeanStd;
  heldOutLoss: MeanStd;
  perGenre: (MeanStd | null)[];
  fidelity: FidelityReport;
  /** seconds from the start of the configuration's planning to its order */
  planSeconds: number;
  notes?: Record<string, unknown>;
}

export interface DemoResults {
  format: 'curricula.demo';
  version: 2;
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
    influenceDocuments: string[];
    influenceTokens: number;
    heldOutDocuments: number;
    heldOutTokens: number;
    corpusMixture: number[];
  };
  model: { shape: ModelShape; parameters: number };
  checkpoints: number[];
  /** the reference run: the Baseline order trained with referenceSeed; the influence step's models */
  reference: { seed: number; checkpoints: number[]; influenceExamples: { perGenre: number[]; target: number } };
  configurations: ConfigurationResult[];
  /** which configuration's curriculum is in curriculum.json */
  curriculumFile: string;
  analysis: GradientAnalysis | null;
  timings: { stage: string; seconds: number }[];
  totalSeconds: number;
  /** CPU seconds of this process (all threads) over the run */
  cpuSeconds: number;
}

/** Everything a configuration can use while it plans its order. */
export interface DemoContext {
  options: DemoOptionsParsed;
  data: DemoData;
  shape: ModelShape;
  /** checkpoint token counts (geometric) of every run */
  checkpoints: number[];
  /** the training corpus's genre mixture */
  baseMixture: Float64Array;
  progress: DemoProgress;
  signal?: AbortSignal;
  /** greedy order following `mixture` for the budget (or `budget` tokens), continuing `resume` if given */
  scheduleMixture(mixture: Float64Array, opts?: { budget?: number; resume?: Uint32Array; label?: string }): Promise<Uint32Array>;
  /** greedy order following a curriculum for the budget, and the target table it followed */
  scheduleCurriculum(curriculum: Curriculum, opts?: { label?: string }): Promise<{ order: Uint32Array; table: TargetTable }>;
  /** one training run over `order` with the demo's optimiser (checkpoints: the geometric ones unless given) */
  train(order: Uint32Array, seed: number, label?: string, opts?: { checkpoints?: number[]; priority?: number }): Promise<TrainedModel>;
  /** target-set and held-out losses of `params` */
  evaluate(params: Float32Array): Promise<{ target: LossReport; heldOut: LossReport }>;
  /** loss on the influence target set (target-like, never the evaluation documents) */
  evaluateInfluenceTarget(params: Float32Array): Promise<{ influenceTarget: number }>;
  /** the Baseline order (scheduled once) */
  referenceOrder(): Promise<Uint32Array>;
  /** the Baseline order trained once with referenceSeed, checkpoints at the geometric points and the t = 0 curriculum samples */
  referenceRun(): Promise<TrainedModel>;
  /** the checkpoint a run saved for the requested token count */
  checkpointAt(run: TrainedModel, requestedTokens: number): { tokens: number; params: Float32Array };
  /** the influence step at `params` (memoized per parameter array) */
  influence(params: Float32Array, label?: string): Promise<InfluenceResult>;
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

/** Group shares of the order in windows ending at geometric token counts (the realized curriculum). */
export function realizedMixture(data: DemoData, order: Uint32Array, points = 24): { tokens: number[]; shares: number[][] } {
  const set = data.train.set;
  const total = orderTokens({ data }, order);
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

/**
 * At most `n` jobs at once; waiting jobs start by priority (lower first),
 * then in arrival order. A job must not wait for another slot while it holds one.
 */
export function createLimiter(n: number): <T>(fn: () => Promise<T>, priority?: number) => Promise<T> {
  let active = 0;
  let arrivals = 0;
  const queue: { priority: number; seq: number; start: () => void }[] = [];
  const next = () => {
    while (active < n && queue.length > 0) {
      queue.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      const job = queue.shift()!;
      active++;
      job.start();
    }
  };
  return <T>(fn: () => Promise<T>, priority = 1) =>
    new Promise<T>((resolve, reject) => {
      queue.push({
        priority,
        seq: arrivals++,
        start: () => {
          Promise.resolve()
            .then(fn)
            .then(resolve, reject)
            .finally(() => {
              active--;
              next();
            });
        },
      });
      next();
    });
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

function evalSetLoss(ctx: { shape: ModelShape; options: DemoOptionsParsed }, params: Float32Array, set: EvalSet, K: number) {
  return evalLoss(ctx.shape, params, set.tokens, { groups: set.groups, numGroups: K, threads: ctx.options.evalThreads });
}

/** Memoizes an async thunk (the first call starts it). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

export interface DemoRun {
  results: DemoResults;
  /** trained models per configuration, in seed order (not written to disk) */
  models: Map<string, TrainedModel[]>;
  plans: Map<string, OrderPlan>;
  data: DemoData;
  /** the reference run (undefined when nothing needed it) */
  reference?: TrainedModel;
  files: { results: string; report: string; curriculum: string; summary: string };
}

/**
 * Runs the demo and writes results.json, curriculum.json, report.html and
 * report.svg (the main charts) into options.out, each atomically.
 * `configurations` defaults to Baseline, TerRIFIC, TerRIFIC-AVG, Curriculum.
 */
export async function runDemo(
  options: DemoOptions = {},
  configurations: readonly Configuration[] = defaultConfigurations(),
  progress: DemoProgress = silentProgress(),
): Promise<DemoRun> {
  const o = parseOptions(demoOptionsSchema, options);
  if (!Array.isArray(configurations) || configurations.length === 0) throw new ValidationError('configurations', 'Expected at least one configuration');
  const names = configurations.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ValidationError('configurations', `configuration name ${JSON.stringify(dup)} appears twice`);
  // one internal signal: the caller's abort, or the first failure, stops every job
  const internal = new AbortController();
  const onOuterAbort = () => internal.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (o.signal?.aborted) internal.abort();
  const signal = internal.signal;
  const checkAbort = () => {
    if (signal.aborted) throw new AbortError();
  };
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
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

  try {
    // Stage: data
    const data = await stage('data', () => prepareDemoData(o.data));
    const K = data.genres.length;
    const shape: ModelShape = { vocab: data.vocab.words.length, ...o.model };
    const available = data.train.tokens.ids.length;
    if (o.budget > available) {
      throw new ValidationError('budget', `Expected \`budget\` <= ${available} (training tokens) but received ${o.budget}`);
    }
    const checkpoints = geometricCheckpoints(o.budget, o.checkpoints.count, o.checkpoints.first, o.checkpoints.last);
    const baseMixture = corpusMixture(data.train.set);
    const slot = createLimiter(o.concurrency);
    let examples: InfluenceExamples | undefined;
    const influenceMemo = new Map<Float32Array, Promise<InfluenceResult>>();
    let reference: TrainedModel | undefined;
    // the checkpoint token counts each run was asked for (checkpointAt maps them to saved checkpoints)
    const requestedOf = new WeakMap<TrainedModel, number[]>();

    const ctx: DemoContext = {
      options: o,
      data,
      shape,
      checkpoints,
      baseMixture,
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
            threads: 1,
            signal,
            onProgress: (p) => task.update(p.tokens),
          });
          return r.order instanceof Uint32Array ? r.order : Uint32Array.from(r.order, Number);
        } finally {
          task.done();
        }
      },
      async scheduleCurriculum(curriculum, opts = {}) {
        const task = progress.task(`schedule ${opts.label ?? ''}`.trim(), o.budget, 'tokens');
        try {
          const r = await schedule(data.train.set, {
            curriculum,
            lambda: o.lambda,
            budget: o.budget,
            threads: 1,
            signal,
            onProgress: (p) => task.update(p.tokens),
          });
          const order = r.order instanceof Uint32Array ? r.order : Uint32Array.from(r.order, Number);
          return { order, table: r.targets! };
        } finally {
          task.done();
        }
      },
      train(order, seed, label, opts = {}) {
        return slot(async () => {
          const task = progress.task(label ?? `train seed ${seed}`, orderTokens({ data }, order), 'tokens');
          try {
            const wanted = opts.checkpoints ?? checkpoints;
            const run = await trainModel(shape, { seed }, data.train.tokens, order, {
              batchSize: o.batchSize,
              lr: o.lr,
              clipNorm: o.clipNorm,
              checkpoints: wanted,
              signal,
              onProgress: (p) => task.update(p.tokens, `loss ${p.loss.toFixed(3)}`),
            });
            requestedOf.set(run, wanted);
            return run;
          } finally {
            task.done();
          }
        }, opts.priority ?? 1);
      },
      evaluate(params) {
        return slot(async () => {
          const target = await evalSetLoss(ctx, params, data.targetSet, K);
          const heldOut = await evalSetLoss(ctx, params, data.heldOut, K);
          return { target, heldOut };
        }, 1);
      },
      evaluateInfluenceTarget(params) {
        return slot(async () => ({ influenceTarget: (await evalSetLoss(ctx, params, data.influenceTarget, K)).mean }), 0);
      },
      referenceOrder: once(() => ctx.scheduleMixture(baseMixture, { label: 'Baseline' })),
      referenceRun: once(async () => {
        const order = await ctx.referenceOrder();
        const wanted = [...new Set([...checkpoints, ...metaSampleTokensSafe(ctx)])].sort((a, b) => a - b);
        reference = await ctx.train(order, o.referenceSeed, `reference run (seed ${o.referenceSeed})`, { checkpoints: wanted, priority: 0 });
        return reference;
      }),
      checkpointAt(run, requestedTokens) {
        const requested = requestedOf.get(run) ?? checkpoints;
        const i = requested.indexOf(requestedTokens);
        if (i < 0 || i >= run.checkpoints.length) {
          throw new ValidationError('checkpoints', `the run saved no checkpoint for ${requestedTokens} tokens (saved: ${requested.join(', ')})`);
        }
        return run.checkpoints[i];
      },
      influence(params, label) {
        let p = influenceMemo.get(params);
        if (!p) {
          examples ??= influenceExamples(data, o.influence.perGenre, o.influence.seed);
          const ex = examples;
          p = slot(async () => {
            const task = progress.task(label ?? 'influence', o.influence.layers.length * (ex.examples.length + data.influenceTarget.groups.length), 'examples');
            try {
              return await influenceAt(shape, params, data, o.influence, { signal, examples: ex, onProgress: (d) => task.update(d) });
            } finally {
              task.done();
            }
          }, 0);
          influenceMemo.set(params, p);
        }
        return p;
      },
    };

    // Stage: every configuration plans its order and trains + evaluates every seed; the analyses run beside them
    const plans = new Map<string, OrderPlan>();
    const planSeconds = new Map<string, number>();
    const models = new Map<string, TrainedModel[]>();
    const runsOf = new Map<string, RunResult[]>();
    let analysis: GradientAnalysis | null = null;
    await stage('configurations+analysis', async () => {
      const pipelines = configurations.map(async (c) => {
        const t0 = process.hrtime.bigint();
        const plan = await c.plan(ctx);
        plans.set(c.name, plan);
        planSeconds.set(c.name, seconds(t0));
        progress.log(`${c.name}: order planned (${plan.order.length} sequences) in ${seconds(t0).toFixed(1)}s`);
        const batchTokens: number[] = [];
        for (let i = 0; i < plan.order.length; i += o.batchSize) batchTokens.push(orderTokens({ data }, plan.order.subarray(i, i + o.batchSize)));
        const trained: TrainedModel[] = [];
        const runs = await Promise.all(
          o.seeds.map(async (seed, si): Promise<RunResult> => {
            const t1 = process.hrtime.bigint();
            const model = await ctx.train(plan.order, seed, `${c.name} seed ${seed}`);
            const { target, heldOut } = await ctx.evaluate(model.params);
            trained[si] = model;
            return {
              seed,
              tokens: model.tokens,
              targetLoss: target.mean,
              heldOutLoss: heldOut.mean,
              perGenre: heldOut.perGroup!.map((x, j) => (j === data.target ? null : x)),
              curve: downsampleCurve(model, batchTokens),
              checkpointTokens: model.checkpoints.map((cp) => cp.tokens),
              seconds: seconds(t1),
            };
          }),
        );
        models.set(c.name, trained);
        runsOf.set(c.name, runs);
      });
      const analyses = o.analysis.enabled
        ? (async () => {
            const ref = await ctx.referenceRun();
            const order = await ctx.referenceOrder();
            const late = ctx.checkpointAt(ref, checkpoints[checkpoints.length - 1]);
            const task = progress.task('gradient analyses', 100, '%');
            try {
              analysis = await analyseGradients(
                {
                  shape,
                  data,
                  influence: o.influence,
                  signal,
                  slot: (fn) => slot(fn, 1),
                  onProgress: (d, t) => task.update(Math.round((100 * d) / t)),
                },
                late.params,
                `reference run (seed ${o.referenceSeed}) at ${late.tokens} tokens`,
                order,
                o.shuffleSeed,
                o.analysis,
              );
            } finally {
              task.done();
            }
          })()
        : Promise.resolve();
      const all = [...pipelines, analyses];
      // the first failure aborts every other job; report that failure, not the aborts it caused
      const settled = await Promise.allSettled(all.map((p) => p.catch((e) => { internal.abort(); throw e; })));
      const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
      if (failures.length > 0) throw failures.find((e) => !(e instanceof AbortError)) ?? failures[0];
    });

    // Stage: fidelity of every order against its targets
    const fidelity = await stage('fidelity', () =>
      configurations.map((c) => {
        const plan = plans.get(c.name)!;
        return fidelityReport(data.train.set, plan.order, plan.targets, { shuffleSeed: o.shuffleSeed });
      }),
    );

    const configResults: ConfigurationResult[] = configurations.map((c, ci) => {
      const plan = plans.get(c.name)!;
      const mine = runsOf.get(c.name)!;
      return {
        name: c.name,
        description: c.description,
        orderSequences: plan.order.length,
        orderTokens: orderTokens({ data }, plan.order),
        mixture: Array.from(plan.mixture),
        curriculum: JSON.parse(curriculumToJson(plan.curriculum)),
        realized: realizedMixture(data, plan.order),
        runs: mine,
        targetLoss: meanStd(mine.map((r) => r.targetLoss)),
        heldOutLoss: meanStd(mine.map((r) => r.heldOutLoss)),
        perGenre: data.genres.map((_, j) => (j === data.target ? null : meanStd(mine.map((r) => r.perGenre[j] as number)))),
        fidelity: fidelity[ci],
        planSeconds: planSeconds.get(c.name)!,
        ...(plan.notes ? { notes: plan.notes } : {}),
      };
    });
    const learned = configurations.find((c) => plans.get(c.name)!.learned) ?? configurations[0];

    const { signal: _signal, ...shownOptions } = o;
    const results: DemoResults = {
      format: 'curricula.demo',
      version: 2,
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
        influenceDocuments: data.docIds.influence,
        influenceTokens: data.influenceTarget.tokens.ids.length,
        heldOutDocuments: data.docIds.heldOut.length,
        heldOutTokens: data.heldOut.tokens.ids.length,
        corpusMixture: Array.from(baseMixture),
      },
      model: { shape, parameters: paramCount(shape) },
      checkpoints,
      reference: {
        seed: o.referenceSeed,
        checkpoints: reference ? reference.checkpoints.map((cp) => cp.tokens) : [],
        influenceExamples: examples ? { perGenre: examples.perGenre, target: data.influenceTarget.groups.length } : { perGenre: [], target: 0 },
      },
      configurations: configResults,
      curriculumFile: learned.name,
      analysis,
      timings,
      totalSeconds: 0,
      cpuSeconds: 0,
    };

    // Stage: report
    const files = {
      results: path.join(o.out, 'results.json'),
      report: path.join(o.out, 'report.html'),
      curriculum: path.join(o.out, 'curriculum.json'),
      summary: path.join(o.out, 'report.svg'),
    };
    await stage('report', async () => {
      results.totalSeconds = seconds(start);
      results.cpuSeconds = cpuSecondsSince(cpuStart);
      const html = await renderReport(results);
      const svg = await renderSummarySvg(results);
      checkAbort();
      fs.mkdirSync(o.out, { recursive: true });
      writeFileAtomic(files.curriculum, curriculumToJson(plans.get(learned.name)!.curriculum));
      writeFileAtomic(files.summary, svg);
      writeFileAtomic(files.report, html);
    });
    results.totalSeconds = seconds(start);
    results.cpuSeconds = cpuSecondsSince(cpuStart);
    writeFileAtomic(files.results, JSON.stringify(results, null, 2) + '\n');
    return { results, models, plans, data, reference, files };
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** The t = 0 curriculum samples (empty when the checkpoints cannot hold a range). */
function metaSampleTokensSafe(ctx: DemoContext): number[] {
  const cps = ctx.checkpoints;
  return cps[0] < cps[cps.length - 1] ? metaSampleTokens(ctx, 0) : [];
}
