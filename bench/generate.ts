/**
 * Synthetic packed-corpus generator for tests and benchmarks.
 *
 * Pure TypeScript, no dependencies, deterministic for a given seed, and
 * memory-lean: the result is four flat typed arrays (CSR layout), never one
 * object per segment.
 *
 * Model
 * -----
 * 1. Clusters ("groups"). There are K = numGroups clusters with Zipf-distributed
 *    sizes: cluster k (0-based) has weight (k + 1)^(-zipf), default zipf = 1.0.
 *    Each document draws its cluster independently from these weights (Walker /
 *    Vose alias table, O(1) per draw). Cluster 0 is the most frequent.
 * 2. Document lengths are log-normal in natural-log tokens:
 *        length = max(1, round(exp(mu + offset[k] + sigma * z))),  z ~ N(0, 1)
 *    with defaults mu = 6.0 (median ~403 tokens), sigma = 1.2. Each cluster k
 *    gets its own offset[k] ~ N(0, clusterLengthSpread^2) (default spread 0.5),
 *    so length profiles differ between groups; spread 0 gives every cluster the
 *    same length distribution. Lengths are capped at 2^31 tokens.
 * 3. Packing. Documents are concatenated in draw order and packed into chunks of
 *    exactly L = seqLength tokens (default 2048). A document that does not fit
 *    in the rest of a chunk continues at the start of the next chunk, so long
 *    documents span several chunks. Each chunk is one sequence; each piece of a
 *    document inside a chunk is one segment, recorded as
 *    (group = cluster, tokens = piece length, docLength = full document length).
 *    Consecutive segments of one document therefore share group and docLength,
 *    and their tokens sum to docLength.
 * 4. Mixed sequence lengths (optional). With probability shortFraction
 *    (default 0) a chunk is marked "short" when it is opened: it gets a cut
 *    target drawn uniformly from [1, L-1] and is closed at the first document
 *    boundary at or after that many tokens (if no document ends before the
 *    chunk is full, it stays full). Short chunks therefore always end exactly
 *    at a document boundary. With shortFraction = 0 every sequence has exactly
 *    L tokens, and the random stream is identical to a run without the option.
 * 5. The corpus stops after exactly numSequences chunks. The document that is
 *    still open at that point is truncated, and its segments' docLength is set
 *    to the number of tokens actually emitted, so the invariant in (3) holds for
 *    every document in the corpus.
 *
 * Layout of the result (CSR): sequence i owns segments
 * offsets[i] .. offsets[i+1]-1; offsets has numSequences + 1 entries,
 * offsets[0] = 0 and offsets[numSequences] = number of segments.
 *
 * Randomness: xoshiro128** seeded through splitmix32 from the (up to 53-bit)
 * integer seed; normals by Box-Muller (the spare value is cached). Per-cluster
 * length offsets are drawn first (always, even when the spread is 0, so the
 * document stream does not depend on the spread), then documents.
 *
 * Bins are not produced here: they are computed elsewhere from docLength
 * (token-weighted quantiles).
 */

export interface GenerateParams {
  /** Number of sequences (chunks) M to produce. Integer >= 0. */
  numSequences: number;
  /** Number of clusters / groups K. Integer >= 1. */
  numGroups: number;
  /** Tokens per chunk L (default 2048). */
  seqLength?: number;
  /** Zipf exponent for cluster sizes: weight (k+1)^-zipf (default 1.0). */
  zipf?: number;
  /** Log-normal mu of document length in natural-log tokens (default 6.0). */
  lengthMu?: number;
  /** Log-normal sigma of document length (default 1.2). */
  lengthSigma?: number;
  /** Std-dev of the per-cluster mu offset, N(0, spread^2) (default 0.5; 0 = none). */
  clusterLengthSpread?: number;
  /** Probability that a chunk is cut short at a document boundary (default 0). */
  shortFraction?: number;
  /** PRNG seed, a non-negative safe integer (default 1). */
  seed?: number;
}

export interface GeneratedCorpus {
  /** CSR offsets into the segment arrays, length numSequences + 1. */
  offsets: BigUint64Array;
  /** Per-segment cluster id in [0, numGroups). */
  group: Uint32Array;
  /** Per-segment token count (>= 1). */
  tokens: Uint32Array;
  /** Per-segment full length of the document the segment belongs to. */
  docLength: Uint32Array;
  numGroups: number;
  numSequences: number;
  /** The parameters actually used, with every default filled in. */
  params: Required<GenerateParams>;
}

/** Short machine-readable name of the model implemented here. */
export const GENERATOR_MODEL =
  'zipf-clusters/lognormal-doc-lengths/packed-chunks v1';

