/**
 * The demo's next-token language model (C++ core in cpp/model): a Bengio-style
 * feed-forward model over the previous `context` tokens, trained with SGD in
 * one pass over a given sequence order. The contracts for per-example
 * gradients are in docs/demo.md.
 */
import { z } from 'zod';

import {
  binding,
  nativeError,
  type NativeModelShape,
  type NativeTokenSequences,
  type NativeTrainResult,
} from '../binding';
import { parseOptions } from '../config';
import { AbortError, ValidationError, describeValue } from '../errors';

export type ModelShape = NativeModelShape;
export type LayerName = 'hidden' | 'output';
export const LAYERS: readonly LayerName[] = ['hidden', 'output'];

/** Token sequences in CSR form: sequence i is ids[offsets[i] .. offsets[i+1]). */
export type TokenSequences = NativeTokenSequences;

/** Token id 0 is <eos>; it also pads the context before a sequence's first token. */
export const PAD_TOKEN = 0;

// Tag checks rather than instanceof: arrays made by the addon may come from another realm (e.g. under jest).
function isF32(v: unknown): v is Float32Array {
  return Object.prototype.toString.call(v) === '[object Float32Array]';
}
function isU32(v: unknown): v is Uint32Array {
  return Object.prototype.toString.call(v) === '[object Uint32Array]';
}

const shapeSchema = z
  .object({
    vocab: z.int().min(2).max(1 << 20),
    context: z.int().min(1).max(64),
    embed: z.int().min(1).max(4096),
    hidden: z.int().min(1).max(4096),
  })
  .strict();

export function validateShape(shape: ModelShape): ModelShape {
  return parseOptions(shapeSchema, shape, 'shape');
}

/** Number of floats in the flat parameter vector (layout in docs/demo.md). */
export function paramCount(s: ModelShape): number {
  return s.vocab * s.embed + s.context * s.embed * s.hidden + s.hidden + s.hidden * s.vocab + s.vocab;
}

/** Input (without the bias column) and output width of a dense layer. */
export function layerDims(s: ModelShape, layer: LayerName): { in: number; out: number } {
  return layer === 'hidden' ? { in: s.context * s.embed, out: s.hidden } : { in: s.hidden, out: s.vocab };
}

function checkParams(shape: ModelShape, params: unknown, field = 'params'): Float32Array {
  if (!isF32(params)) {
    throw new ValidationError(field, `Expected Float32Array for \`${field}\` but received ${describeValue(params)}`);
  }
  const want = paramCount(shape);
  if (params.length !== want) {
    throw new ValidationError(field, `\`${field}\` has ${params.length} entries but the model needs ${want}`);
  }
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) throw new ValidationError(`${field}[${i}]`, `${field}[${i}] = ${params[i]} is not finite`);
  }
  return params;
}

/** Checks ids against the vocabulary and offsets for shape (nonempty sequences, in order). */
export function validateTokenSequences(seqs: TokenSequences, vocab: number): void {
  if (!isU32(seqs?.ids)) {
    throw new ValidationError('ids', `Expected Uint32Array for \`ids\` but received ${describeValue(seqs?.ids)}`);
  }
  if (!isU32(seqs.offsets) || seqs.offsets.length < 1) {
    throw new ValidationError('offsets', `Expected nonempty Uint32Array for \`offsets\` but received ${describeValue(seqs.offsets)}`);
  }
  const { ids, offsets } = seqs;
  if (offsets[0] !== 0) throw new ValidationError('offsets[0]', `offsets[0] must be 0 but is ${offsets[0]}`);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] <= offsets[i - 1]) {
      throw new ValidationError(`offsets[${i}]`, `offsets[${i}] = ${offsets[i]} must exceed offsets[${i - 1}] = ${offsets[i - 1]} (sequences are nonempty)`);
    }
  }
  if (offsets[offsets.length - 1] !== ids.length) {
    throw new ValidationError('offsets', `\`offsets\` ends at ${offsets[offsets.length - 1]} but \`ids\` has ${ids.length} entries`);
  }
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= vocab) throw new ValidationError(`ids[${i}]`, `ids[${i}] = ${ids[i]} is out of range [0, ${vocab}) (vocab)`);
  }
}

