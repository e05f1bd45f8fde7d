/**
 * The scheduler's two gradient checks on the demo model, greedy order vs a
 * seeded shuffle of the same sequences (so only the order differs): the
 * stable rank of batch gradients per layer (min and mean over evenly spaced
 * batches) and the cosine of chunk gradient sums (Kronecker-projected
 * per-example gradients, k chunks), with the share of sequences that span a
 * document boundary in each chunk (a cause of drift).
 */
import { z } from 'zod';

import { chunkCosine } from '../analysis/chunk-cosine';
import { stableRank, type LayerSummary } from '../analysis/stable-rank';
import { AbortError } from '../errors';
import { uniformAt } from '../curriculum/random';
import type { DemoData } from './data';
import { kroneckerFeatures, type InfluenceOptionsParsed } from './influence';
import { layerDims, perExampleGradientsAsync, type LayerName, type ModelShape } from './model';

export const analysisOptionsSchema = z
  .object({
    /** run the gradient analyses */
    enabled: z.boolean().default(true),
    /** batches per order for the stable rank, evenly spaced over the order */
    batches: z.int().min(1).max(1000).default(12),
    /** sequences per batch (rows of each gradient matrix) */
    rows: z.int().min(2).max(4096).default(16),
    /** chunks of the chunk-cosine check */
    chunks: z.int().min(2).max(100).default(10),
    /** layer whose Kronecker-projected per-example gradients are the chunk-cosine features */
    cosineLayer: z.enum(['hidden', 'output']).default('output'),
  })
  .strict();
export type AnalysisOptions = z.input<typeof analysisOptionsSchema>;
export type AnalysisOptionsParsed = z.output<typeof analysisOptionsSchema>;

export interface OrderAnalysis {
  stableRank: LayerSummary[];
  cosine: { matrix: number[]; minOffDiagonal: number; maxOffDiagonal: number; boundaries: number[] };
  /** per chunk: share of sequences holding more than one segment (a document boundary) */
  multiSegmentShare: number[];
}

export interface GradientAnalysis {
  /** what was analysed */
  model: string;
  orderSequences: number;
  shuffleSeed: number;
  rows: number;
  batches: number;
  chunks: number;
  cosineLayer: LayerName;
  cosineDim: number;
  greedy: OrderAnalysis;
  shuffle: OrderAnalysis;
}

