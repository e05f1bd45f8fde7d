/**
 * The streaming influence accumulator: clips and projects per-example
 * gradients and keeps per-cluster sums, the target sum and the projected
 * covariance (cpp/influence/accumulator.hpp). States from many workers merge
 * with mergeStates (lib/influence/state.ts). See docs/influence.md.
 */
import { z } from 'zod';

import { binding, nativeError, type NativeGradBatch, type NativeInfluenceAccumulator, type NativeInfluenceDelta, type NativeProjectionSpec } from '../binding';
import { parseOptions } from '../config';
import { deviceSchema, resolveDevice } from '../device';
import { AbortError, ValidationError, describeValue } from '../errors';
import { GradientSource, type GradDtype } from './readers';
import type { InfluenceMeta, InfluenceState } from './state';

const seedSchema = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.bigint().min(0n).max(2n ** 64n - 1n)]);
const positiveInt = z.number().int().positive().max(2 ** 31 - 1);

export const projectionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('dense'), inputDim: positiveInt, dim: positiveInt, seed: seedSchema.default(0) }).strict(),
  z.object({ kind: z.literal('rademacher'), inputDim: positiveInt, dim: positiveInt, seed: seedSchema.default(0) }).strict(),
  z
    .object({
      kind: z.literal('kronecker'),
      inDim: positiveInt,
      outDim: positiveInt,
      inProj: positiveInt,
      outProj: positiveInt,
      seed: seedSchema.default(0),
    })
    .strict(),
]);
export type ProjectionOptions = z.input<typeof projectionSchema>;
type ProjectionParsed = z.output<typeof projectionSchema>;

export const accumulatorOptionsSchema = z
  .object({
    projection: projectionSchema,
    numClusters: positiveInt,
    /** absolute per-example L2 clipping threshold t > 0; omitted = no clipping */
    clip: z.number().finite().positive().optional(),
    /** recorded in the state's metadata when `clip` came from a percentile of norms */
    clipPercentile: z.number().finite().gt(0).max(100).optional(),
    /** native threads; results do not depend on it */
    threads: z.number().int().min(1).max(256).default(2),
    /** 'cuda' runs the CUDA twin (docs/cuda.md); 'auto' uses it when available */
    device: deviceSchema,
  })
  .strict();
export type AccumulatorOptions = z.input<typeof accumulatorOptionsSchema>;

/** A batch of examples: gradients (dense, rademacher) or layer activations and output gradients (kronecker). */
export interface GradBatch {
  /** n x D row-major; Float32Array (f32) or raw Uint16Array bits (f16, bf16) */
  grads?: Float32Array | Uint16Array;
  dtype?: GradDtype;
  /** kronecker: n x tokens x inDim */
  activations?: Float32Array;
  /** kronecker: n x tokens x outDim */
  outGrads?: Float32Array;
  /** kronecker: tokens per example */
  tokens?: number;
  /** n cluster ids in [0, numClusters); ignored for target rows */
  cluster?: Int32Array | BigInt64Array | readonly number[];
  /** n flags (0/1); 1 marks a target example. Omitted: no targets. */
  target?: Uint8Array | readonly (boolean | number)[];
}

export interface BatchProgress {
  rowsDone: number;
  rows: number;
}

/** Typed-array check by tag, so arrays from another realm (the addon, a vm context) pass. */
function isTyped<T extends ArrayBufferView>(v: unknown, name: string): v is T {
  return Object.prototype.toString.call(v) === `[object ${name}]`;
}

function checkValidation(spec: ProjectionParsed): void {
  if (spec.kind === 'kronecker') {
    if (spec.inProj > spec.inDim) throw new ValidationError('projection.inProj', `Expected \`projection.inProj\` <= inDim = ${spec.inDim} but received ${spec.inProj}`);
    if (spec.outProj > spec.outDim) throw new ValidationError('projection.outProj', `Expected \`projection.outProj\` <= outDim = ${spec.outDim} but received ${spec.outProj}`);
  } else if (spec.dim > spec.inputDim) {
    throw new ValidationError('projection.dim', `Expected \`projection.dim\` <= inputDim = ${spec.inputDim} (the gradient dimension) but received ${spec.dim}`);
  }
}

