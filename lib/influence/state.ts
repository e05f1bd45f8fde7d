/**
 * The accumulated influence state (the contract between the accumulator and
 * the scoring step), its merge, and its safetensors serialisation.
 *
 * File layout: F64 tensors `count` [K], `sum` [K, d], `targetCount` [1],
 * `targetSum` [d], `covCount` [1], `cov` [d, d]; `__metadata__` holds
 * format = "curricula.influence-state", version = "1" and the fields of
 * `meta` as strings (see docs/influence.md).
 */
import * as fs from 'fs';

import { FormatError, ValidationError, describeValue } from '../errors';
import { readSafetensorsHeaderFd, readTensor, writeSafetensorsAtomic } from '../io/safetensors';

export type ProjectionKind = 'dense' | 'rademacher' | 'kronecker';

export interface InfluenceMeta {
  projection: ProjectionKind;
  /** 64-bit seed as a decimal string */
  seed: string;
  /** gradient dimension D (dense, rademacher) */
  inputDim?: number;
  /** kronecker: layer widths and their projected sizes (dim = inProj * outProj) */
  inDim?: number;
  outDim?: number;
  inProj?: number;
  outProj?: number;
  /** absolute clipping threshold t, or null when not clipping */
  clip: number | null;
  /** the percentile t came from, when it did */
  clipPercentile?: number;
  /** examples added (targets included) */
  examples: number;
}

export interface InfluenceState {
  dim: number;
  numClusters: number;
  /** K: non-target examples per cluster */
  count: Float64Array;
  /** K*dim row-major: per-cluster sums of projected, clipped gradients */
  sum: Float64Array;
  targetCount: number;
  /** dim: sum over target examples */
  targetSum: Float64Array;
  /** examples in `cov` (the non-target ones) */
  covCount: number;
  /** dim*dim row-major: sum of g g^T over non-target examples */
  cov: Float64Array;
  meta: InfluenceMeta;
}

export const STATE_FORMAT = 'curricula.influence-state';

/** Checks array lengths and finiteness; throws ValidationError naming the field. */
export function validateState(s: InfluenceState, where = 'state'): void {
  const { dim, numClusters: K } = s;
  if (!Number.isSafeInteger(dim) || dim < 1) throw new ValidationError('dim', `${where}: Expected positive integer for \`dim\` but received ${dim}`);
  if (!Number.isSafeInteger(K) || K < 1) throw new ValidationError('numClusters', `${where}: Expected positive integer for \`numClusters\` but received ${K}`);
  const want: [keyof InfluenceState, number][] = [['count', K], ['sum', K * dim], ['targetSum', dim], ['cov', dim * dim]];
  for (const [field, n] of want) {
    const a = s[field] as Float64Array;
    // tag check, not instanceof: arrays may come from another realm (the addon, a vm context)
    const ok = Object.prototype.toString.call(a) === '[object Float64Array]';
    if (!ok || a.length !== n) {
      throw new ValidationError(field, `${where}: \`${field}\` must be a Float64Array of ${n} entries but has ${ok ? a.length : describeValue(a)}`);
    }
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw new ValidationError(`${field}[${i}]`, `${where}: \`${field}[${i}]\` is ${a[i]} (not finite)`);
    }
  }
  for (const field of ['targetCount', 'covCount'] as const) {
    if (!Number.isFinite(s[field]) || s[field] < 0) throw new ValidationError(field, `${where}: \`${field}\` must be a non-negative number but is ${s[field]}`);
  }
}

const META_KEYS = ['projection', 'seed', 'inputDim', 'inDim', 'outDim', 'inProj', 'outProj', 'clip'] as const;

/** Sum of two states computed with the same projection and clipping (a new state; inputs unchanged). */
export function mergeStates(a: InfluenceState, b: InfluenceState): InfluenceState {
  if (a.dim !== b.dim) throw new ValidationError('dim', `cannot merge states of \`dim\` ${a.dim} and ${b.dim}`);
  if (a.numClusters !== b.numClusters) {
    throw new ValidationError('numClusters', `cannot merge states of \`numClusters\` ${a.numClusters} and ${b.numClusters}`);
  }
  for (const k of META_KEYS) {
    if (a.meta[k] !== b.meta[k]) {
      throw new ValidationError(`meta.${k}`, `cannot merge states with different \`meta.${k}\` (${String(a.meta[k])} vs ${String(b.meta[k])})`);
    }
  }
  const add = (x: Float64Array, y: Float64Array): Float64Array => {
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] + y[i];
    return out;
  };
  const meta: InfluenceMeta = { ...a.meta, examples: a.meta.examples + b.meta.examples };
  if (a.meta.clipPercentile !== b.meta.clipPercentile) delete meta.clipPercentile;
  return {
    dim: a.dim,
    numClusters: a.numClusters,
    count: add(a.count, b.count),
    sum: add(a.sum, b.sum),
    targetCount: a.targetCount + b.targetCount,
    targetSum: add(a.targetSum, b.targetSum),
    covCount: a.covCount + b.covCount,
    cov: add(a.cov, b.cov),
    meta,
  };
}

