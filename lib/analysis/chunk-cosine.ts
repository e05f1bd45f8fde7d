/**
 * Mixture fidelity (the scheduler's non-bias check): split an order into k
 * contiguous chunks, sum each chunk's per-example gradient features, and
 * return the k × k cosine similarities of the sums. An unbiased order gives
 * a matrix that does not drift away from the diagonal.
 */
import { z } from 'zod';

import { binding } from '../binding';
import { isFloat32Array, isFloat64Array, parseOptions } from '../config';
import { ValidationError, describeValue } from '../errors';
import { runNativeJob, runNativeSync, type Progress } from './native-job';

export interface FeatureMatrix {
  /** n × d row-major per-example features (e.g. projected gradients) */
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

export type OrderArray = Uint32Array | BigUint64Array;

const chunkCosineOptionsSchema = z
  .object({
    threads: z.number().int().min(1).max(2).default(2),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();

export type ChunkCosineOptions = Omit<z.input<typeof chunkCosineOptionsSchema>, 'onProgress'> & { onProgress?: (p: Progress) => void };

export interface ChunkCosineResult {
  chunks: number;
  /** k × k row-major; symmetric with unit diagonal */
  cosine: Float64Array;
  /** ‖sum of chunk c‖ */
  norms: Float64Array;
  /** chunk c covers order positions [boundaries[c], boundaries[c + 1]) */
  boundaries: number[];
  /** smallest off-diagonal cosine (1 when k = 1) */
  minOffDiagonal: number;
  maxOffDiagonal: number;
}

function prepare(order: OrderArray, features: FeatureMatrix, chunks: number, options: ChunkCosineOptions | undefined) {
  const parsed = parseOptions(chunkCosineOptionsSchema, options);
  if (!(order instanceof Uint32Array || order instanceof BigUint64Array)) {
    throw new ValidationError('order', `Expected Uint32Array or BigUint64Array for \`order\` but received ${describeValue(order)}`);
  }
  if (order.length === 0) throw new ValidationError('order', 'Expected a non-empty `order` but received 0 entries');
  if (!Number.isSafeInteger(chunks) || chunks < 1) {
    throw new ValidationError('chunks', `Expected positive integer for \`chunks\` but received ${describeValue(chunks)}`);
  }
  if (chunks > order.length) {
    throw new ValidationError('chunks', `Expected \`chunks\` <= ${order.length} (the order length) but received ${chunks}`);
  }
  for (const k of ['rows', 'cols'] as const) {
    if (!Number.isSafeInteger(features?.[k]) || features[k] < 1) {
      throw new ValidationError(`features.${k}`, `Expected positive integer for \`features.${k}\` but received ${describeValue(features?.[k])}`);
    }
  }
  const { data, rows, cols } = features;
  if (!(isFloat32Array(data) || isFloat64Array(data))) {
    throw new ValidationError('features.data', `Expected Float32Array or Float64Array for \`features.data\` but received ${describeValue(data)}`);
  }
  if (data.length !== rows * cols) {
    throw new ValidationError('features.data', `Expected ${rows * cols} entries (rows × cols) for \`features.data\` but received ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new ValidationError(`features.data[${i}]`, `Expected finite number for \`features.data[${i}]\` but received ${data[i]}`);
    }
  }
  for (let i = 0; i < order.length; i++) {
    if (Number(order[i]) >= rows) {
      throw new ValidationError(`order[${i}]`, `Expected \`order[${i}]\` < ${rows} (feature rows) but received ${order[i]}`);
    }
  }
  return parsed;
}

function finish(chunks: number, r: { cosine: Float64Array; norms: Float64Array; boundaries: Float64Array }): ChunkCosineResult {
  let lo = 1;
  let hi = chunks > 1 ? -1 : 1;
  for (let a = 0; a < chunks; a++) {
    for (let b = 0; b < chunks; b++) {
      if (a === b) continue;
      lo = Math.min(lo, r.cosine[a * chunks + b]);
      hi = Math.max(hi, r.cosine[a * chunks + b]);
    }
  }
  return { chunks, cosine: r.cosine, norms: r.norms, boundaries: Array.from(r.boundaries), minOffDiagonal: lo, maxOffDiagonal: hi };
}

export function chunkCosineSync(order: OrderArray, features: FeatureMatrix, chunks: number, options?: Omit<ChunkCosineOptions, 'signal' | 'onProgress'>): ChunkCosineResult {
  const o = prepare(order, features, chunks, options);
  const r = runNativeSync(
    () => binding().chunkCosineSync(order, features.data, features.rows, features.cols, chunks, { threads: o.threads }),
    'features',
  );
  return finish(chunks, r);
}

export async function chunkCosine(order: OrderArray, features: FeatureMatrix, chunks: number, options?: ChunkCosineOptions): Promise<ChunkCosineResult> {
  const o = prepare(order, features, chunks, options);
  const r = await runNativeJob(
    (cb) => binding().chunkCosine(order, features.data, features.rows, features.cols, chunks, { threads: o.threads }, cb),
    o.signal,
    options?.onProgress,
    'features',
  );
  return finish(chunks, r);
}