export function parseProjection(options: unknown): ProjectionParsed {
  const spec = parseOptions(projectionSchema, options, 'projection');
  checkValidation(spec);
  return spec;
}

function nativeSpec(p: ProjectionParsed): NativeProjectionSpec {
  return { ...p, seed: BigInt(p.seed) };
}

/** Projected dimension d. */
export function featureDim(p: ProjectionParsed): number {
  return p.kind === 'kronecker' ? p.inProj * p.outProj : p.dim;
}

/** Checks a batch against the projection and returns the native view and n. */
function nativeBatch(p: ProjectionParsed, b: GradBatch, numClusters: number | undefined): NativeGradBatch {
  if (b === null || typeof b !== 'object') throw new ValidationError('batch', `Expected a batch object but received ${describeValue(b)}`);
  let n: number;
  const out: NativeGradBatch = { n: 0 };
  if (p.kind === 'kronecker') {
    if (!(isTyped<Float32Array>(b.activations, 'Float32Array'))) throw new ValidationError('activations', `Expected Float32Array for \`activations\` but received ${describeValue(b.activations)}`);
    if (!(isTyped<Float32Array>(b.outGrads, 'Float32Array'))) throw new ValidationError('outGrads', `Expected Float32Array for \`outGrads\` but received ${describeValue(b.outGrads)}`);
    const T = b.tokens;
    if (typeof T !== 'number' || !Number.isSafeInteger(T) || T < 1) throw new ValidationError('tokens', `Expected positive integer for \`tokens\` but received ${describeValue(T)}`);
    if (b.activations.length % (T * p.inDim) !== 0) {
      throw new ValidationError('activations', `\`activations\` has ${b.activations.length} entries, not a multiple of tokens * inDim = ${T * p.inDim}`);
    }
    n = b.activations.length / (T * p.inDim);
    if (b.outGrads.length !== n * T * p.outDim) {
      throw new ValidationError('outGrads', `\`outGrads\` has ${b.outGrads.length} entries but n * tokens * outDim = ${n * T * p.outDim} (n = ${n} from \`activations\`)`);
    }
    Object.assign(out, { activations: b.activations, outGrads: b.outGrads, tokens: T });
  } else {
    const dtype = b.dtype ?? (isTyped(b.grads, 'Float32Array') ? 'f32' : undefined);
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new ValidationError('dtype', `Expected 'f32', 'f16' or 'bf16' for \`dtype\` but received ${describeValue(b.dtype)}`);
    const want = dtype === 'f32' ? 'Float32Array' : 'Uint16Array';
    if (!isTyped<Float32Array | Uint16Array>(b.grads, want)) {
      throw new ValidationError('grads', `Expected ${want} for \`grads\` (dtype ${dtype}) but received ${describeValue(b.grads)}`);
    }
    if (b.grads.length % p.inputDim !== 0) {
      throw new ValidationError('grads', `\`grads\` has ${b.grads.length} entries, not a multiple of the gradient dimension inputDim = ${p.inputDim}`);
    }
    n = b.grads.length / p.inputDim;
    Object.assign(out, { grads: b.grads, dtype });
  }
  out.n = n;
  if (numClusters === undefined) return out;
  const target = new Uint8Array(n);
  if (b.target !== undefined) {
    if (b.target.length !== n) throw new ValidationError('target', `\`target\` has ${b.target.length} entries but the batch has ${n} examples`);
    for (let i = 0; i < n; i++) {
      const t = b.target[i];
      if (t !== 0 && t !== 1 && t !== true && t !== false) throw new ValidationError(`target[${i}]`, `Expected 0, 1 or a boolean for \`target[${i}]\` but received ${describeValue(t)}`);
      target[i] = t === true || t === 1 ? 1 : 0;
    }
  }
  const c = b.cluster;
  if (c === undefined || c.length !== n) {
    throw new ValidationError('cluster', `\`cluster\` has ${c === undefined ? 'no' : c.length} entries but the batch has ${n} examples`);
  }
  const cluster = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (target[i]) continue;
    const v = Number(c[i]);
    if (!Number.isInteger(v) || v < 0 || v >= numClusters) {
      throw new ValidationError(`cluster[${i}]`, `cluster[${i}] = ${describeValue(c[i])} is out of range [0, ${numClusters}) (numClusters = ${numClusters})`);
    }
    cluster[i] = v;
  }
  out.cluster = cluster;
  out.target = target;
  return out;
}

