/**
 * The demo's TerRIFIC measuring step: per-example gradients of the model's
 * dense layers, Kronecker-projected (perExampleLinearInputs -> the influence
 * accumulator's 'kronecker' projection), summed per genre and over the
 * influence target set, scored per layer (I_j = ḡ_jᵀ R⁻¹ v̄) and normalised
 * into the logit increment Δℓ (one entry per genre).
 */
import { z } from 'zod';

import { parseOptions } from '../config';
import { AbortError, ValidationError } from '../errors';
import { InfluenceAccumulator, projectGradientsSync } from '../influence/accumulator';
import { normaliseOptionsSchema, normaliseScores } from '../influence/normalise';
import { influenceDeltaAsync } from '../influence/scores';
import type { InfluenceState } from '../influence/state';
import type { DemoData } from './data';
import {
  layerDims,
  perExampleLinearInputsAsync,
  type LayerName,
  type LinearInputs,
  type ModelShape,
  type TokenSequences,
} from './model';
import { hashKey } from './split';

export const influenceOptionsSchema = z
  .object({
    /** training sequences sampled per genre (only sequences that hold one genre), seeded */
    perGenre: z.int().min(1).max(100000).default(24),
    /** dense layers whose gradients form the features; scores are summed over layers (block-diagonal R) */
    layers: z.array(z.enum(['hidden', 'output'])).min(1).default(['hidden', 'output']),
    /** Kronecker projection widths (capped at the layer's input + 1 and output widths) */
    inProj: z.int().min(1).max(4096).default(16),
    outProj: z.int().min(1).max(4096).default(16),
    /** seed of the projection and of the training subsample */
    seed: z.int().min(0).max(0xffffffff).default(0),
    /** damping: the smallest with cond(R) <= maxCondition (as the public reference) */
    maxCondition: z.number().finite().gt(1).default(1e4),
    /** how summed scores become Δℓ (z-score, clip ±5, step 0.2) */
    normalise: normaliseOptionsSchema.default(() => normaliseOptionsSchema.parse({})),
    /** examples per native call (memory: about tokens x (in + out) floats per example) */
    batch: z.int().min(1).max(4096).default(64),
  })
  .strict();
export type InfluenceOptions = z.input<typeof influenceOptionsSchema>;
export type InfluenceOptionsParsed = z.output<typeof influenceOptionsSchema>;

/** Errors name the field under `influence.` (as in the demo's options). */
export function parseInfluenceOptions(options: unknown): InfluenceOptionsParsed {
  return parseOptions(z.object({ influence: influenceOptionsSchema }), { influence: options ?? {} }).influence;
}

/** The state with its arrays copied into this realm (the addon's arrays fail `instanceof` checks under jest's vm realms). */
function ownState(s: InfluenceState): InfluenceState {
  return { ...s, count: Float64Array.from(s.count), sum: Float64Array.from(s.sum), targetSum: Float64Array.from(s.targetSum), cov: Float64Array.from(s.cov) };
}

/** The training examples of the influence step: up to perGenre one-genre sequences per genre. */
export interface InfluenceExamples {
  examples: Uint32Array;
  /** genre of every example */
  cluster: Int32Array;
  /** sampled sequences per genre */
  perGenre: number[];
}

/**
 * Up to `perGenre` training sequences of each genre whose segments all belong
 * to that genre, ranked by hashKey(seed, sequence id) (a seeded sample).
 */
export function influenceExamples(data: DemoData, perGenre: number, seed: number): InfluenceExamples {
  const set = data.train.set;
  const K = set.numGroups;
  const byGenre: number[][] = Array.from({ length: K }, () => []);
  const M = set.offsets.length - 1;
  for (let s = 0; s < M; s++) {
    const a = Number(set.offsets[s]);
    const b = Number(set.offsets[s + 1]);
    let pure = true;
    for (let i = a + 1; i < b; i++) pure &&= set.group[i] === set.group[a];
    if (pure) byGenre[set.group[a]].push(s);
  }
  const examples: number[] = [];
  const cluster: number[] = [];
  const counts: number[] = [];
  byGenre.forEach((list, g) => {
    const picked = list
      .map((s) => ({ s, key: hashKey(seed, String(s)) }))
      .sort((x, y) => x.key - y.key || x.s - y.s)
      .slice(0, perGenre)
      .map((x) => x.s)
      .sort((x, y) => x - y);
    counts.push(picked.length);
    for (const s of picked) {
      examples.push(s);
      cluster.push(g);
    }
  });
  return { examples: Uint32Array.from(examples), cluster: Int32Array.from(cluster), perGenre: counts };
}

/**
 * Per-example activations and output gradients of a batch, each example padded
 * with zero rows to the batch's longest (a zero row adds nothing to
 * sum_t g_t a_tᵀ), in the accumulator's n x tokens x width layout.
 */
export function padLinearInputs(li: LinearInputs): { activations: Float32Array; outGrads: Float32Array; tokens: number; n: number } {
  const n = li.exampleOffsets.length - 1;
  let T = 1;
  let uniform = true;
  for (let e = 0; e < n; e++) {
    const len = li.exampleOffsets[e + 1] - li.exampleOffsets[e];
    uniform &&= e === 0 || len === T;
    T = Math.max(T, len);
  }
  if (uniform && n > 0) return { activations: li.acts, outGrads: li.grads, tokens: T, n }; // already n x T rows
  const activations = new Float32Array(n * T * li.in);
  const outGrads = new Float32Array(n * T * li.out);
  for (let e = 0; e < n; e++) {
    const a = li.exampleOffsets[e];
    const b = li.exampleOffsets[e + 1];
    activations.set(li.acts.subarray(a * li.in, b * li.in), e * T * li.in);
    outGrads.set(li.grads.subarray(a * li.out, b * li.out), e * T * li.out);
  }
  return { activations, outGrads, tokens: T, n };
}