/** Merge many states (left to right). */
export function mergeAll(states: readonly InfluenceState[]): InfluenceState {
  if (states.length === 0) throw new ValidationError('states', 'Expected at least one state to merge but received none');
  return states.slice(1).reduce(mergeStates, states[0]);
}

export function writeStateAtomic(file: string, s: InfluenceState): void {
  validateState(s);
  const metadata: Record<string, string> = { format: STATE_FORMAT, version: '1', dim: String(s.dim), numClusters: String(s.numClusters) };
  for (const [k, v] of Object.entries(s.meta)) if (v !== undefined) metadata[k] = v === null ? 'none' : String(v);
  const K = s.numClusters;
  const d = s.dim;
  writeSafetensorsAtomic(
    file,
    {
      count: { dtype: 'F64', shape: [K], data: s.count },
      sum: { dtype: 'F64', shape: [K, d], data: s.sum },
      targetCount: { dtype: 'F64', shape: [1], data: Float64Array.of(s.targetCount) },
      targetSum: { dtype: 'F64', shape: [d], data: s.targetSum },
      covCount: { dtype: 'F64', shape: [1], data: Float64Array.of(s.covCount) },
      cov: { dtype: 'F64', shape: [d, d], data: s.cov },
    },
    metadata,
  );
}

function metaInt(file: string, md: Record<string, string>, key: string, required: boolean): number | undefined {
  const v = md[key];
  if (v === undefined) {
    if (required) throw new FormatError(file, `${file}: metadata field \`${key}\` is missing`);
    return undefined;
  }
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new FormatError(file, `${file}: metadata field \`${key}\` must be a non-negative integer but is ${JSON.stringify(v)}`);
  return n;
}

export function readState(file: string): InfluenceState {
  const fd = fs.openSync(file, 'r');
  try {
    const h = readSafetensorsHeaderFd(fd, file);
    const md = h.metadata;
    if (md.format !== STATE_FORMAT) throw new FormatError(file, `${file}: metadata field \`format\` must be "${STATE_FORMAT}" but is ${JSON.stringify(md.format)}`);
    if (md.version !== '1') throw new FormatError(file, `${file}: unsupported state \`version\` ${JSON.stringify(md.version)} (expected "1")`);
    const dim = metaInt(file, md, 'dim', true)!;
    const K = metaInt(file, md, 'numClusters', true)!;
    const projection = md.projection;
    if (projection !== 'dense' && projection !== 'rademacher' && projection !== 'kronecker') {
      throw new FormatError(file, `${file}: metadata field \`projection\` must be dense, rademacher or kronecker but is ${JSON.stringify(projection)}`);
    }
    if (!/^\d+$/.test(md.seed ?? '')) throw new FormatError(file, `${file}: metadata field \`seed\` must be a non-negative integer`);
    const clip = md.clip === 'none' ? null : Number(md.clip);
    if (clip !== null && !(clip > 0 && Number.isFinite(clip))) throw new FormatError(file, `${file}: metadata field \`clip\` must be "none" or a positive number but is ${JSON.stringify(md.clip)}`);
    const want: Record<string, number[]> = { count: [K], sum: [K, dim], targetCount: [1], targetSum: [dim], covCount: [1], cov: [dim, dim] };
    const arrays: Record<string, Float64Array> = {};
    for (const [name, shape] of Object.entries(want)) {
      const t = h.tensors.get(name);
      if (!t) throw new FormatError(file, `${file}: missing tensor \`${name}\``);
      if (t.dtype !== 'F64' || t.shape.join(',') !== shape.join(',')) {
        throw new FormatError(file, `${file}: tensor \`${name}\` must be F64 of shape [${shape.join(', ')}] but is ${t.dtype} [${t.shape.join(', ')}]`);
      }
      arrays[name] = readTensor(fd, h, name) as Float64Array;
    }
    const meta: InfluenceMeta = {
      projection,
      seed: md.seed,
      clip,
      examples: metaInt(file, md, 'examples', true)!,
    };
    for (const k of ['inputDim', 'inDim', 'outDim', 'inProj', 'outProj'] as const) {
      const v = metaInt(file, md, k, false);
      if (v !== undefined) meta[k] = v;
    }
    if (md.clipPercentile !== undefined) meta.clipPercentile = Number(md.clipPercentile);
    const s: InfluenceState = {
      dim,
      numClusters: K,
      count: arrays.count,
      sum: arrays.sum,
      targetCount: arrays.targetCount[0],
      targetSum: arrays.targetSum,
      covCount: arrays.covCount[0],
      cov: arrays.cov,
      meta,
    };
    try {
      validateState(s, file);
    } catch (e) {
      throw new FormatError(file, (e as Error).message);
    }
    return s;
  } finally {
    fs.closeSync(fd);
  }
}