/** Raw per-example L2 norms (double), the first pass of percentile clipping. Throws on non-finite rows. */
export function gradientNormsSync(projection: ProjectionOptions, batch: GradBatch, options: { firstRow?: number; threads?: number } = {}): Float64Array {
  const p = parseProjection(projection);
  const b = nativeBatch(p, batch, undefined);
  try {
    return binding().influenceNorms(nativeSpec(p), b, options.firstRow ?? 0, options.threads ?? 2);
  } catch (e) {
    throw nativeError(e, 'grads');
  }
}

/**
 * Clipped, projected per-example features (n x d, double): exactly what the
 * accumulator sums. Builds the projection on every call (a dense one costs
 * D x d Gaussian draws); for streams use InfluenceAccumulator.
 */
export function projectGradientsSync(
  projection: ProjectionOptions,
  batch: GradBatch,
  options: { clip?: number; threads?: number; device?: 'cpu' | 'cuda' | 'auto' } = {},
): Float64Array {
  const p = parseProjection(projection);
  const clip = options.clip ?? Infinity;
  if (!(clip > 0)) throw new ValidationError('clip', `Expected positive number for \`clip\` but received ${describeValue(options.clip)}`);
  const device = resolveDevice(options.device, 'the gradient projection').device;
  const b = nativeBatch(p, batch, undefined);
  try {
    if (device === 'cuda') return binding().cudaInfluenceFeatures(nativeSpec(p), b, clip, 0);
    return binding().influenceFeatures(nativeSpec(p), b, clip, options.threads ?? 2);
  } catch (e) {
    throw nativeError(e, 'grads');
  }
}

/**
 * The value at percentile `p` in (0, 100] of `values`, by linear interpolation
 * between closest ranks (numpy's default): rank (p/100)(n-1).
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new ValidationError('clipPercentile', `Expected number in (0, 100] for \`clipPercentile\` but received ${describeValue(p)}`);
  if (values.length === 0) throw new ValidationError('values', 'Expected at least one value to take a percentile of but received none');
  const s = Float64Array.from(values).sort();
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (rank - lo) * (s[hi] - s[lo]);
}

/** A streaming accumulator. add() runs off the event loop; addSync() blocks. */
export class InfluenceAccumulator {
  readonly projection: ProjectionParsed;
  readonly numClusters: number;
  readonly clip: number | undefined;
  readonly clipPercentile: number | undefined;
  readonly threads: number;
  /** where add() runs */
  readonly device: 'cpu' | 'cuda';
  /** why `device: 'auto'` fell back to the CPU (one line), else undefined */
  readonly deviceNote: string | undefined;
  private readonly native: NativeInfluenceAccumulator | undefined;
  /** the sums when device is 'cuda' (the GPU returns per-batch deltas) */
  private readonly sums: (NativeInfluenceDelta & { examples: number }) | undefined;

  constructor(options: AccumulatorOptions) {
    const o = parseOptions(accumulatorOptionsSchema, options);
    checkValidation(o.projection);
    this.projection = o.projection;
    this.numClusters = o.numClusters;
    this.clip = o.clip;
    this.clipPercentile = o.clipPercentile;
    this.threads = o.threads;
    const resolved = resolveDevice(o.device, 'the influence accumulator');
    this.device = resolved.device;
    this.deviceNote = resolved.note;
    if (this.device === 'cuda') {
      const d = featureDim(o.projection);
      this.sums = {
        count: new Float64Array(o.numClusters),
        sum: new Float64Array(o.numClusters * d),
        targetCount: 0,
        targetSum: new Float64Array(d),
        covCount: 0,
        cov: new Float64Array(d * d),
        examples: 0,
      };
      return;
    }
    try {
      this.native = new (binding().InfluenceAccumulator)(nativeSpec(o.projection), o.numClusters, o.clip ?? Infinity);
    } catch (e) {
      throw nativeError(e, 'projection');
    }
  }