/** A seeded permutation of `order` (Fisher–Yates on SplitMix64 draws). */
export function shuffledOrder(order: Uint32Array, seed: number): Uint32Array {
  const perm = order.slice();
  const M = perm.length;
  for (let i = M - 1; i > 0; i--) {
    const j = Math.floor(uniformAt(seed, M - 1 - i) * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** `count` windows of `rows` consecutive sequences, evenly spaced over the order. */
export function evenBatches(order: Uint32Array, count: number, rows: number): Uint32Array[] {
  rows = Math.min(rows, order.length);
  const n = Math.max(1, Math.min(count, Math.floor(order.length / rows)));
  const out: Uint32Array[] = [];
  for (let i = 0; i < n; i++) {
    const start = n === 1 ? 0 : Math.floor((i * (order.length - rows)) / (n - 1));
    out.push(order.slice(start, start + rows));
  }
  return out;
}

export interface AnalysisContext {
  shape: ModelShape;
  data: DemoData;
  influence: Pick<InfluenceOptionsParsed, 'inProj' | 'outProj' | 'seed' | 'batch'>;
  signal?: AbortSignal;
  /** runs a heavy step (the demo's concurrency limiter) */
  slot<T>(fn: () => Promise<T>): Promise<T>;
  onProgress?: (done: number, total: number) => void;
}

async function analyseOrder(
  ctx: AnalysisContext,
  params: Float32Array,
  order: Uint32Array,
  features: { data: Float64Array; cols: number; row: Map<number, number> },
  o: AnalysisOptionsParsed,
): Promise<OrderAnalysis> {
  const batches = evenBatches(order, o.batches, o.rows);
  const layers: LayerName[] = ['hidden', 'output'];
  const ranks: LayerSummary[] = [];
  for (const layer of layers) {
    const g = await ctx.slot(async () => {
      // batchGradients' layout (batch after batch, one row per example), computed off the event loop
      const examples = new Uint32Array(batches.length * batches[0].length);
      batches.forEach((b, i) => examples.set(b, i * b.length));
      const data = await perExampleGradientsAsync(ctx.shape, params, ctx.data.train.tokens, layer, examples);
      const d = layerDims(ctx.shape, layer);
      const b = { numBatches: batches.length, rows: batches[0].length, cols: (d.in + 1) * d.out };
      const mats = Array.from({ length: b.numBatches }, (_, i) => ({
        // a view made by this realm's constructor over the addon's buffer (instanceof checks hold under jest's vm realms)
        data: new Float32Array(data.buffer, data.byteOffset + i * b.rows * b.cols * 4, b.rows * b.cols),
        rows: b.rows,
        cols: b.cols,
        layer,
      }));
      return stableRank(mats, { threads: 1, signal: ctx.signal });
    });
    ranks.push(...g.layers);
  }
  const rowsOf = Uint32Array.from(order, (s) => features.row.get(s)!);
  const cos = await chunkCosine(rowsOf, { data: features.data, rows: features.row.size, cols: features.cols }, o.chunks, { threads: 1, signal: ctx.signal });
  const set = ctx.data.train.set;
  const multiSegmentShare = cos.boundaries.slice(0, -1).map((a, c) => {
    const b = cos.boundaries[c + 1];
    let multi = 0;
    for (let i = a; i < b; i++) if (Number(set.offsets[order[i] + 1] - set.offsets[order[i]]) > 1) multi++;
    return multi / Math.max(1, b - a);
  });
  return {
    stableRank: ranks,
    cosine: { matrix: Array.from(cos.cosine), minOffDiagonal: cos.minOffDiagonal, maxOffDiagonal: cos.maxOffDiagonal, boundaries: cos.boundaries },
    multiSegmentShare,
  };
}

/** Stable rank and chunk cosine of `order` and of a seeded shuffle of its sequences, at `params`. */
export async function analyseGradients(
  ctx: AnalysisContext,
  params: Float32Array,
  model: string,
  order: Uint32Array,
  shuffleSeed: number,
  options: AnalysisOptions = {},
): Promise<GradientAnalysis> {
  const o = analysisOptionsSchema.parse(options);
  const shuffle = shuffledOrder(order, shuffleSeed);
  // features of every sequence of the order, computed once for both orders
  const union = Uint32Array.from(new Set(order)).sort();
  const row = new Map<number, number>();
  union.forEach((s, i) => row.set(s, i));
  const chunkSize = 256;
  const parts: Float64Array[] = [];
  let cols = 0;
  for (let i = 0; i < union.length; i += chunkSize) {
    if (ctx.signal?.aborted) throw new AbortError();
    const f = await ctx.slot(() =>
      kroneckerFeatures(ctx.shape, params, ctx.data.train.tokens, union.subarray(i, i + chunkSize), o.cosineLayer, ctx.influence, {
        batch: ctx.influence.batch,
        signal: ctx.signal,
      }),
    );
    cols = f.cols;
    parts.push(f.data);
    ctx.onProgress?.(Math.min(union.length, i + chunkSize), union.length);
  }
  const data = new Float64Array(union.length * cols);
  let pos = 0;
  for (const p of parts) {
    data.set(p, pos);
    pos += p.length;
  }
  const features = { data, cols, row };
  const [greedy, shuffled] = [await analyseOrder(ctx, params, order, features, o), await analyseOrder(ctx, params, shuffle, features, o)];
  return {
    model,
    orderSequences: order.length,
    shuffleSeed,
    rows: Math.min(o.rows, order.length),
    batches: evenBatches(order, o.batches, o.rows).length,
    chunks: o.chunks,
    cosineLayer: o.cosineLayer,
    cosineDim: cols,
    greedy,
    shuffle: shuffled,
  };
}
