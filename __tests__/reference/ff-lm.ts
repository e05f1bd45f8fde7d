/**
 * Slow, obviously-correct double-precision reference of the demo language
 * model (cpp/model): forward loss and analytic gradient of one sequence's
 * summed next-token loss, written straight from the definitions in docs/demo.md.
 */
import type { ModelShape } from '../../lib/demo/model';

export interface Layout {
  emb: number;
  w1: number;
  b1: number;
  w2: number;
  b2: number;
  total: number;
}

export function layout(s: ModelShape): Layout {
  const emb = 0;
  const w1 = emb + s.vocab * s.embed;
  const b1 = w1 + s.context * s.embed * s.hidden;
  const w2 = b1 + s.hidden;
  const b2 = w2 + s.hidden * s.vocab;
  return { emb, w1, b1, w2, b2, total: b2 + s.vocab };
}

interface Position {
  ctx: number[];
  x: number[];
  h: number[];
  p: number[];
  loss: number;
}

/** Context of position t: the k previous tokens of the sequence, <eos> (0) before its start. */
function context(s: ModelShape, seq: ArrayLike<number>, t: number): number[] {
  const ctx: number[] = [];
  for (let m = 0; m < s.context; m++) {
    const back = s.context - m;
    ctx.push(t - back >= 0 ? seq[t - back] : 0);
  }
  return ctx;
}

function forwardAt(s: ModelShape, p: ArrayLike<number>, seq: ArrayLike<number>, t: number): Position {
  const L = layout(s);
  const ctx = context(s, seq, t);
  const x: number[] = [];
  for (const c of ctx) for (let e = 0; e < s.embed; e++) x.push(p[L.emb + c * s.embed + e]);
  const h: number[] = [];
  for (let j = 0; j < s.hidden; j++) {
    let z = p[L.b1 + j];
    for (let i = 0; i < x.length; i++) z += x[i] * p[L.w1 + i * s.hidden + j];
    h.push(Math.tanh(z));
  }
  const logits: number[] = [];
  for (let v = 0; v < s.vocab; v++) {
    let z = p[L.b2 + v];
    for (let j = 0; j < s.hidden; j++) z += h[j] * p[L.w2 + j * s.vocab + v];
    logits.push(z);
  }
  const mx = Math.max(...logits);
  const sum = logits.reduce((a, z) => a + Math.exp(z - mx), 0);
  const probs = logits.map((z) => Math.exp(z - mx) / sum);
  return { ctx, x, h, p: probs, loss: Math.log(sum) + mx - logits[seq[t]] };
}

/** Summed next-token loss (nats) of one sequence. */
export function sequenceLoss(s: ModelShape, p: ArrayLike<number>, seq: ArrayLike<number>): number {
  let loss = 0;
  for (let t = 0; t < seq.length; t++) loss += forwardAt(s, p, seq, t).loss;
  return loss;
}

export interface TokenSignals {
  /** hidden-layer input (concatenated embeddings) and d loss_t / d pre-tanh */
  hiddenAct: number[];
  hiddenGrad: number[];
  /** output-layer input (tanh activations) and d loss_t / d logits */
  outputAct: number[];
  outputGrad: number[];
}

/** Per-token layer inputs and output gradients, and the full gradient of the summed loss. */
export function sequenceGradient(
  s: ModelShape,
  p: ArrayLike<number>,
  seq: ArrayLike<number>,
): { grad: Float64Array; tokens: TokenSignals[] } {
  const L = layout(s);
  const g = new Float64Array(L.total);
  const tokens: TokenSignals[] = [];
  for (let t = 0; t < seq.length; t++) {
    const f = forwardAt(s, p, seq, t);
    const g2 = f.p.slice();
    g2[seq[t]] -= 1;
    const g1: number[] = [];
    for (let j = 0; j < s.hidden; j++) {
      let dh = 0;
      for (let v = 0; v < s.vocab; v++) dh += p[L.w2 + j * s.vocab + v] * g2[v];
      g1.push(dh * (1 - f.h[j] * f.h[j]));
    }
    for (let v = 0; v < s.vocab; v++) {
      g[L.b2 + v] += g2[v];
      for (let j = 0; j < s.hidden; j++) g[L.w2 + j * s.vocab + v] += f.h[j] * g2[v];
    }
    for (let j = 0; j < s.hidden; j++) {
      g[L.b1 + j] += g1[j];
      for (let i = 0; i < f.x.length; i++) g[L.w1 + i * s.hidden + j] += f.x[i] * g1[j];
    }
    for (let i = 0; i < f.x.length; i++) {
      let dx = 0;
      for (let j = 0; j < s.hidden; j++) dx += p[L.w1 + i * s.hidden + j] * g1[j];
      const m = Math.floor(i / s.embed);
      g[L.emb + f.ctx[m] * s.embed + (i % s.embed)] += dx;
    }
    tokens.push({ hiddenAct: f.x, hiddenGrad: g1, outputAct: f.h, outputGrad: g2 });
  }
  return { grad: g, tokens };
}

/** The [in+1][out] block of a layer's weights then bias, cut out of a full gradient. */
export function layerBlock(s: ModelShape, g: ArrayLike<number>, layer: 'hidden' | 'output'): number[] {
  const L = layout(s);
  const [w, b, n] = layer === 'hidden' ? [L.w1, L.b1, s.context * s.embed * s.hidden] : [L.w2, L.b2, s.hidden * s.vocab];
  const out = layer === 'hidden' ? s.hidden : s.vocab;
  const block: number[] = [];
  for (let i = 0; i < n; i++) block.push(g[w + i]);
  for (let j = 0; j < out; j++) block.push(g[b + j]);
  return block;
}
