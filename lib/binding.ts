/**
 * Loads the native addon and describes its surface. Everything that crosses
 * into C++ goes through this typed interface; the facade validates first.
 */
import * as fs from 'fs';
import * as path from 'path';

import { AbortError, CurriculaError, ValidationError } from './errors';
import type { SequenceSet } from './io/sequences';

/** The part of a SequenceSet the addon reads (no copies are made). */
export type NativeCorpus = Pick<SequenceSet, 'offsets' | 'group' | 'bin' | 'tokens' | 'numGroups' | 'numBins'>;

export interface NativeScheduleOptions {
  mixture: Float64Array;
  lambda: number;
  objective: 'sos' | 'norm';
  sigma: number;
  seed: bigint;
  budgetTokens: number;
  resume?: Uint32Array | BigUint64Array;
  threads?: number;
}

export interface NativeScheduleStats {
  steps: number;
  /** candidates scored in exact integer arithmetic */
  exactScores: number;
  /** candidates whose lazy lower bound was recomputed */
  boundRefreshes: number;
  fixedPointBits: number;
}

export interface NativeScheduleResult {
  order: Uint32Array | BigUint64Array;
  tokens: number;
  stats: NativeScheduleStats;
}

export interface NativeFidelity {
  sequences: number;
  tokens: number;
  groupMaxDeviation: Float64Array;
  binMaxDeviation: Float64Array;
  checkpointTokens: Float64Array;
  checkpointL1: Float64Array;
  finalRatio: Float64Array;
}

/** Projection of the influence accumulator (see cpp/influence/projection.hpp). */
export interface NativeProjectionSpec {
  kind: 'dense' | 'rademacher' | 'kronecker';
  seed: bigint;
  inputDim?: number;
  dim?: number;
  inDim?: number;
  outDim?: number;
  inProj?: number;
  outProj?: number;
}

/** One batch of examples: `grads` (n x D) or, for kronecker, activations (n x T x in) and outGrads (n x T x out). */
export interface NativeGradBatch {
  n: number;
  grads?: Float32Array | Uint16Array;
  dtype?: 'f32' | 'f16' | 'bf16';
  activations?: Float32Array;
  outGrads?: Float32Array;
  tokens?: number;
  cluster?: Int32Array;
  target?: Uint8Array;
}

export interface NativeAccumulatorState {
  dim: number;
  numClusters: number;
  count: Float64Array;
  sum: Float64Array;
  targetCount: number;
  targetSum: Float64Array;
  covCount: number;
  cov: Float64Array;
  examples: number;
  kernel: string;
}

export interface NativeInfluenceAccumulator {
  addSync(batch: NativeGradBatch, threads?: number): void;
  add(
    batch: NativeGradBatch,
    threads?: number,
    onProgress?: (rowsDone: number, rows: number) => void,
  ): { promise: Promise<void>; cancel(): void };
  state(): NativeAccumulatorState;
}

export interface BindingModule {
  schedule(
    corpus: NativeCorpus,
    options: NativeScheduleOptions,
    onProgress?: (steps: number, tokens: number, goal: number) => void,
  ): { promise: Promise<NativeScheduleResult>; cancel(): void };
  scheduleSync(corpus: NativeCorpus, options: NativeScheduleOptions): NativeScheduleResult;
  scheduleBruteForceSync(corpus: NativeCorpus, options: NativeScheduleOptions): NativeScheduleResult;
  noise(seed: bigint | number, step: bigint | number, index: bigint | number): number;
  targets(
    corpus: NativeCorpus,
    mixture: Float64Array,
  ): { bits: number; group: BigInt64Array; bin: BigInt64Array; binShare: Float64Array };
  fidelity(
    corpus: NativeCorpus,
    order: Uint32Array | BigUint64Array,
    mixture: Float64Array,
    binShare: Float64Array,
    checkpoints: number,
  ): NativeFidelity;
  shuffle(n: number, seed: bigint | number): Uint32Array | BigUint64Array;

  // --- influence accumulator (cpp/addon/influence_binding.cpp) ---
  InfluenceAccumulator: new (spec: NativeProjectionSpec, numClusters: number, clip: number) => NativeInfluenceAccumulator;
  influenceNorms(spec: NativeProjectionSpec, batch: NativeGradBatch, firstRow: number, threads?: number): Float64Array;
  influenceFeatures(spec: NativeProjectionSpec, batch: NativeGradBatch, clip: number, threads?: number): Float64Array;
  influenceProjectionElement(
    kind: 'dense' | 'rademacher' | 'kronecker-in' | 'kronecker-out',
    seed: bigint,
    row: number,
    col: number,
    d: number,
  ): number;
  sgemm(M: number, N: number, K: number, A: Float32Array, B: Float32Array, threads?: number): Float32Array;
  gemmKernel: string;
  cuda: boolean;
}

let cached: BindingModule | undefined;

/** The package root: lib/ from source (tests), dist/lib/ when compiled. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..');
    dir = up;
  }
  return dir;
}

/** The native module, built by `npm install` (node-gyp) or `npm run build:cuda` (cmake-js). */
export function binding(): BindingModule {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = ['build/Release/curricula.node', 'build/Debug/curricula.node'];
  const errors: string[] = [];
  for (const rel of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require(path.join(root, rel)) as BindingModule;
      return cached;
    } catch (e) {
      errors.push(`${rel}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new CurriculaError(
    `The curricula native addon is not built (run \`npm install\` or \`npm run build:native\`). Tried ${errors.join('; ')}`,
    'ERR_CURRICULA_NO_BINDING',
  );
}

/** Maps an error thrown by the addon onto the typed error classes. */
export function nativeError(e: unknown, field = 'input'): Error {
  const err = e as { code?: string; message?: string };
  if (err?.code === 'ABORT_ERR') return new AbortError();
  if (err?.code === 'ERR_CURRICULA_VALIDATION') return new ValidationError(field, err.message ?? String(e));
  if (err?.code) return new CurriculaError(err.message ?? String(e), err.code);
  return e instanceof Error ? e : new Error(String(e));
}
