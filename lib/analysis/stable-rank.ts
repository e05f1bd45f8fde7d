/**
 * Stable rank srank(M) = ‖M‖_F² / ‖M‖_2² of batch gradient matrices (one per
 * (batch, layer)), with per-layer minimum and mean, as in the scheduler's
 * "updates provide diverse information" check. ‖M‖_2² comes from Lanczos on
 * the smaller Gram matrix applied matrix-free (cpp/analysis/stable_rank.hpp).
 */
import { z } from 'zod';

import { binding, type NativeMatrix, type NativeProgress, type NativeStableRank, type NativeStableRankOptions } from '../binding';
import { isFloat32Array, isFloat64Array, parseOptions } from '../config';
import { deviceSchema, resolveDevice } from '../device';
import { CurriculaError, ValidationError, describeValue } from '../errors';
import { runNativeJob, runNativeSync, type Progress } from './native-job';

export interface GradientMatrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
  /** layer name for the per-layer summary (default "all") */
  layer?: string;
}

export const stableRankOptionsSchema = z
  .object({
    /** relative accuracy of ‖M‖_2² (the Lanczos residual bound) */
    tol: z.number().finite().positive().max(0.5).default(1e-6),
    /** matrix-vector products per matrix before giving up */
    maxIterations: z.number().int().min(1).max(100000).default(500),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    threads: z.number().int().min(1).max(2).default(2),
    /** 'cuda': the same Lanczos with the products on the GPU (docs/cuda.md); 'auto' uses it when available */
    device: deviceSchema,
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();

export type StableRankOptions = Omit<z.input<typeof stableRankOptionsSchema>, 'onProgress'> & { onProgress?: (p: Progress) => void };

export interface StableRankRow extends NativeStableRank {
  layer: string;
}

export interface LayerSummary {
  layer: string;
  matrices: number;
  min: number;
  mean: number;
  max: number;
}

export interface StableRankReport {
  ranks: StableRankRow[];
  layers: LayerSummary[];
  /** where the products ran */
  device?: 'cpu' | 'cuda';
  /** why `device: 'auto'` fell back to the CPU (one line) */
  deviceNote?: string;
}

function prepare(matrices: GradientMatrix[], options: StableRankOptions | undefined): { native: NativeMatrix[]; opts: NativeStableRankOptions; parsed: z.output<typeof stableRankOptionsSchema> } {
  const parsed = parseOptions(stableRankOptionsSchema, options);
  if (!Array.isArray(matrices) || matrices.length === 0) {
    throw new ValidationError('matrices', `Expected a non-empty array for \`matrices\` but received ${describeValue(matrices)}`);
  }
  const native = matrices.map((m, i) => {
    const f = `matrices[${i}]`;
    for (const k of ['rows', 'cols'] as const) {
      if (!Number.isSafeInteger(m?.[k]) || m[k] < 1) {
        throw new ValidationError(`${f}.${k}`, `Expected positive integer for \`${f}.${k}\` but received ${describeValue(m?.[k])}`);
      }
    }
    if (!(isFloat32Array(m.data) || isFloat64Array(m.data))) {
      throw new ValidationError(`${f}.data`, `Expected Float32Array or Float64Array for \`${f}.data\` but received ${describeValue(m.data)}`);
    }
    if (m.data.length !== m.rows * m.cols) {
      throw new ValidationError(`${f}.data`, `Expected ${m.rows * m.cols} entries (rows × cols) for \`${f}.data\` but received ${m.data.length}`);
    }
    for (let j = 0; j < m.data.length; j++) {
      if (!Number.isFinite(m.data[j])) {
        throw new ValidationError(`${f}.data[${j}]`, `Expected finite number for \`${f}.data[${j}]\` but received ${m.data[j]}`);
      }
    }
    return { data: m.data, rows: m.rows, cols: m.cols };
  });
  return { native, parsed, opts: { tol: parsed.tol, maxIterations: parsed.maxIterations, seed: parsed.seed, threads: parsed.threads } };
}

function report(matrices: GradientMatrix[], rows: NativeStableRank[], tol: number): StableRankReport {
  const ranks = rows.map((r, i) => {
    if (!r.converged) {
      throw new CurriculaError(
        `stable rank of \`matrices[${i}]\` did not reach tol ${tol} within ${r.iterations} iterations (residual ${r.residual.toExponential(3)} on ‖M‖₂² = ${r.spectral2.toExponential(6)}); raise \`maxIterations\` or \`tol\``,
        'ERR_CURRICULA_NO_CONVERGENCE',
      );
    }
    return { ...r, layer: matrices[i].layer ?? 'all' };
  });
  return { ranks, layers: summariseLayers(ranks) };
}

/** Per-layer min, mean and max of srank, layers in order of first appearance. */
export function summariseLayers(ranks: readonly { layer: string; srank: number }[]): LayerSummary[] {
  const byLayer = new Map<string, number[]>();
  for (const r of ranks) {
    const list = byLayer.get(r.layer) ?? [];
    list.push(r.srank);
    byLayer.set(r.layer, list);
  }
  return [...byLayer].map(([layer, v]) => ({
    layer,
    matrices: v.length,
    min: Math.min(...v),
    mean: v.reduce((s, x) => s + x, 0) / v.length,
    max: Math.max(...v),
  }));
}

export function stableRankSync(matrices: GradientMatrix[], options?: Omit<StableRankOptions, 'signal' | 'onProgress'>): StableRankReport {
  const { native, opts, parsed } = prepare(matrices, options);
  const d = resolveDevice(parsed.device, 'the stable rank');
  const run = d.device === 'cuda' ? () => binding().cudaStableRankSync(native, opts) : () => binding().stableRankSync(native, opts);
  return withDevice(report(matrices, runNativeSync(run, 'matrices'), opts.tol), d);
}

function withDevice(r: StableRankReport, d: { device: 'cpu' | 'cuda'; note?: string }): StableRankReport {
  return { ...r, device: d.device, ...(d.note !== undefined ? { deviceNote: d.note } : {}) };
}

/** Off the event loop; progress counts matrices (or Lanczos steps for a single matrix). */
export async function stableRank(matrices: GradientMatrix[], options?: StableRankOptions): Promise<StableRankReport> {
  const { native, opts, parsed } = prepare(matrices, options);
  const d = resolveDevice(parsed.device, 'the stable rank');
  const start = (cb: NativeProgress | undefined) => (d.device === 'cuda' ? binding().cudaStableRank(native, opts, cb) : binding().stableRank(native, opts, cb));
  const rows = await runNativeJob(start, parsed.signal, options?.onProgress, 'matrices');
  return withDevice(report(matrices, rows, opts.tol), d);
}