export const GENERATE_DEFAULTS = {
  seqLength: 2048,
  zipf: 1.0,
  lengthMu: 6.0,
  lengthSigma: 1.2,
  clusterLengthSpread: 0.5,
  shortFraction: 0,
  seed: 1,
} as const;

const MAX_DOC_LENGTH = 2 ** 31;
const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;

// ---------------------------------------------------------------------------
// PRNG: xoshiro128** (32-bit state words), seeded with splitmix32.
// ---------------------------------------------------------------------------

function splitmix32Stream(seedLo: number, seedHi: number): () => number {
  let a = (seedLo ^ Math.imul(seedHi, 0x85ebca6b)) | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const sm = splitmix32Stream(lo, hi);
    this.s0 = sm() | 0;
    this.s1 = sm() | 0;
    this.s2 = sm() | 0;
    this.s3 = sm() | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(s1, 5);
    const result = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() * INV_TWO_POW_32;
  }

  /** Standard normal (Box-Muller, spare value cached). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    // u1 in (0, 1] so that log(u1) is finite.
    const u1 = (this.nextU32() + 1) * INV_TWO_POW_32;
    const u2 = this.nextU32() * INV_TWO_POW_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }
}

// ---------------------------------------------------------------------------
// Alias table (Vose) for the Zipf cluster weights.
// ---------------------------------------------------------------------------

interface AliasTable {
  prob: Float64Array; // acceptance threshold in [0, 1]
  alias: Uint32Array;
}

function buildAliasTable(weights: Float64Array): AliasTable {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = (weights[i] * n) / total;
  const prob = new Float64Array(n);
  const alias = new Uint32Array(n);
  const small = new Uint32Array(n);
  const large = new Uint32Array(n);
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < n; i++) {
    if (scaled[i] < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[--nl];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  // Leftovers are 1 up to rounding error.
  while (nl > 0) {
    const l = large[--nl];
    prob[l] = 1;
    alias[l] = l;
  }
  while (ns > 0) {
    const s = small[--ns];
    prob[s] = 1;
    alias[s] = s;
  }
  return { prob, alias };
}

// ---------------------------------------------------------------------------
// Parameter handling.
// ---------------------------------------------------------------------------

function checkInt(name: string, v: number, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
}

function checkReal(name: string, v: number, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`${name} must be a finite number in [${min}, ${max}], got ${String(v)}`);
  }
}

/** Fill in defaults and validate; throws RangeError on bad input. */
export function resolveParams(p: GenerateParams): Required<GenerateParams> {
  const r: Required<GenerateParams> = {
    numSequences: p.numSequences,
    numGroups: p.numGroups,
    seqLength: p.seqLength ?? GENERATE_DEFAULTS.seqLength,
    zipf: p.zipf ?? GENERATE_DEFAULTS.zipf,
    lengthMu: p.lengthMu ?? GENERATE_DEFAULTS.lengthMu,
    lengthSigma: p.lengthSigma ?? GENERATE_DEFAULTS.lengthSigma,
    clusterLengthSpread: p.clusterLengthSpread ?? GENERATE_DEFAULTS.clusterLengthSpread,
    shortFraction: p.shortFraction ?? GENERATE_DEFAULTS.shortFraction,
    seed: p.seed ?? GENERATE_DEFAULTS.seed,
  };
  checkInt('numSequences', r.numSequences, 0, 2 ** 32 - 1);
  checkInt('numGroups', r.numGroups, 1, 2 ** 32 - 1);
  checkInt('seqLength', r.seqLength, 1, 2 ** 32 - 1);
  checkReal('zipf', r.zipf, 0, 64);
  checkReal('lengthMu', r.lengthMu, -100, 100);
  checkReal('lengthSigma', r.lengthSigma, 0, 100);
  checkReal('clusterLengthSpread', r.clusterLengthSpread, 0, 100);
  checkReal('shortFraction', r.shortFraction, 0, 1);
  checkInt('seed', r.seed, 0, Number.MAX_SAFE_INTEGER);
  return r;
}

// ---------------------------------------------------------------------------
// Generator.
// ---------------------------------------------------------------------------

function grow(a: Uint32Array, cap: number, used: number): Uint32Array {
  const b = new Uint32Array(cap);
  b.set(a.subarray(0, used));
  return b;
}

