/**
 * Test-only reference for the greedy scheduler, written to be obviously
 * correct rather than fast: O(M^2 (K + B)) BigInt arithmetic straight from the
 * definition in cpp/scheduler/exact_state.hpp.
 *
 *   P = 2^bits. Integer cumulative targets come in cells: for S in cell g
 *   (cellStart[g] <= S < cellStart[g+1]; the last cell never ends)
 *     E_k(S) = groupBase[g][k] + group[g][k] * (S - cellStart[g])   (bins alike),
 *   so a fixed mixture is one cell with base 0 and rates t_k (sum P).
 *   State: T_k, U_b (tokens scheduled per group / bin), S (tokens so far), step
 *   (sequences applied so far, resume-replayed ones included).
 *   For a candidate s with per-group counts c_sk, per-bin counts c_sb, length l_s:
 *     G(s)  = sum_{k in [0,K)} (P (T_k + c_sk) - E_k(S + l_s))^2
 *     Bt(s) = sum_{b in [0,B)} (P (U_b + c_sb) - E_b(S + l_s))^2
 *     sos:  key = (Number(G) + lambda * Number(Bt)) * 2^(-2 bits)
 *     norm: key = (sqrt(Number(G)) + lambda * sqrt(Number(Bt))) * 2^(-bits)
 *     sigma > 0: key += sigma * noise(seed, step, s)
 *   Pick the smallest key (ties: lowest index); stop when nothing remains or the
 *   newly scheduled tokens reach the budget.
 *
 * This file also holds a small seeded random-instance generator.
 */
import { binding, type NativeCorpus, type TargetTable } from '../../lib/binding';
import type { SequenceSet } from '../../lib/io/sequences';

// ---------------------------------------------------------------------------
// Reference scheduler

export interface IntegerTargets {
  bits: number;
  /** cell starts (omitted: one cell from 0) */
  cellStart?: ArrayLike<number>;
  /** cells x K rates */
  group: ArrayLike<bigint>;
  /** cells x B rates */
  bin: ArrayLike<bigint>;
  /** cells x K targets at the cell starts (omitted: zeros) */
  groupBase?: ArrayLike<bigint>;
  binBase?: ArrayLike<bigint>;
}

export interface NaiveOptions {
  lambda?: number;
  objective?: 'sos' | 'norm';
  sigma?: number;
  seed?: number | bigint;
  /** tokens; omitted = whole corpus */
  budget?: number;
  /** sequence indices replayed first (not part of the returned order) */
  resume?: ArrayLike<number>;
}

export type NoiseFn = (seed: bigint, step: bigint, index: bigint) => number;

export interface NaiveResult {
  order: number[];
  tokens: number;
}

function corpusOf(set: SequenceSet): NativeCorpus {
  return {
    offsets: set.offsets,
    group: set.group,
    bin: set.bin,
    tokens: set.tokens,
    numGroups: set.numGroups,
    numBins: set.numBins,
  };
}

/** Each group's share of the corpus tokens, computed independently of lib/. */
export function corpusShares(set: SequenceSet): Float64Array<ArrayBuffer> {
  const count = new Float64Array(set.numGroups);
  let total = 0;
  for (let i = 0; i < set.tokens.length; i++) {
    count[set.group[i]] += set.tokens[i];
    total += set.tokens[i];
  }
  return count.map((c) => c / total);
}

/** Integer targets from the addon (the one input the reference does not derive itself). */
export function nativeTargets(
  set: SequenceSet,
  mixture: Float64Array | TargetTable,
  neededTokens?: number,
): IntegerTargets {
  const t = binding().targets(corpusOf(set), mixture, neededTokens);
  return { bits: t.bits, cellStart: t.cellStart, group: t.group, bin: t.bin, groupBase: t.groupBase, binBase: t.binBase };
}

/** E(S) for every characteristic of one family, straight from the cell definition. */
function cellTargets(
  starts: number[],
  rate: bigint[],
  base: bigint[],
  n: number,
  S: bigint,
): bigint[] {
  let g = 0;
  while (g + 1 < starts.length && BigInt(starts[g + 1]) <= S) g++;
  const out: bigint[] = [];
  for (let k = 0; k < n; k++) out.push(base[g * n + k] + rate[g * n + k] * (S - BigInt(starts[g])));
  return out;
}

export const nativeNoise: NoiseFn = (seed, step, index) => binding().noise(seed, step, index);

/** Dense per-sequence counts: counts[s][k] as BigInt, plus lengths. */
function denseCounts(set: SequenceSet): { cg: bigint[][]; cb: bigint[][]; len: bigint[] } {
  const M = set.offsets.length - 1;
  const cg: bigint[][] = [];
  const cb: bigint[][] = [];
  const len: bigint[] = [];
  for (let s = 0; s < M; s++) {
    const g = new Array<bigint>(set.numGroups).fill(0n);
    const b = new Array<bigint>(set.numBins).fill(0n);
    let l = 0n;
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) {
      const t = BigInt(set.tokens[i]);
      g[set.group[i]] += t;
      b[set.bin[i]] += t;
      l += t;
    }
    cg.push(g);
    cb.push(b);
    len.push(l);
  }
  return { cg, cb, len };
}

