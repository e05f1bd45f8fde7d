/**
 * The demo's configurations: each turns the context into a training order
 * under the same budget and greedy scheduler.
 *   Baseline      the training corpus's genre mixture;
 *   TerRIFIC      a static mixture: softmax(log baseline + η Δℓ), Δℓ from one late checkpoint;
 *   TerRIFIC-AVG  the same with Δℓ averaged over all checkpoints;
 *   Curriculum    Algorithm 1: logits piecewise linear in log tokens, meta-updated
 *                 from Δf samples at seeded log-times of runs under the current curriculum.
 * Target-share configurations (0% / 50% of the target genre) are the sanity check.
 */
import { metaUpdateFromSamples, sampleLogTimes, terrificAverage, terrificStatic } from '../curriculum/algorithm1';
import { createCurriculum, mixtureAt, type Curriculum } from '../curriculum/curriculum';
import { interpolateTable } from '../curriculum/targets';
import { ValidationError } from '../errors';
import { corpusMixture, validateMixture } from '../io/mixture';
import type { InfluenceResult } from './influence';
import type { Configuration, DemoContext, OrderPlan } from './run';

/** Token count of an order. */
export function orderTokens(ctx: Pick<DemoContext, 'data'>, order: Uint32Array): number {
  const off = ctx.data.train.tokens.offsets;
  let t = 0;
  for (const s of order) t += off[s + 1] - off[s];
  return t;
}

/** A configuration that schedules one fixed mixture greedily under the budget. */
export function fixedMixtureConfiguration(
  name: string,
  description: string,
  mixture: (ctx: DemoContext) => Float64Array | Promise<Float64Array>,
): Configuration {
  return {
    name,
    description,
    async plan(ctx) {
      const m = validateMixture(await mixture(ctx), ctx.data.train.set.numGroups, ctx.data.genres);
      const order = await ctx.scheduleMixture(m, { label: name });
      return { order, mixture: m, targets: m, curriculum: createCurriculum({ mixture: m, names: ctx.data.genres }) };
    },
  };
}

/** Baseline: the training corpus's own genre mixture, ordered by the greedy scheduler. */
export const baselineConfiguration: Configuration = {
  name: 'Baseline',
  description: 'corpus mixture + greedy scheduler',
  async plan(ctx) {
    const m = corpusMixture(ctx.data.train.set);
    // the same order the reference (meta) runs train on
    const order = await ctx.referenceOrder();
    return { order, mixture: m, targets: m, curriculum: createCurriculum({ mixture: m, names: ctx.data.genres }) };
  },
};

/**
 * The sanity pair: the same budget with no target-genre tokens, and with
 * `share` of them from the target genre (the rest in corpus proportions).
 */
export function targetShareConfiguration(share: number): Configuration {
  const pct = Math.round(share * 100);
  return fixedMixtureConfiguration(`Target ${pct}%`, `corpus mixture with the target genre's share set to ${pct}%`, (ctx) => {
    const m = corpusMixture(ctx.data.train.set);
    const t = ctx.data.target;
    const rest = 1 - m[t];
    return m.map((x, j) => (j === t ? share : (x * (1 - share)) / rest));
  });
}

function staticPlanNotes(ctx: DemoContext, results: { tokens: number; inf: InfluenceResult }[], eta: number, mixture: Float64Array) {
  return {
    eta,
    checkpoints: results.map((r) => r.tokens),
    delta: results.map((r) => r.inf.delta),
    scores: results.map((r) => r.inf.scores),
    examples: results[0].inf.examples,
    mixtureChange: Array.from(mixture, (p, j) => p - ctx.baseMixture[j]),
  };
}

async function staticTerrific(ctx: DemoContext, name: string, which: 'late' | 'all'): Promise<OrderPlan> {
  const ref = await ctx.referenceRun();
  const tokens = which === 'late' ? [ctx.checkpoints[ctx.checkpoints.length - 1]] : ctx.checkpoints;
  const cps = tokens.map((t) => ctx.checkpointAt(ref, t));
  const results = await Promise.all(cps.map(async (cp) => ({ tokens: cp.tokens, inf: await ctx.influence(cp.params, `influence @${cp.tokens}`) })));
  const base = createCurriculum({ mixture: ctx.baseMixture, names: ctx.data.genres });
  const eta = ctx.options.terrific.eta;
  const cur = which === 'late' ? terrificStatic(base, results[0].inf.delta, eta) : terrificAverage(base, results.map((r) => r.inf.delta), eta);
  const m = mixtureAt(cur, 1);
  const order = await ctx.scheduleMixture(m, { label: name });
  return { order, mixture: m, targets: m, curriculum: cur, notes: staticPlanNotes(ctx, results, eta, m) };
}

/** TerRIFIC: static mixture from the influence at the last (latest) checkpoint of the reference run. */
export const terrificConfiguration: Configuration = {
  name: 'TerRIFIC',
  description: 'static mixture softmax(log baseline + η·Δℓ), Δℓ at one late checkpoint',
  plan: (ctx) => staticTerrific(ctx, 'TerRIFIC', 'late'),
};