function checkIndices(field: string, idx: unknown, limit: number): Uint32Array {
  if (!isU32(idx)) {
    throw new ValidationError(field, `Expected Uint32Array for \`${field}\` but received ${describeValue(idx)}`);
  }
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] >= limit) throw new ValidationError(`${field}[${i}]`, `${field}[${i}] = ${idx[i]} is out of range [0, ${limit})`);
  }
  return idx;
}

function checkLayer(layer: unknown): LayerName {
  if (layer !== 'hidden' && layer !== 'output') {
    throw new ValidationError('layer', `Expected 'hidden' or 'output' for \`layer\` but received ${describeValue(layer)}`);
  }
  return layer;
}

/** Deterministic initial parameters (counter RNG: the same seed gives the same floats everywhere). */
export function initModel(shape: ModelShape, seed: number): Float32Array {
  validateShape(shape);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ValidationError('seed', `Expected non-negative integer for \`seed\` but received ${describeValue(seed)}`);
  }
  return binding().modelInit(shape, seed);
}

// ---------------------------------------------------------------------------
// Learning-rate schedules

export const lrScheduleSchema = z
  .object({
    /** Peak learning rate. */
    peak: z.number().finite().positive(),
    /** Shape after warm-up: constant, linear decay or cosine decay to `final` x peak. */
    decay: z.enum(['constant', 'linear', 'cosine']).default('cosine'),
    /** Steps of linear warm-up from 0. */
    warmupSteps: z.int().min(0).default(0),
    /** Learning rate at the last step as a fraction of the peak. */
    final: z.number().min(0).max(1).default(0.1),
  })
  .strict();
export type LrSchedule = z.input<typeof lrScheduleSchema>;

/** The learning rate of every step. */
export function learningRates(steps: number, schedule: LrSchedule): Float32Array {
  if (!Number.isSafeInteger(steps) || steps < 0) {
    throw new ValidationError('steps', `Expected non-negative integer for \`steps\` but received ${describeValue(steps)}`);
  }
  const s = parseOptions(lrScheduleSchema, schedule, 'lr');
  const lr = new Float32Array(steps);
  const decaySteps = Math.max(1, steps - s.warmupSteps - 1);
  for (let i = 0; i < steps; i++) {
    if (i < s.warmupSteps) {
      lr[i] = (s.peak * (i + 1)) / (s.warmupSteps + 1);
      continue;
    }
    const x = Math.min(1, (i - s.warmupSteps) / decaySteps);
    const f = s.decay === 'constant' ? 1 : s.decay === 'linear' ? 1 - x * (1 - s.final) : s.final + (1 - s.final) * 0.5 * (1 + Math.cos(Math.PI * x));
    lr[i] = s.peak * f;
  }
  return lr;
}

// ---------------------------------------------------------------------------
// Training

export interface TrainProgress {
  step: number;
  steps: number;
  tokens: number;
  loss: number;
}

