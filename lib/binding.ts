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