/** TerRIFIC-AVG: the same with Δℓ averaged over every checkpoint of the reference run. */
export const terrificAverageConfiguration: Configuration = {
  name: 'TerRIFIC-AVG',
  description: 'static mixture, Δℓ averaged over all checkpoints',
  plan: (ctx) => staticTerrific(ctx, 'TerRIFIC-AVG', 'all'),
};

/** One meta-iteration's record (results.json). */
export interface MetaIteration {
  iteration: number;
  eta: number;
  /** sampled log-time positions, as token counts, in draw order */
  sampleTokens: number[];
  /** token counts the checkpoints actually reached (first step at or past each sample) */
  reachedTokens: number[];
  /** Δf at each sample (Δℓ of the influence step) */
  delta: number[][];
  /** the run's target-like loss (influence target set) at the end of training, nats/token */
  influenceTargetLoss: number;
}

/** The requested sample positions of meta-iteration t (integers; the reference run saves checkpoints there for t = 0). */
export function metaSampleTokens(ctx: Pick<DemoContext, 'checkpoints' | 'options'>, t: number): number[] {
  const c = ctx.options.curriculum;
  const range = { minTokens: ctx.checkpoints[0], maxTokens: ctx.checkpoints[ctx.checkpoints.length - 1] };
  if (!(range.minTokens < range.maxTokens)) {
    throw new ValidationError('checkpoints', `the curriculum samples log-times between the first and last checkpoint, which coincide (${range.minTokens} tokens); use more than one checkpoint`);
  }
  return Array.from(sampleLogTimes(range, c.samples, c.seed, t), (s) => Math.round(Math.exp(s)));
}

/**
 * Algorithm 1 from the baseline curriculum (constant logits over [first, last
 * checkpoint]). Meta-iteration t trains under f_t with the reference seed,
 * saving checkpoints at B seeded log-times, takes Δf = Δℓ at each, and sets
 * f_{t+1} = f_t + η Δf (interpolated in log tokens, clamped). At t = 0 the
 * curriculum is the constant baseline mixture, so that run is the reference run.
 */
export const curriculumConfiguration: Configuration = {
  name: 'Curriculum',
  description: 'TerRIFIC Curricula (Algorithm 1): mixture varies with log tokens',
  async plan(ctx) {
    const c = ctx.options.curriculum;
    const range = { minTokens: ctx.checkpoints[0], maxTokens: ctx.checkpoints[ctx.checkpoints.length - 1] };
    let cur: Curriculum = createCurriculum({ mixture: ctx.baseMixture, knotTokens: [range.minTokens, range.maxTokens], names: ctx.data.genres });
    const iterations: MetaIteration[] = [];
    for (let t = 0; t < c.iterations; t++) {
      const want = metaSampleTokens(ctx, t);
      let run;
      if (t === 0) run = await ctx.referenceRun();
      else {
        const { order } = await ctx.scheduleCurriculum(cur, { label: `Curriculum f_${t}` });
        run = await ctx.train(order, ctx.options.referenceSeed, `meta-iteration ${t}`, { checkpoints: [...want].sort((a, b) => a - b), priority: 0 });
      }
      const cps = want.map((w) => ctx.checkpointAt(run, w));
      const infs = await Promise.all(cps.map((cp) => ctx.influence(cp.params, `influence t=${t} @${cp.tokens}`)));
      const r = metaUpdateFromSamples(cur, cps.map((cp, b) => ({ tokens: cp.tokens, delta: infs[b].delta })), { eta: c.eta, iteration: t });
      const { influenceTarget } = await ctx.evaluateInfluenceTarget(run.params);
      iterations.push({
        iteration: t,
        eta: r.eta,
        sampleTokens: want,
        reachedTokens: cps.map((cp) => cp.tokens),
        delta: infs.map((x) => x.delta),
        influenceTargetLoss: influenceTarget,
      });
      cur = r.curriculum;
    }
    const { order, table } = await ctx.scheduleCurriculum(cur, { label: 'Curriculum' });
    const total = orderTokens(ctx, order);
    const E = interpolateTable(table, cur.groups, total);
    const mixture = Float64Array.from(E, (e) => e / total);
    return { order, mixture, targets: table, curriculum: cur, learned: true, notes: { iterations, range } };
  },
};

export const CONFIGURATIONS: Record<string, Configuration> = {
  baseline: baselineConfiguration,
  terrific: terrificConfiguration,
  'terrific-avg': terrificAverageConfiguration,
  curriculum: curriculumConfiguration,
};

/** The four configurations of the demo, in report order. */
export function defaultConfigurations(): Configuration[] {
  return [baselineConfiguration, terrificConfiguration, terrificAverageConfiguration, curriculumConfiguration];
}

/** Configurations by CLI name (baseline, terrific, terrific-avg, curriculum), in the given order. */
export function configurationsByName(names: readonly string[], field = 'configurations'): Configuration[] {
  if (names.length === 0) throw new ValidationError(field, `Expected at least one configuration in \`${field}\``);
  return names.map((n) => {
    const c = CONFIGURATIONS[n.trim().toLowerCase()];
    if (!c) throw new ValidationError(field, `Unknown configuration ${JSON.stringify(n)} in \`${field}\`; expected one of ${Object.keys(CONFIGURATIONS).join(', ')}`);
    return c;
  });
}