const trainOptionsSchema = z
  .object({
    /** Sequences per SGD step; consecutive sequences of the order form a batch. */
    batchSize: z.int().min(1).max(0xffffffff),
    /** A schedule, or one rate per step (Float32Array). */
    lr: z.union([z.custom<Float32Array>(isF32, 'Expected Float32Array'), lrScheduleSchema]),
    /** Token counts (nondecreasing) after which the parameters are saved. */
    checkpoints: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).default([]),
    /** Clip the global gradient norm to this (0 = off). */
    clipNorm: z.number().finite().min(0).default(0),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();
export type TrainOptions = Omit<z.input<typeof trainOptionsSchema>, 'onProgress'> & {
  onProgress?: (p: TrainProgress) => void;
};

export interface TrainedModel {
  shape: ModelShape;
  params: Float32Array;
  checkpoints: { tokens: number; params: Float32Array }[];
  /** mean training loss (nats/token) of every step's batch */
  stepLoss: Float32Array;
  tokens: number;
}

function prepareTraining(
  shape: ModelShape,
  init: Float32Array | { seed: number },
  seqs: TokenSequences,
  order: Uint32Array,
  options: TrainOptions,
) {
  validateShape(shape);
  const params = isF32(init) ? checkParams(shape, init, 'init') : initModel(shape, init?.seed);
  const o = parseOptions(trainOptionsSchema, options);
  validateTokenSequences(seqs, shape.vocab);
  checkIndices('order', order, seqs.offsets.length - 1);
  const steps = Math.ceil(order.length / o.batchSize);
  const lr = isF32(o.lr) ? o.lr : learningRates(steps, o.lr);
  if (lr.length !== steps) {
    throw new ValidationError('lr', `\`lr\` has ${lr.length} entries but training takes ${steps} steps`);
  }
  lr.forEach((x, i) => {
    if (!Number.isFinite(x) || x < 0) throw new ValidationError(`lr[${i}]`, `lr[${i}] = ${x} must be finite and >= 0`);
  });
  o.checkpoints.forEach((c, i) => {
    if (i > 0 && c < o.checkpoints[i - 1]) {
      throw new ValidationError(`checkpoints[${i}]`, `checkpoints must be nondecreasing but checkpoints[${i}] = ${c} < ${o.checkpoints[i - 1]}`);
    }
  });
  const native = { batchSize: o.batchSize, lr, checkpoints: Float64Array.from(o.checkpoints), clipNorm: o.clipNorm };
  return { params, native, signal: o.signal };
}

function trained(shape: ModelShape, r: NativeTrainResult): TrainedModel {
  return {
    shape,
    params: r.params,
    checkpoints: r.checkpointParams.map((params, i) => ({ tokens: r.checkpointTokens[i], params })),
    stepLoss: r.stepLoss,
    tokens: r.tokens,
  };
}

/**
 * One pass of SGD over `order` (sequence ids into `seqs`) off the event loop.
 * Rejects with AbortError when `signal` aborts. Deterministic: the same inputs
 * give bit-identical parameters.
 */
export async function trainModel(
  shape: ModelShape,
  init: Float32Array | { seed: number },
  seqs: TokenSequences,
  order: Uint32Array,
  options: TrainOptions,
): Promise<TrainedModel> {
  const { params, native, signal } = prepareTraining(shape, init, seqs, order, options);
  if (signal?.aborted) throw new AbortError();
  const onProgress = options.onProgress;
  const job = binding().modelTrain(
    shape,
    params,
    seqs,
    order,
    native,
    onProgress ? (step, steps, tokens, loss) => onProgress({ step, steps, tokens, loss }) : undefined,
  );
  const abort = () => job.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return trained(shape, await job.promise);
  } catch (e) {
    throw nativeError(e);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/** Synchronous variant (blocks the event loop; for tests and small runs). */
export function trainModelSync(
  shape: ModelShape,
  init: Float32Array | { seed: number },
  seqs: TokenSequences,
  order: Uint32Array,
  options: Omit<TrainOptions, 'signal' | 'onProgress'>,
): TrainedModel {
  const { params, native } = prepareTraining(shape, init, seqs, order, options);
  try {
    return trained(shape, binding().modelTrainSync(shape, params, seqs, order, native));
  } catch (e) {
    throw nativeError(e);
  }
}

// ---------------------------------------------------------------------------
// Evaluation

export interface LossReport {
  /** mean next-token cross-entropy over all tokens, nats/token */
  mean: number;
  tokens: number;
  /** per group (when groups are given): mean nats/token, null for groups without tokens */
  perGroup?: (number | null)[];
  groupTokens?: number[];
}

export interface EvalOptions {
  /** group of every sequence, for per-group means */
  groups?: Uint32Array;
  numGroups?: number;
  /** worker threads (results never depend on it); default 1 */
  threads?: number;
}

function prepareEval(shape: ModelShape, params: Float32Array, seqs: TokenSequences, opts: EvalOptions): number {
  validateShape(shape);
  checkParams(shape, params);
  validateTokenSequences(seqs, shape.vocab);
  const n = seqs.offsets.length - 1;
  if (opts.groups !== undefined) {
    if (!isU32(opts.groups) || opts.groups.length !== n) {
      throw new ValidationError('groups', `Expected Uint32Array of ${n} entries (one per sequence) for \`groups\` but received ${describeValue(opts.groups)}`);
    }
    const K = opts.numGroups ?? opts.groups.reduce((a, b) => Math.max(a, b + 1), 0);
    if (!Number.isSafeInteger(K) || K < 1) {
      throw new ValidationError('numGroups', `Expected positive integer for \`numGroups\` but received ${describeValue(K)}`);
    }
    checkIndices('groups', opts.groups, K);
  }
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new ValidationError('threads', `Expected integer in [1, 64] for \`threads\` but received ${describeValue(threads)}`);
  }
  return threads;
}

function summarizeLoss(seqs: TokenSequences, losses: Float64Array, opts: EvalOptions): LossReport {
  let sum = 0;
  for (let i = 0; i < losses.length; i++) sum += losses[i];
  const tokens = seqs.ids.length;
  const mean = sum / tokens;
  if (!Number.isFinite(mean)) throw new ValidationError('params', `the model's loss is not finite (${mean})`);
  const report: LossReport = { mean, tokens };
  if (opts.groups) {
    const K = opts.numGroups ?? opts.groups.reduce((a, b) => Math.max(a, b + 1), 0);
    const gs = new Array<number>(K).fill(0);
    const gt = new Array<number>(K).fill(0);
    for (let i = 0; i < losses.length; i++) {
      gs[opts.groups[i]] += losses[i];
      gt[opts.groups[i]] += seqs.offsets[i + 1] - seqs.offsets[i];
    }
    report.perGroup = gs.map((s, j) => (gt[j] > 0 ? s / gt[j] : null));
    report.groupTokens = gt;
  }
  return report;
}

/** Mean next-token cross-entropy (nats/token), overall and per group, off the event loop. */
export async function evalLoss(shape: ModelShape, params: Float32Array, seqs: TokenSequences, opts: EvalOptions = {}): Promise<LossReport> {
  const threads = prepareEval(shape, params, seqs, opts);
  try {
    return summarizeLoss(seqs, await binding().modelSequenceLosses(shape, params, seqs, threads), opts);
  } catch (e) {
    throw nativeError(e);
  }
}

export function evalLossSync(shape: ModelShape, params: Float32Array, seqs: TokenSequences, opts: EvalOptions = {}): LossReport {
  const threads = prepareEval(shape, params, seqs, opts);
  try {
    return summarizeLoss(seqs, binding().modelSequenceLossesSync(shape, params, seqs, threads), opts);
  } catch (e) {
    throw nativeError(e);
  }
}

/** Summed loss (nats) of every sequence. */
export function sequenceLossesSync(shape: ModelShape, params: Float32Array, seqs: TokenSequences, threads = 1): Float64Array {
  prepareEval(shape, params, seqs, { threads });
  try {
    return binding().modelSequenceLossesSync(shape, params, seqs, threads);
  } catch (e) {
    throw nativeError(e);
  }
}

// ---------------------------------------------------------------------------
// Per-example gradients (contracts in docs/demo.md)

export interface LinearInputs {
  layer: LayerName;
  /** columns of `acts`: the layer's input width + 1 (a trailing constant 1 for the bias) */
  in: number;
  /** columns of `grads`: the layer's output width */
  out: number;
  /** [tokens][in] layer inputs a_t */
  acts: Float32Array;
  /** [tokens][out] d loss_t / d (layer output z_t) */
  grads: Float32Array;
  /** n+1 row offsets: example e owns token rows exampleOffsets[e] .. exampleOffsets[e+1] */
  exampleOffsets: Uint32Array;
}

function allExamples(seqs: TokenSequences): Uint32Array {
  return Uint32Array.from({ length: seqs.offsets.length - 1 }, (_, i) => i);
}

/**
 * For every example (sequence) and token: the layer's input a_t (with a
 * trailing 1) and the gradient g_t of that token's loss with respect to the
 * layer's output. The example's gradient of its summed loss with respect to
 * the layer's [W; b] (in x out) is sum_t a_t g_t^T.
 */
export function perExampleLinearInputs(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  layer: LayerName,
  examples?: Uint32Array,
): LinearInputs {
  const ex = prepareExamples(shape, params, seqs, layer, examples);
  try {
    return { layer, ...binding().modelLinearInputs(shape, params, seqs, ex, layer) };
  } catch (e) {
    throw nativeError(e);
  }
}

/** perExampleLinearInputs off the event loop. */
export async function perExampleLinearInputsAsync(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  layer: LayerName,
  examples?: Uint32Array,
): Promise<LinearInputs> {
  const ex = prepareExamples(shape, params, seqs, layer, examples);
  try {
    return { layer, ...(await binding().modelLinearInputsAsync(shape, params, seqs, ex, layer)) };
  } catch (e) {
    throw nativeError(e);
  }
}

function prepareExamples(shape: ModelShape, params: Float32Array, seqs: TokenSequences, layer: LayerName, examples?: Uint32Array): Uint32Array {
  validateShape(shape);
  checkParams(shape, params);
  checkLayer(layer);
  validateTokenSequences(seqs, shape.vocab);
  return examples === undefined ? allExamples(seqs) : checkIndices('examples', examples, seqs.offsets.length - 1);
}

function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new ValidationError('threads', `Expected integer in [1, 64] for \`threads\` but received ${describeValue(threads)}`);
  }
  return threads;
}