/** Generate a packed synthetic corpus; see the header comment for the model. */
export function generateCorpus(p: GenerateParams): GeneratedCorpus {
  const params = resolveParams(p);
  const M = params.numSequences;
  const K = params.numGroups;
  const L = params.seqLength;
  const sigma = params.lengthSigma;
  const shortFraction = params.shortFraction;

  const rng = new Xoshiro128(params.seed);

  // Per-cluster log-length: mu + N(0, spread^2). Always draw K normals so the
  // document stream does not depend on the spread.
  const clusterMu = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    clusterMu[k] = params.lengthMu + params.clusterLengthSpread * rng.normal();
  }

  // Zipf cluster weights -> alias table.
  const weights = new Float64Array(K);
  for (let k = 0; k < K; k++) weights[k] = Math.pow(k + 1, -params.zipf);
  const { prob, alias } = buildAliasTable(weights);

  // Capacity estimate: segments ~= M + (tokens / E[docLength]), with the
  // expectation taken exactly over the realised cluster weights and offsets.
  let wSum = 0;
  let wLen = 0;
  for (let k = 0; k < K; k++) {
    wSum += weights[k];
    wLen += weights[k] * Math.min(MAX_DOC_LENGTH, Math.exp(clusterMu[k] + (sigma * sigma) / 2));
  }
  const meanDoc = Math.max(1, wLen / wSum);
  const perChunk = Math.min(L, 1 + L / meanDoc);
  let cap = Math.max(1024, Math.ceil(M * perChunk * 1.03) + 1024);
  cap = Math.min(cap, 2 ** 32 - 1);

  let group: Uint32Array = new Uint32Array(cap);
  let tokens: Uint32Array = new Uint32Array(cap);
  let docLength: Uint32Array = new Uint32Array(cap);
  const offsets = new BigUint64Array(M + 1);

  let nseg = 0;
  let seq = 0;
  let used = 0; // tokens in the open chunk
  // Cut target of the open chunk; L (never reached before the full-chunk close) = not short.
  const drawCut = (): number => {
    if (shortFraction > 0 && L > 1 && rng.uniform() < shortFraction) {
      return 1 + Math.floor(rng.uniform() * (L - 1));
    }
    return L;
  };
  let cut = M > 0 ? drawCut() : L;

  while (seq < M) {
    // Draw one document.
    const col = Math.floor(rng.nextU32() * INV_TWO_POW_32 * K);
    const c = rng.uniform() < prob[col] ? col : alias[col];
    const raw = Math.round(Math.exp(clusterMu[c] + sigma * rng.normal()));
    const len = raw >= 1 ? (raw <= MAX_DOC_LENGTH ? raw : MAX_DOC_LENGTH) : 1;

    // Pack it.
    const firstSeg = nseg;
    let remaining = len;
    while (remaining > 0 && seq < M) {
      const room = L - used;
      const take = remaining < room ? remaining : room;
      if (nseg === cap) {
        const newCap = Math.min(2 ** 32 - 1, Math.ceil(cap * 1.25) + 1024);
        if (newCap <= cap) throw new RangeError('segment count exceeds 2^32 - 1');
        group = grow(group, newCap, nseg);
        tokens = grow(tokens, newCap, nseg);
        docLength = grow(docLength, newCap, nseg);
        cap = newCap;
      }
      group[nseg] = c;
      tokens[nseg] = take;
      docLength[nseg] = len;
      nseg++;
      used += take;
      remaining -= take;
      if (used === L) {
        seq++;
        offsets[seq] = BigInt(nseg);
        used = 0;
        if (seq < M) cut = drawCut();
      }
    }

    if (remaining > 0) {
      // Corpus ended inside this document: truncate it consistently.
      const emitted = len - remaining;
      for (let s = firstSeg; s < nseg; s++) docLength[s] = emitted;
    } else if (used > 0 && used >= cut) {
      // Short chunk: close it at this document boundary.
      seq++;
      offsets[seq] = BigInt(nseg);
      used = 0;
      if (seq < M) cut = drawCut();
    }
  }

  if (nseg !== cap) {
    // Exact-size copies (one array at a time keeps the peak low).
    group = group.slice(0, nseg);
    tokens = tokens.slice(0, nseg);
    docLength = docLength.slice(0, nseg);
  }

  return { offsets, group, tokens, docLength, numGroups: K, numSequences: M, params };
}

/**
 * Histogram of segments per sequence (for packed documents: number of
 * document pieces per chunk). Keys are in ascending order.
 */
export function chunkHistogram(c: GeneratedCorpus): Map<number, number> {
  const counts = new Map<number, number>();
  const off = c.offsets;
  let maxK = 0;
  const small = new Float64Array(257);
  for (let i = 0; i < c.numSequences; i++) {
    const n = Number(off[i + 1] - off[i]);
    if (n <= 256) small[n]++;
    else counts.set(n, (counts.get(n) ?? 0) + 1);
    if (n > maxK) maxK = n;
  }
  const out = new Map<number, number>();
  for (let n = 0; n <= Math.min(256, maxK); n++) if (small[n] > 0) out.set(n, small[n]);
  const big = [...counts.keys()].sort((a, b) => a - b);
  for (const n of big) out.set(n, counts.get(n)!);
  return out;
}
