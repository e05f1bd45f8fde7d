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

/** Cumulative targets on a grid: E_k(tokens[g]) = cumulative[g * K + k], linear in between. */
export interface TargetTable {
  tokens: Float64Array;
  cumulative: Float64Array;
}

/** Integer target cells (see cpp/scheduler/targets.hpp): inside cell g, E_k(S) = base + rate * (S - cellStart[g]). */
export interface NativeTargets {
  bits: number;
  cellStart: Float64Array;
  /** cells x K rates, each row sums to 2^bits */
  group: BigInt64Array;
  bin: BigInt64Array;
  groupBase: BigInt64Array;
  binBase: BigInt64Array;
  /** bin rates of the first cell as shares */
  binShare: Float64Array;
}

export interface NativeScheduleOptions {
  /** fixed mixture; omitted when `targets` is given */
  mixture?: Float64Array;
  targets?: TargetTable;
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
  /** candidates that passed the single-precision check and were re-bounded in double precision */
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

/** A curriculum as the addon reads it: knots s (log tokens), logits (knots × groups, row-major). */
export interface NativeCurriculum {
  s: Float64Array;
  logits: Float64Array;
  groups: number;
}

export interface NativeTargetTable {
  tokens: Float64Array;
  cumulative: Float64Array;
  interpolationBound: number;
  quadratureBound: number;
}

// ---- linear algebra, influence scores and analysis (cpp/addon/linalg_binding.cpp) ----
/** A long native job: `promise` settles with the result; `cancel()` makes it reject with ABORT_ERR. */
export interface NativeJob<T> {
  promise: Promise<T>;
  cancel(): void;
}
export type NativeProgress = (done: number, total: number) => void;
export interface NativeInfluenceState {
  dim: number;
  numClusters: number;
  count: Float64Array;
  sum: Float64Array;
  targetCount: number;
  targetSum: Float64Array;
  covCount: number;
  cov: Float64Array;
}
export interface NativeScoreOptions {
  dampingMode: 'absolute' | 'condition';
  damping: number;
  maxCondition: number;
  method: 'cholesky' | 'eigen';
  excludeEmpty: boolean;
  threads: number;
  seed: number;
  spectrumTol: number;
}
export interface NativeScores {
  scores: Float64Array;
  included: Uint8Array;
  damping: number;
  lambdaMin: number;
  lambdaMax: number;
  condition: number;
  spectrumExact: boolean;
}
export interface NativeWhitened {
  rows: Float64Array;
  damping: number;
  lambdaMin: number;
  lambdaMax: number;
}
export interface NativeEigen {
  values: Float64Array;
  vectors?: Float64Array;
}
export interface NativeMatrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}
export interface NativeStableRankOptions {
  tol: number;
  maxIterations: number;
  seed: number;
  threads: number;
}
export interface NativeStableRank {
  srank: number;
  frobenius2: number;
  spectral2: number;
  residual: number;
  iterations: number;
  converged: boolean;
}
export interface NativeChunkCosine {
  cosine: Float64Array;
  norms: Float64Array;
  boundaries: Float64Array;
}

// ---- influence accumulator (cpp/addon/influence_binding.cpp) ----
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

export interface NativeAccumulatorState extends NativeInfluenceState {
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

export interface NativeModelShape {
  vocab: number;
  context: number;
  embed: number;
  hidden: number;
}

export interface NativeTokenSequences {
  ids: Uint32Array;
  offsets: Uint32Array;
}

export interface NativeTrainOptions {
  batchSize: number;
  lr: Float32Array;
  checkpoints: Float64Array;
  clipNorm?: number;
}

export interface NativeTrainResult {
  params: Float32Array;
  checkpointParams: Float32Array[];
  checkpointTokens: Float64Array;
  stepLoss: Float32Array;
  tokens: number;
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
  targets(corpus: NativeCorpus, mixtureOrTable: Float64Array | TargetTable, neededTokens?: number): NativeTargets;
  fidelity(
    corpus: NativeCorpus,
    order: Uint32Array | BigUint64Array,
    mixtureOrTable: Float64Array | TargetTable,
    checkpoints: number,
    neededTokens?: number,
  ): NativeFidelity;
  shuffle(n: number, seed: bigint | number): Uint32Array | BigUint64Array;

  // Curriculum (cpp/addon/curriculum_binding.cpp): curriculum = { s, logits, groups }
  curriculumMixture(curriculum: NativeCurriculum, s: number): Float64Array;
  curriculumCumulative(curriculum: NativeCurriculum, points: Float64Array): Float64Array;
  curriculumTargetTableSync(curriculum: NativeCurriculum, totalTokens: number, maxErrorTokens: number, maxEntries: number, threads: number): NativeTargetTable;
  curriculumTargetTable(
    curriculum: NativeCurriculum,
    totalTokens: number,
    maxErrorTokens: number,
    maxEntries: number,
    threads: number,
    onProgress?: (tokens: number, totalTokens: number) => void,
  ): { promise: Promise<NativeTargetTable>; cancel(): void };
  /** which build of the table's per-group kernels runs: 'avx2', or 'portable' (no AVX2, or CURRICULA_NO_AVX2=1) */
  curriculumTableKernel: 'avx2' | 'portable';

