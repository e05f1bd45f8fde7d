/**
 * Slow, obviously-correct references for the influence accumulator: the
 * projection elements re-derived from their definition (BigInt splitmix64,
 * Box-Muller), per-example clipping and projection in double, and plain sums.
 */
const MASK = (1n << 64n) - 1n;

function mix64(x: bigint): bigint {
  x = (x + 0x9e3779b97f4a7c15n) & MASK;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return x ^ (x >> 31n);
}

export function counterHash(seed: bigint, a: bigint, b: bigint): bigint {
  return mix64(mix64(mix64(seed) ^ a) ^ ((b * 0xd1b54a32d192ed03n) & MASK));
}

function uniformOpen0(h: bigint): number {
  return Number((h >> 11n) + 1n) * 2 ** -53;
}

export function gaussian(seed: bigint, a: number, b: number): number {
  const u1 = uniformOpen0(counterHash(seed, BigInt(a), BigInt(2 * b)));
  const u2 = uniformOpen0(counterHash(seed, BigInt(a), BigInt(2 * b + 1)));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(6.283185307179586 * u2);
}

const RADEMACHER_TAG = 0x5241444d41434852n;
const KRONECKER_TAG = 0x4b524f4e45434b45n;

export function denseElement(seed: bigint, r: number, c: number, d: number): number {
  return Math.fround(gaussian(seed, r, c) / Math.sqrt(d));
}

export function rademacherElement(seed: bigint, r: number, c: number, d: number): number {
  const h = counterHash(seed ^ RADEMACHER_TAG, BigInt(r), BigInt(Math.floor(c / 64)));
  const s = Math.fround(1 / Math.sqrt(d));
  return (h >> BigInt(c % 64)) & 1n ? -s : s;
}

export function kroneckerInElement(seed: bigint, r: number, c: number, dIn: number): number {
  return Math.fround(gaussian(counterHash(seed, KRONECKER_TAG, 0n), r, c) / Math.sqrt(dIn));
}

export function kroneckerOutElement(seed: bigint, r: number, c: number, dOut: number): number {
  return Math.fround(gaussian(counterHash(seed, KRONECKER_TAG, 1n), r, c) / Math.sqrt(dOut));
}

/** The D x d matrix (row-major, double) of a dense or rademacher projection. */
export function naiveMatrix(kind: 'dense' | 'rademacher', seed: bigint, D: number, d: number): Float64Array {
  const m = new Float64Array(D * d);
  for (let r = 0; r < D; r++)
    for (let c = 0; c < d; c++) m[r * d + c] = kind === 'dense' ? denseElement(seed, r, c, d) : rademacherElement(seed, r, c, d);
  return m;
}

export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function bf16ToNumber(b: number): number {
  return new Float32Array(new Uint32Array([b << 16]).buffer)[0];
}

export function toNumbers(grads: Float32Array | Uint16Array, dtype: 'f32' | 'f16' | 'bf16'): number[] {
  return Array.from(grads, (v) => (dtype === 'f32' ? v : dtype === 'f16' ? halfToNumber(v) : bf16ToNumber(v)));
}

/** clip_t(g) in double: g * min(1, t / |g|). */
export function naiveClip(g: number[], t: number): number[] {
  const norm = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
  const s = norm > t ? t / norm : 1;
  return g.map((x) => x * s);
}

/** f = clip(g)^T P for one example, P D x d. */
export function naiveProject(g: number[], P: Float64Array, d: number): number[] {
  const out = new Array<number>(d).fill(0);
  for (let r = 0; r < g.length; r++) for (let c = 0; c < d; c++) out[c] += g[r] * P[r * d + c];
  return out;
}

/** Kronecker features of one example via the explicit out x in gradient (which the fast path never forms). */
export function naiveKronecker(
  A: number[], G: number[], T: number, inDim: number, outDim: number, inProj: number, outProj: number, seed: bigint, clip: number,
): number[] {
  const W = new Array<number>(outDim * inDim).fill(0); // sum_t g_t a_t^T
  for (let t = 0; t < T; t++)
    for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) W[o * inDim + i] += G[t * outDim + o] * A[t * inDim + i];
  const Wc = naiveClip(W, clip);
  const f = new Array<number>(outProj * inProj).fill(0); // P_out^T W P_in
  for (let p = 0; p < outProj; p++)
    for (let q = 0; q < inProj; q++) {
      let s = 0;
      for (let o = 0; o < outDim; o++)
        for (let i = 0; i < inDim; i++) s += kroneckerOutElement(seed, o, p, outProj) * Wc[o * inDim + i] * kroneckerInElement(seed, i, q, inProj);
      f[p * inProj + q] = s;
    }
  return f;
}

export interface NaiveState {
  count: number[];
  sum: number[];
  targetCount: number;
  targetSum: number[];
  covCount: number;
  cov: number[];
}

/** Plain sums over feature rows: clusters and cov over non-targets, targetSum over targets. */
export function naiveAccumulate(features: number[][], cluster: number[], target: number[], K: number): NaiveState {
  const d = features.length ? features[0].length : 0;
  const s: NaiveState = {
    count: new Array(K).fill(0),
    sum: new Array(K * d).fill(0),
    targetCount: 0,
    targetSum: new Array(d).fill(0),
    covCount: 0,
    cov: new Array(d * d).fill(0),
  };
  features.forEach((f, e) => {
    if (target[e]) {
      s.targetCount++;
      f.forEach((v, j) => (s.targetSum[j] += v));
      return;
    }
    s.count[cluster[e]]++;
    f.forEach((v, j) => (s.sum[cluster[e] * d + j] += v));
    s.covCount++;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s.cov[i * d + j] += f[i] * f[j];
  });
  return s;
}