/** The exact state of the definition, with the key of any candidate. */
export class NaiveState {
  readonly P: bigint;
  readonly T: bigint[];
  readonly U: bigint[];
  S = 0n;
  step = 0n;
  private readonly cg: bigint[][];
  private readonly cb: bigint[][];
  readonly len: bigint[];
  private readonly starts: number[];
  private readonly t: bigint[];
  private readonly u: bigint[];
  private readonly tBase: bigint[];
  private readonly uBase: bigint[];
  private readonly lambda: number;
  private readonly objective: 'sos' | 'norm';
  private readonly sigma: number;
  private readonly seed: bigint;
  private readonly bits: number;

  constructor(
    set: SequenceSet,
    targets: IntegerTargets,
    opts: NaiveOptions,
    private readonly noise: NoiseFn = nativeNoise,
  ) {
    this.bits = targets.bits;
    this.P = 1n << BigInt(targets.bits);
    this.starts = Array.from(targets.cellStart ?? [0]);
    const cells = this.starts.length;
    this.t = Array.from(targets.group);
    this.u = Array.from(targets.bin);
    this.tBase = Array.from(targets.groupBase ?? new Array<bigint>(cells * set.numGroups).fill(0n));
    this.uBase = Array.from(targets.binBase ?? new Array<bigint>(cells * set.numBins).fill(0n));
    if (this.t.length !== cells * set.numGroups || this.u.length !== cells * set.numBins) {
      throw new Error('targets do not fit the set');
    }
    this.T = new Array<bigint>(set.numGroups).fill(0n);
    this.U = new Array<bigint>(set.numBins).fill(0n);
    ({ cg: this.cg, cb: this.cb, len: this.len } = denseCounts(set));
    this.lambda = opts.lambda ?? 1;
    this.objective = opts.objective ?? 'sos';
    this.sigma = opts.sigma ?? 0;
    this.seed = BigInt(opts.seed ?? 0);
  }

  /** The two exact integer family terms G(s) and Bt(s). */
  terms(s: number): { G: bigint; Bt: bigint } {
    const L = this.S + this.len[s];
    const E = cellTargets(this.starts, this.t, this.tBase, this.T.length, L);
    let G = 0n;
    for (let k = 0; k < this.T.length; k++) {
      const d = this.P * (this.T[k] + this.cg[s][k]) - E[k];
      G += d * d;
    }
    const U = cellTargets(this.starts, this.u, this.uBase, this.U.length, L);
    let Bt = 0n;
    for (let b = 0; b < this.U.length; b++) {
      const d = this.P * (this.U[b] + this.cb[s][b]) - U[b];
      Bt += d * d;
    }
    return { G, Bt };
  }

  /** The key without noise. */
  baseKey(s: number): number {
    const { G, Bt } = this.terms(s);
    if (this.objective === 'sos') return (Number(G) + this.lambda * Number(Bt)) * 2 ** (-2 * this.bits);
    return (sqrt(Number(G)) + this.lambda * sqrt(Number(Bt))) * 2 ** -this.bits;
  }

  key(s: number): number {
    let k = this.baseKey(s);
    if (this.sigma > 0) k += this.sigma * this.noise(this.seed, this.step, BigInt(s));
    return k;
  }

  apply(s: number): void {
    for (let k = 0; k < this.T.length; k++) this.T[k] += this.cg[s][k];
    for (let b = 0; b < this.U.length; b++) this.U[b] += this.cb[s][b];
    this.S += this.len[s];
    this.step += 1n;
  }
}

/**
 * The naive greedy order. `targets` must come from the same mixture the
 * scheduler uses (see nativeTargets); `noise` defaults to the addon's draw.
 */
export function naiveSchedule(
  set: SequenceSet,
  opts: NaiveOptions,
  targets: IntegerTargets,
  noise: NoiseFn = nativeNoise,
): NaiveResult {
  const M = set.offsets.length - 1;
  const state = new NaiveState(set, targets, opts, noise);
  const taken = new Array<boolean>(M).fill(false);
  for (const s of Array.from(opts.resume ?? [])) {
    state.apply(s);
    taken[s] = true;
  }
  const budget = opts.budget === undefined ? Infinity : opts.budget;
  const order: number[] = [];
  let tokens = 0;
  while (order.length + (opts.resume?.length ?? 0) < M && tokens < budget) {
    let best = -1;
    let bestKey = Infinity;
    for (let s = 0; s < M; s++) {
      if (taken[s]) continue;
      const k = state.key(s);
      if (best < 0 || k < bestKey) {
        best = s;
        bestKey = k;
      }
    }
    state.apply(best);
    taken[best] = true;
    order.push(best);
    tokens += Number(state.len[best]);
  }
  return { order, tokens };
}

// ---------------------------------------------------------------------------
// Seeded randomness

// Module-scope aliases: global lookups (Math.*) are slow inside jest's vm context.
const { imul, sqrt, log, cos, floor, PI } = Math;