  // ---- linear algebra, influence scores and analysis (cpp/addon/linalg_binding.cpp) ----
  choleskySolveSync(a: Float64Array, n: number, b: Float64Array, options: { threads: number }): Float64Array;
  choleskySolve(a: Float64Array, n: number, b: Float64Array, options: { threads: number }, onProgress?: NativeProgress): NativeJob<Float64Array>;
  symmetricEigenSync(a: Float64Array, n: number, options: { threads: number; vectors: boolean }): NativeEigen;
  symmetricEigen(a: Float64Array, n: number, options: { threads: number; vectors: boolean }, onProgress?: NativeProgress): NativeJob<NativeEigen>;
  influenceScoresSync(state: NativeInfluenceState, options: NativeScoreOptions): NativeScores;
  influenceScores(state: NativeInfluenceState, options: NativeScoreOptions, onProgress?: NativeProgress): NativeJob<NativeScores>;
  whitenSync(state: NativeInfluenceState, options: NativeScoreOptions, rows: Float64Array, numRows: number): NativeWhitened;
  whiten(state: NativeInfluenceState, options: NativeScoreOptions, rows: Float64Array, numRows: number, onProgress?: NativeProgress): NativeJob<NativeWhitened>;
  stableRankSync(matrices: NativeMatrix[], options: NativeStableRankOptions): NativeStableRank[];
  stableRank(matrices: NativeMatrix[], options: NativeStableRankOptions, onProgress?: NativeProgress): NativeJob<NativeStableRank[]>;
  chunkCosineSync(order: Uint32Array | BigUint64Array, features: Float32Array | Float64Array, n: number, d: number, chunks: number, options: { threads: number }): NativeChunkCosine;
  chunkCosine(order: Uint32Array | BigUint64Array, features: Float32Array | Float64Array, n: number, d: number, chunks: number, options: { threads: number }, onProgress?: NativeProgress): NativeJob<NativeChunkCosine>;
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
  // Demo language model (cpp/model, cpp/addon/model_binding.cpp); facade in lib/demo/model.ts.
  modelInit(shape: NativeModelShape, seed: bigint | number): Float32Array;
  modelTrain(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    order: Uint32Array,
    options: NativeTrainOptions,
    onProgress?: (step: number, steps: number, tokens: number, loss: number) => void,
  ): { promise: Promise<NativeTrainResult>; cancel(): void };
  modelTrainSync(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    order: Uint32Array,
    options: NativeTrainOptions,
  ): NativeTrainResult;
  modelSequenceLosses(shape: NativeModelShape, params: Float32Array, sequences: NativeTokenSequences, threads: number): Promise<Float64Array>;
  modelSequenceLossesSync(shape: NativeModelShape, params: Float32Array, sequences: NativeTokenSequences, threads: number): Float64Array;
  modelLinearInputs(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    examples: Uint32Array,
    layer: 'hidden' | 'output',
  ): { in: number; out: number; acts: Float32Array; grads: Float32Array; exampleOffsets: Uint32Array };
  modelExampleGradients(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    examples: Uint32Array,
    layer: 'hidden' | 'output',
    threads: number,
  ): Float32Array;
  modelLinearInputsAsync(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    examples: Uint32Array,
    layer: 'hidden' | 'output',
  ): Promise<{ in: number; out: number; acts: Float32Array; grads: Float32Array; exampleOffsets: Uint32Array }>;
  modelExampleGradientsAsync(
    shape: NativeModelShape,
    params: Float32Array,
    sequences: NativeTokenSequences,
    examples: Uint32Array,
    layer: 'hidden' | 'output',
    threads: number,
  ): Promise<Float32Array>;
  cuda: boolean;
  // --- CUDA twins (cpp/addon/cuda_binding.cpp, cuda/); without the CUDA build all but cudaDeviceInfo throw ---
  cudaDeviceInfo(): import('./device').CudaDeviceInfo;
  cudaInfluenceFeatures(spec: NativeProjectionSpec, batch: NativeGradBatch, clip: number, firstRow?: number): Float64Array;
  cudaInfluenceAccumulate(spec: NativeProjectionSpec, batch: NativeGradBatch, numClusters: number, clip: number, firstRow?: number): NativeInfluenceDelta;
  cudaStableRankSync(matrices: NativeMatrix[], options: NativeStableRankOptions): NativeStableRank[];
  cudaScheduleBruteForceSync(corpus: NativeCorpus, options: NativeScheduleOptions): NativeScheduleResult;
  cudaScheduleBruteForce(
    corpus: NativeCorpus,
    options: NativeScheduleOptions,
    onProgress?: (steps: number, tokens: number, goal: number) => void,
  ): { promise: Promise<NativeScheduleResult>; cancel(): void };
  cudaInfluenceAccumulateAsync(
    spec: NativeProjectionSpec,
    batch: NativeGradBatch,
    numClusters: number,
    clip: number,
    firstRow: number,
    onProgress?: (rowsDone: number, rows: number) => void,
  ): NativeJob<NativeInfluenceDelta>;
  cudaStableRank(matrices: NativeMatrix[], options: NativeStableRankOptions, onProgress?: NativeProgress): NativeJob<NativeStableRank[]>;
  /** bytes moved per second by a device-to-device copy (read + write), best of `reps` */
  cudaCopyBandwidth(bytes: number, reps: number): number;
}

/** What one batch adds to an influence state (cudaInfluenceAccumulate). */
export interface NativeInfluenceDelta {
  count: Float64Array;
  sum: Float64Array;
  targetCount: number;
  targetSum: Float64Array;
  covCount: number;
  cov: Float64Array;
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