/** The Kronecker projection the demo uses for `layer` (widths capped at the layer's). */
export function layerProjection(shape: ModelShape, layer: LayerName, o: Pick<InfluenceOptionsParsed, 'inProj' | 'outProj' | 'seed'>) {
  const d = layerDims(shape, layer);
  const inDim = d.in + 1;
  return { kind: 'kronecker' as const, inDim, outDim: d.out, inProj: Math.min(o.inProj, inDim), outProj: Math.min(o.outProj, d.out), seed: o.seed };
}

/** Calls fn with the padded linear inputs of `examples`, `batch` at a time. */
async function forBatches(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  examples: Uint32Array,
  layer: LayerName,
  batch: number,
  fn: (b: ReturnType<typeof padLinearInputs>, first: number) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  for (let i = 0; i < examples.length; i += batch) {
    if (signal?.aborted) throw new AbortError();
    const li = await perExampleLinearInputsAsync(shape, params, seqs, layer, examples.subarray(i, i + batch));
    await fn(padLinearInputs(li), i);
  }
}

/**
 * Kronecker features (n x d, double, unclipped) of `examples` for one layer:
 * exactly the rows the influence accumulator sums.
 */
export async function kroneckerFeatures(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  examples: Uint32Array,
  layer: LayerName,
  projection: Pick<InfluenceOptionsParsed, 'inProj' | 'outProj' | 'seed'>,
  options: { batch?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ data: Float64Array; rows: number; cols: number }> {
  const p = layerProjection(shape, layer, projection);
  const cols = p.inProj * p.outProj;
  const data = new Float64Array(examples.length * cols);
  await forBatches(
    shape,
    params,
    seqs,
    examples,
    layer,
    options.batch ?? 64,
    (b, first) => {
      data.set(projectGradientsSync(p, { activations: b.activations, outGrads: b.outGrads, tokens: b.tokens }, { threads: 1 }), first * cols);
      options.onProgress?.(first + b.n, examples.length);
    },
    options.signal,
  );
  return { data, rows: examples.length, cols };
}

export interface LayerInfluence {
  layer: LayerName;
  dim: number;
  /** raw scores I_j of this layer (0 for genres without examples) */
  scores: number[];
  damping: number;
  condition: number;
}

export interface InfluenceResult {
  /** Δℓ per genre: the normalised sum of the layers' scores */
  delta: number[];
  /** summed raw scores per genre */
  scores: number[];
  layers: LayerInfluence[];
  /** training examples per genre and target examples */
  examples: { perGenre: number[]; target: number };
  /** genres without training examples (Δℓ = 0) */
  excluded: number[];
}

/**
 * The static TerRIFIC step at `params`: Δℓ from the genres' training samples
 * against the influence target set (data.influenceTarget, never the
 * evaluation target set).
 */
export async function influenceAt(
  shape: ModelShape,
  params: Float32Array,
  data: DemoData,
  options: InfluenceOptions,
  run: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; examples?: InfluenceExamples } = {},
): Promise<InfluenceResult> {
  const o = parseInfluenceOptions(options);
  const K = data.train.set.numGroups;
  const ex = run.examples ?? influenceExamples(data, o.perGenre, o.seed);
  if (ex.examples.length === 0) throw new ValidationError('influence.perGenre', 'no training sequence holds a single genre; the influence step has no examples');
  const targetSeqs = data.influenceTarget.tokens;
  const targetExamples = Uint32Array.from({ length: targetSeqs.offsets.length - 1 }, (_, i) => i);
  const total = o.layers.length * (ex.examples.length + targetExamples.length);
  let done = 0;
  const layers: LayerInfluence[] = [];
  let included: Uint8Array | undefined;
  for (const layer of o.layers) {
    const projection = layerProjection(shape, layer, o);
    const acc = new InfluenceAccumulator({ projection, numClusters: K, threads: 1 });
    await forBatches(shape, params, data.train.tokens, ex.examples, layer, o.batch, async (b, first) => {
      await acc.add({ ...b, cluster: ex.cluster.subarray(first, first + b.n) }, { signal: run.signal });
      run.onProgress?.((done += b.n), total);
    }, run.signal);
    await forBatches(shape, params, targetSeqs, targetExamples, layer, o.batch, async (b) => {
      await acc.add({ ...b, cluster: new Int32Array(b.n), target: new Uint8Array(b.n).fill(1) }, { signal: run.signal });
      run.onProgress?.((done += b.n), total);
    }, run.signal);
    const r = await influenceDeltaAsync(ownState(acc.state()), { maxCondition: o.maxCondition, threads: 1, signal: run.signal });
    included = r.included;
    layers.push({ layer, dim: acc.dim, scores: Array.from(r.scores), damping: r.damping, condition: r.condition });
  }
  const scores = new Float64Array(K);
  for (const l of layers) l.scores.forEach((x, j) => (scores[j] += x));
  const delta = normaliseScores(scores, o.normalise, included);
  for (const x of delta) if (!Number.isFinite(x)) throw new ValidationError('influence', `non-finite Δℓ ${x}; the scores were ${Array.from(scores).join(', ')}`);
  return {
    delta: Array.from(delta),
    scores: Array.from(scores),
    layers,
    examples: { perGenre: ex.perGenre, target: targetExamples.length },
    excluded: Array.from({ length: K }, (_, j) => j).filter((j) => !included![j]),
  };
}