  /** CUDA path, blocking: one GPU call per batch; the deltas are committed only after it succeeds. */
  private addCuda(b: NativeGradBatch): void {
    let d: NativeInfluenceDelta;
    try {
      d = binding().cudaInfluenceAccumulate(nativeSpec(this.projection), b, this.numClusters, this.clip ?? Infinity, this.sums!.examples);
    } catch (e) {
      throw nativeError(e, 'grads');
    }
    this.commit(b, d);
  }

  /** CUDA path on a worker thread; abort is honoured before the GPU work starts. Sums commute, so overlapping adds are fine. */
  private async addCudaAsync(b: NativeGradBatch, signal: AbortSignal | undefined, onProgress: ((p: BatchProgress) => void) | undefined): Promise<void> {
    const examples = this.sums!.examples;
    const job = binding().cudaInfluenceAccumulateAsync(
      nativeSpec(this.projection),
      b,
      this.numClusters,
      this.clip ?? Infinity,
      examples,
      onProgress ? (rowsDone, rows) => onProgress({ rowsDone, rows }) : undefined,
    );
    const abort = () => job.cancel();
    signal?.addEventListener('abort', abort, { once: true });
    let d: NativeInfluenceDelta;
    try {
      d = await job.promise;
    } catch (e) {
      throw nativeError(e, 'grads');
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    this.commit(b, d);
  }

  private commit(b: NativeGradBatch, d: NativeInfluenceDelta): void {
    const s = this.sums!;
    const add = (dst: Float64Array, src: Float64Array) => {
      for (let i = 0; i < dst.length; i++) dst[i] += src[i];
    };
    add(s.count, d.count);
    add(s.sum, d.sum);
    add(s.targetSum, d.targetSum);
    add(s.cov, d.cov);
    s.targetCount += d.targetCount;
    s.covCount += d.covCount;
    s.examples += b.n;
  }

  get dim(): number {
    return featureDim(this.projection);
  }

  addSync(batch: GradBatch): void {
    const b = nativeBatch(this.projection, batch, this.numClusters);
    if (this.native === undefined) return this.addCuda(b);
    try {
      this.native.addSync(b, this.threads);
    } catch (e) {
      throw nativeError(e, 'grads');
    }
  }

  /** Adds one batch on a worker thread. On abort or error the state is unchanged. */
  async add(batch: GradBatch, options: { signal?: AbortSignal; onProgress?: (p: BatchProgress) => void } = {}): Promise<void> {
    const b = nativeBatch(this.projection, batch, this.numClusters);
    const { signal, onProgress } = options;
    if (signal?.aborted) throw new AbortError();
    if (this.native === undefined) return this.addCudaAsync(b, signal, onProgress);
    const job = this.native.add(b, this.threads, onProgress ? (rowsDone, rows) => onProgress({ rowsDone, rows }) : undefined);
    const abort = () => job.cancel();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await job.promise;
    } catch (e) {
      throw nativeError(e, 'grads');
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** A snapshot of the sums (copies). */
  state(): InfluenceState {
    let s;
    if (this.sums !== undefined) {
      const c = this.sums;
      s = { ...c, dim: this.dim, numClusters: this.numClusters, count: c.count.slice(), sum: c.sum.slice(), targetSum: c.targetSum.slice(), cov: c.cov.slice() };
    } else {
      try {
        s = this.native!.state();
      } catch (e) {
        throw nativeError(e, 'accumulator');
      }
    }
    const p = this.projection;
    const meta: InfluenceMeta = { projection: p.kind, seed: String(p.seed), clip: this.clip ?? null, examples: s.examples };
    if (p.kind === 'kronecker') Object.assign(meta, { inDim: p.inDim, outDim: p.outDim, inProj: p.inProj, outProj: p.outProj });
    else meta.inputDim = p.inputDim;
    if (this.clipPercentile !== undefined) meta.clipPercentile = this.clipPercentile;
    return {
      dim: s.dim,
      numClusters: s.numClusters,
      count: s.count,
      sum: s.sum,
      targetCount: s.targetCount,
      targetSum: s.targetSum,
      covCount: s.covCount,
      cov: s.cov,
      meta,
    };
  }
}

// ---------------------------------------------------------------------------
// Whole gradient directories

export interface AccumulateProgress {
  phase: 'norms' | 'accumulate';
  rowsDone: number;
  rows: number;
}

export const accumulateOptionsSchema = z
  .object({
    projection: z.enum(['dense', 'rademacher']).default('rademacher'),
    dim: positiveInt,
    seed: seedSchema.default(0),
    clip: z.number().finite().positive().optional(),
    clipPercentile: z.number().finite().gt(0).max(100).optional(),
    threads: z.number().int().min(1).max(256).default(2),
    /** 'cuda' runs the accumulation on the GPU (docs/cuda.md); 'auto' uses it when available */
    device: deviceSchema,
    /** rows per block read from disk (default: about 64 MiB) */
    blockRows: positiveInt.optional(),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();
export type AccumulateOptions = Omit<z.input<typeof accumulateOptionsSchema>, 'onProgress'> & {
  onProgress?: (p: AccumulateProgress) => void;
};

function openSource(s: GradientSource | string, allTargets: boolean): GradientSource {
  return typeof s === 'string' ? GradientSource.open(s, { allTargets }) : s;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Accumulates a gradient directory (and optionally a directory whose rows are
 * all targets). With `clipPercentile`, a first pass computes every example's
 * norm and t = percentile(norms) over all rows of both directories.
 */
export async function accumulateInfluence(
  grads: GradientSource | string,
  target: GradientSource | string | undefined,
  options: AccumulateOptions,
): Promise<InfluenceState> {
  const o = parseOptions(accumulateOptionsSchema, options);
  if (o.clip !== undefined && o.clipPercentile !== undefined) {
    throw new ValidationError('clipPercentile', 'Give either `clip` or `clipPercentile`, not both');
  }
  const sources = [openSource(grads, false)];
  if (target !== undefined) sources.push(openSource(target, true));
  const D = sources[0].dim;
  for (const s of sources.slice(1)) {
    if (s.dim !== D) throw new ValidationError('target', `the target gradients have dim ${s.dim} but the cluster gradients have ${D}`);
  }
  const projection = { kind: o.projection, inputDim: D, dim: o.dim, seed: o.seed } as const;
  const p = parseProjection(projection);
  const rows = sources.reduce((a, s) => a + s.rows, 0);
  const report = options.onProgress;
  const check = () => {
    if (o.signal?.aborted) throw new AbortError();
  };
  let clip = o.clip;
  if (o.clipPercentile !== undefined) {
    const norms = new Float64Array(rows);
    let done = 0;
    for (const s of sources) {
      for (const b of s.blocks(o.blockRows)) {
        check();
        const nb = { n: b.n, grads: b.grads, dtype: b.dtype };
        try {
          norms.set(binding().influenceNorms(nativeSpec(p), nb, done, o.threads), done);
        } catch (e) {
          throw nativeError(e, 'grads');
        }
        done += b.n;
        report?.({ phase: 'norms', rowsDone: done, rows });
        await tick();
      }
    }
    clip = percentile(norms, o.clipPercentile);
    if (!(clip > 0)) {
      throw new ValidationError('clipPercentile', `the ${o.clipPercentile}th percentile of the gradient norms is ${clip}; clipping needs t > 0`);
    }
  }
  const acc = new InfluenceAccumulator({
    projection,
    numClusters: sources[0].numClusters,
    clip,
    clipPercentile: o.clipPercentile,
    threads: o.threads,
    device: o.device,
  });
  let done = 0;
  for (const s of sources) {
    for (const b of s.blocks(o.blockRows)) {
      check();
      const base = done;
      try {
        await acc.add(
          { grads: b.grads, dtype: b.dtype, cluster: b.cluster, target: b.target },
          { signal: o.signal, onProgress: report ? (q) => report({ phase: 'accumulate', rowsDone: base + q.rowsDone, rows }) : undefined },
        );
      } catch (e) {
        // name the file: "example 1234" counts rows over all shards
        if (e instanceof ValidationError) throw new ValidationError(e.field, `${b.shard} (rows ${b.shardRow}..${b.shardRow + b.n - 1}): ${e.message}`);
        throw e;
      }
      done += b.n;
    }
  }
  return acc.state();
}