/** Per-example gradient of the summed loss for one layer: [n][in+1][out] (weights, then the bias row). */
export function perExampleGradients(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  layer: LayerName,
  examples?: Uint32Array,
  threads = 1,
): Float32Array {
  const ex = prepareExamples(shape, params, seqs, layer, examples);
  try {
    return binding().modelExampleGradients(shape, params, seqs, ex, layer, checkThreads(threads));
  } catch (e) {
    throw nativeError(e);
  }
}

/** perExampleGradients off the event loop. */
export async function perExampleGradientsAsync(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  layer: LayerName,
  examples?: Uint32Array,
  threads = 1,
): Promise<Float32Array> {
  const ex = prepareExamples(shape, params, seqs, layer, examples);
  try {
    return await binding().modelExampleGradientsAsync(shape, params, seqs, ex, layer, checkThreads(threads));
  } catch (e) {
    throw nativeError(e);
  }
}

export interface BatchGradients {
  layer: LayerName;
  numBatches: number;
  /** examples per batch */
  rows: number;
  /** flattened per-example gradient: (in+1) * out */
  cols: number;
  /** [numBatches][rows][cols]: row r of batch b is the gradient of example batches[b][r] */
  data: Float32Array;
}

/**
 * Per-example gradient rows of equal-sized batches, one matrix per batch, for
 * the stable rank of batch gradients per layer (docs/demo.md).
 */
export function batchGradients(
  shape: ModelShape,
  params: Float32Array,
  seqs: TokenSequences,
  batches: readonly Uint32Array[],
  layer: LayerName,
  threads = 1,
): BatchGradients {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new ValidationError('batches', `Expected a nonempty array of Uint32Array for \`batches\` but received ${describeValue(batches)}`);
  }
  const rows = batches[0]?.length;
  batches.forEach((b, i) => {
    if (!isU32(b) || b.length !== rows || rows === 0) {
      throw new ValidationError(`batches[${i}]`, `Expected \`batches[${i}]\` to be a Uint32Array of ${rows} (nonzero) sequence ids like batches[0] but received ${describeValue(b)}`);
    }
  });
  const examples = new Uint32Array(batches.length * rows);
  batches.forEach((b, i) => examples.set(b, i * rows));
  const d = layerDims(shape, checkLayer(layer));
  const data = perExampleGradients(shape, params, seqs, layer, examples, threads);
  return { layer, numBatches: batches.length, rows, cols: (d.in + 1) * d.out, data };
}