/** mulberry32: small, fast, good enough for test instances. */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < 4; i++) this.next();
  }
  /** uniform in [0, 1) */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** index drawn with probability proportional to w */
  weighted(w: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < w.length; i++) total += w[i];
    let x = this.next() * total;
    for (let i = 0; i < w.length; i++) {
      x -= w[i];
      if (x < 0) return i;
    }
    return w.length - 1;
  }
  /** standard normal by Box-Muller (no cached spare, so draws are independent of call pattern) */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]
    const u2 = this.next();
    return sqrt(-2 * log(u1)) * cos(2 * PI * u2);
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}

// ---------------------------------------------------------------------------
// Random instances

export interface InstanceParams {
  numSequences: number;
  numGroups: number;
  numBins: number;
  seed: number;
  /** max tokens per sequence (default 2048) */
  seqLength?: number;
  /** probability that a sequence duplicates an earlier one exactly (creates real ties; default 0.1) */
  duplicateFraction?: number;
}

/**
 * A random SequenceSet: mixed sequence lengths (full, short, tiny), 1-6
 * segments per sequence, Zipf-skewed group frequencies over a random
 * permutation of the group ids (so some groups may be absent), bins skewed and
 * correlated with the group, segments of one group repeated inside a sequence
 * now and then, and a few exact duplicate sequences.
 */
export function randomInstance(p: InstanceParams): SequenceSet {
  const rng = new Rng(p.seed);
  const { numSequences: M, numGroups: K, numBins: B } = p;
  const L = p.seqLength ?? 2048;
  const dup = p.duplicateFraction ?? 0.1;
  const zipf = 0.5 + 1.5 * rng.next();
  const perm = rng.shuffle(Array.from({ length: K }, (_, i) => i));
  const groupWeight = new Float64Array(K);
  for (let r = 0; r < K; r++) groupWeight[perm[r]] = Math.pow(r + 1, -zipf);
  // each group prefers one bin; bins themselves skewed
  const preferredBin = Array.from({ length: K }, () => rng.int(0, B - 1));
  const binWeight = Float64Array.from({ length: B }, (_, b) => Math.pow(b + 1, -0.7));

  const seqs: { group: number; bin: number; tokens: number }[][] = [];
  for (let s = 0; s < M; s++) {
    if (s > 0 && rng.next() < dup) {
      seqs.push(seqs[rng.int(0, s - 1)].map((x) => ({ ...x })));
      continue;
    }
    const kind = rng.next();
    const len = kind < 0.45 ? L : kind < 0.85 ? rng.int(Math.ceil(L / 8), L) : rng.int(6, Math.max(6, L >> 6));
    const nseg = Math.min(len, rng.int(1, 6));
    // split len into nseg positive parts
    const cuts = new Set<number>();
    while (cuts.size < nseg - 1) cuts.add(rng.int(1, len - 1));
    const edges = [0, ...[...cuts].sort((a, b) => a - b), len];
    const segs: { group: number; bin: number; tokens: number }[] = [];
    for (let i = 0; i < nseg; i++) {
      const group = i > 0 && rng.next() < 0.2 ? segs[i - 1].group : rng.weighted(groupWeight);
      const bin = rng.next() < 0.6 ? preferredBin[group] : rng.weighted(binWeight);
      segs.push({ group, bin, tokens: edges[i + 1] - edges[i] });
    }
    seqs.push(segs);
  }
  const nnz = seqs.reduce((a, x) => a + x.length, 0);
  const set: SequenceSet = {
    offsets: new BigUint64Array(M + 1),
    group: new Uint32Array(nnz),
    bin: new Uint32Array(nnz),
    tokens: new Uint32Array(nnz),
    numGroups: K,
    numBins: B,
  };
  let i = 0;
  seqs.forEach((segs, s) => {
    for (const x of segs) {
      set.group[i] = x.group;
      set.bin[i] = x.bin;
      set.tokens[i] = x.tokens;
      i++;
    }
    set.offsets[s + 1] = BigInt(i);
  });
  return set;
}

/**
 * A random mixture over K groups that generally differs from the corpus
 * shares: exponential weights, about a fifth of them zeroed (never all),
 * normalised to sum to 1.
 */
export function randomMixture(K: number, seed: number): Float64Array<ArrayBuffer> {
  const rng = new Rng(seed * 7919 + 17);
  const w = Float64Array.from({ length: K }, () => (rng.next() < 0.2 ? 0 : -Math.log(1 - rng.next())));
  if (w.every((x) => x === 0)) w[rng.int(0, K - 1)] = 1;
  let sum = 0;
  for (const x of w) sum += x;
  return w.map((x) => x / sum);
}

/** Tokens of sequence s. */
export function sequenceTokens(set: SequenceSet, s: number): number {
  let l = 0;
  for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) l += set.tokens[i];
  return l;
}

export function totalTokens(set: SequenceSet): number {
  let t = 0;
  for (let i = 0; i < set.tokens.length; i++) t += set.tokens[i];
  return t;
}

/** An order (Uint32Array or BigUint64Array) as plain numbers. */
export function toNumbers(order: Uint32Array | BigUint64Array | readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < order.length; i++) out.push(Number(order[i]));
  return out;
}
