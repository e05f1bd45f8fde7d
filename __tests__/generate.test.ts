import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  chunkHistogram,
  generateCorpus,
  GENERATOR_MODEL,
  type GeneratedCorpus,
} from '../bench/generate';
import { writeCorpusDir } from '../bench/write-corpus';

interface Doc {
  group: number;
  docLength: number;
  firstSeq: number;
  segments: number;
}

/** Total tokens of sequence i. */
function seqTokens(c: GeneratedCorpus, i: number): number {
  let t = 0;
  for (let s = Number(c.offsets[i]); s < Number(c.offsets[i + 1]); s++) t += c.tokens[s];
  return t;
}

/**
 * Walk the segments in order and reconstruct documents, asserting that a
 * document only continues at the start of the next sequence, with the same
 * group and docLength, and that its pieces sum exactly to docLength.
 */
function walkDocuments(c: GeneratedCorpus): Doc[] {
  const docs: Doc[] = [];
  const L = c.params.seqLength!;
  let open: Doc | null = null;
  let remaining = 0;
  for (let i = 0; i < c.numSequences; i++) {
    const a = Number(c.offsets[i]);
    const b = Number(c.offsets[i + 1]);
    for (let s = a; s < b; s++) {
      const g = c.group[s];
      const t = c.tokens[s];
      const d = c.docLength[s];
      if (t < 1) throw new Error(`empty segment ${s}`);
      if (open !== null && remaining > 0) {
        // Continuation: must be the first segment of the next sequence.
        if (s !== a || open.group !== g || open.docLength !== d || t > remaining) {
          throw new Error(`bad continuation at segment ${s} (sequence ${i})`);
        }
        // The previous chunk must have been full.
        if (seqTokens(c, i - 1) !== L) throw new Error(`continuation after a short chunk at ${i}`);
        open.segments++;
        remaining -= t;
      } else {
        if (t > d) throw new Error(`segment ${s}: tokens ${t} > docLength ${d}`);
        open = { group: g, docLength: d, firstSeq: i, segments: 1 };
        docs.push(open);
        remaining = d - t;
      }
    }
  }
  // Every document (including the last, truncated one) is complete.
  expect(remaining).toBe(0);
  return docs;
}

function checkStructure(c: GeneratedCorpus): void {
  const M = c.numSequences;
  const S = c.group.length;
  expect(c.offsets.length).toBe(M + 1);
  expect(c.tokens.length).toBe(S);
  expect(c.docLength.length).toBe(S);
  expect(c.offsets[0]).toBe(0n);
  expect(c.offsets[M]).toBe(BigInt(S));
  for (let i = 0; i < M; i++) {
    if (!(c.offsets[i + 1] > c.offsets[i])) throw new Error(`empty or decreasing sequence ${i}`);
  }
  for (let s = 0; s < S; s++) {
    if (c.group[s] >= c.numGroups) throw new Error(`group out of range at ${s}`);
    if (c.tokens[s] < 1 || c.tokens[s] > c.docLength[s]) throw new Error(`bad tokens at ${s}`);
  }
}

describe('generateCorpus', () => {
  const base = { numSequences: 5000, numGroups: 100, seed: 7 };

  it('is deterministic for a seed', () => {
    const a = generateCorpus(base);
    const b = generateCorpus(base);
    expect(a.offsets).toEqual(b.offsets);
    expect(a.group).toEqual(b.group);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.docLength).toEqual(b.docLength);
    expect(a.params).toEqual(b.params);
  });

  it('differs between seeds', () => {
    const a = generateCorpus(base);
    const b = generateCorpus({ ...base, seed: 8 });
    const n = Math.min(a.group.length, b.group.length);
    let same = 0;
    for (let s = 0; s < n; s++) if (a.group[s] === b.group[s] && a.docLength[s] === b.docLength[s]) same++;
    expect(same / n).toBeLessThan(0.1);
  });

  it('fills in and reports default parameters', () => {
    const c = generateCorpus({ numSequences: 3, numGroups: 2 });
    expect(c.params).toEqual({
      numSequences: 3,
      numGroups: 2,
      seqLength: 2048,
      zipf: 1,
      lengthMu: 6,
      lengthSigma: 1.2,
      clusterLengthSpread: 0.5,
      shortFraction: 0,
      seed: 1,
    });
  });

  it('rejects invalid parameters', () => {
    expect(() => generateCorpus({ numSequences: -1, numGroups: 2 })).toThrow(RangeError);
    expect(() => generateCorpus({ numSequences: 1, numGroups: 0 })).toThrow(RangeError);
    expect(() => generateCorpus({ numSequences: 1, numGroups: 2, seqLength: 0 })).toThrow(RangeError);
    expect(() => generateCorpus({ numSequences: 1, numGroups: 2, shortFraction: 1.5 })).toThrow(RangeError);
    expect(() => generateCorpus({ numSequences: 1.5, numGroups: 2 })).toThrow(RangeError);
  });

  it('handles zero sequences', () => {
    const c = generateCorpus({ numSequences: 0, numGroups: 4 });
    expect(c.offsets).toEqual(new BigUint64Array([0n]));
    expect(c.group.length).toBe(0);
  });

  it('produces valid offsets and exactly L tokens per sequence when shortFraction = 0', () => {
    for (const L of [2048, 512, 1]) {
      const c = generateCorpus({ ...base, numSequences: 2000, seqLength: L });
      checkStructure(c);
      for (let i = 0; i < c.numSequences; i++) {
        if (seqTokens(c, i) !== L) throw new Error(`sequence ${i} has ${seqTokens(c, i)} tokens, L=${L}`);
      }
    }
  });

  it('makes documents sum to docLength across chunk boundaries', () => {
    const c = generateCorpus({ ...base, numSequences: 3000, seqLength: 256 });
    checkStructure(c);
    const docs = walkDocuments(c);
    // With L = 256 and median doc ~403 tokens many documents span chunks.
    const spanning = docs.filter((d) => d.segments > 1).length;
    expect(spanning).toBeGreaterThan(docs.length / 4);
    expect(Math.max(...docs.map((d) => d.segments))).toBeGreaterThan(5);
  });

  it('draws clusters with Zipf frequencies', () => {
    const K = 20;
    // Short documents (mu = 4) give many documents per chunk.
    const c = generateCorpus({ numSequences: 5000, numGroups: K, lengthMu: 4, seed: 12345 });
    const docs = walkDocuments(c);
    const counts = new Array<number>(K).fill(0);
    for (const d of docs) counts[d.group]++;
    const n = docs.length;
    expect(n).toBeGreaterThan(40000);
    let h = 0;
    for (let k = 0; k < K; k++) h += 1 / (k + 1);
    // Cluster 0 is the most frequent; the top clusters are in order.
    expect(counts.indexOf(Math.max(...counts))).toBe(0);
    for (let k = 0; k < 4; k++) expect(counts[k]).toBeGreaterThan(counts[k + 1]);
    // Each cluster's frequency within 10% (relative) of 1/((k+1) H_K).
    for (let k = 0; k < K; k++) {
      const expected = n / ((k + 1) * h);
      expect(Math.abs(counts[k] - expected) / expected).toBeLessThan(0.1);
    }
    // zipf = 0: uniform.
    const u = generateCorpus({ numSequences: 5000, numGroups: 10, lengthMu: 4, zipf: 0, seed: 3 });
    const ud = walkDocuments(u);
    const uc = new Array<number>(10).fill(0);
    for (const d of ud) uc[d.group]++;
    for (const x of uc) expect(Math.abs(x - ud.length / 10) / (ud.length / 10)).toBeLessThan(0.1);
  });

  it('gives clusters different length profiles when clusterLengthSpread > 0', () => {
    const meanLogLen = (c: GeneratedCorpus): number[] => {
      const docs = walkDocuments(c);
      const sum = [0, 0, 0];
      const cnt = [0, 0, 0];
      for (const d of docs) {
        if (d.group < 3) {
          sum[d.group] += Math.log(d.docLength);
          cnt[d.group]++;
        }
      }
      return sum.map((s, i) => s / cnt[i]);
    };
    const flat = meanLogLen(generateCorpus({ numSequences: 20000, numGroups: 10, clusterLengthSpread: 0, seed: 5 }));
    for (const m of flat) expect(Math.abs(m - 6)).toBeLessThan(0.1);
    const spread = meanLogLen(generateCorpus({ numSequences: 20000, numGroups: 10, clusterLengthSpread: 2, seed: 5 }));
    const range = Math.max(...spread) - Math.min(...spread);
    expect(range).toBeGreaterThan(0.3);
  });

  it('puts 1-4 segments in the majority of chunks with the defaults', () => {
    const c = generateCorpus({ numSequences: 20000, numGroups: 1000, seed: 1 });
    const hist = chunkHistogram(c);
    let total = 0;
    let oneToFour = 0;
    for (const [k, v] of hist) {
      total += v;
      if (k >= 1 && k <= 4) oneToFour += v;
    }
    expect(total).toBe(c.numSequences);
    expect(hist.has(0)).toBe(false);
    expect(oneToFour / total).toBeGreaterThan(0.5);
    const keys = [...hist.keys()];
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  it('produces mixed sequence lengths when shortFraction > 0', () => {
    const L = 2048;
    const c = generateCorpus({ ...base, numSequences: 4000, shortFraction: 0.3 });
    checkStructure(c);
    walkDocuments(c); // short chunks end at document boundaries
    let short = 0;
    const lengths = new Set<number>();
    for (let i = 0; i < c.numSequences; i++) {
      const t = seqTokens(c, i);
      expect(t).toBeLessThanOrEqual(L);
      if (t < L) short++;
      lengths.add(t);
    }
    expect(short / c.numSequences).toBeGreaterThan(0.1);
    expect(short / c.numSequences).toBeLessThan(0.3);
    expect(lengths.size).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------
// On-disk round trip (own minimal .npy parser; does not use lib/io).
// ---------------------------------------------------------------------------

function readNpy(file: string): { descr: string; shape: number[]; data: Buffer; headerTotal: number } {
  const buf = fs.readFileSync(file);
  expect(buf.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
  expect(buf[6]).toBe(1);
  expect(buf[7]).toBe(0);
  const hlen = buf.readUInt16LE(8);
  const headerTotal = 10 + hlen;
  expect(headerTotal % 64).toBe(0);
  const header = buf.subarray(10, headerTotal).toString('latin1');
  expect(header.endsWith('\n')).toBe(true);
  const m = /^\{'descr': '(<u[48])', 'fortran_order': False, 'shape': \((\d+),\), \} *\n$/.exec(header);
  if (m === null) throw new Error(`unexpected npy header: ${JSON.stringify(header)}`);
  return { descr: m[1], shape: [Number(m[2])], data: buf.subarray(headerTotal), headerTotal };
}

function asU32(b: Buffer): Uint32Array {
  const copy = new Uint8Array(b); // aligned copy
  return new Uint32Array(copy.buffer, 0, copy.byteLength / 4);
}

function asU64(b: Buffer): BigUint64Array {
  const copy = new Uint8Array(b);
  return new BigUint64Array(copy.buffer, 0, copy.byteLength / 8);
}

describe('writeCorpusDir', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-gen-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips through .npy files and a manifest', () => {
    const c = generateCorpus({ numSequences: 3000, numGroups: 50, seed: 99, shortFraction: 0.1 });
    const out = path.join(dir, 'corpus');
    writeCorpusDir(out, c);

    expect(fs.readdirSync(out).sort()).toEqual(
      ['doc_length.npy', 'group.npy', 'manifest.json', 'offsets.npy', 'tokens.npy'].sort(),
    );

    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual({
      format: 'curricula.sequences',
      version: 1,
      numSequences: 3000,
      numGroups: 50,
      numBins: 16,
      files: { offsets: 'offsets.npy', group: 'group.npy', tokens: 'tokens.npy', docLength: 'doc_length.npy' },
      generator: { model: GENERATOR_MODEL, ...c.params },
    });

    const off = readNpy(path.join(out, 'offsets.npy'));
    expect(off.descr).toBe('<u8');
    expect(off.shape).toEqual([3001]);
    expect(off.data.length).toBe(3001 * 8);
    expect(asU64(off.data)).toEqual(c.offsets);

    const S = c.group.length;
    for (const [file, arr] of [
      ['group.npy', c.group],
      ['tokens.npy', c.tokens],
      ['doc_length.npy', c.docLength],
    ] as const) {
      const r = readNpy(path.join(out, file));
      expect(r.descr).toBe('<u4');
      expect(r.shape).toEqual([S]);
      expect(r.data.length).toBe(S * 4);
      expect(asU32(r.data)).toEqual(arr);
    }

    // Overwriting an existing directory works and leaves no temp files.
    writeCorpusDir(out, c);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('writes an empty corpus', () => {
    const c = generateCorpus({ numSequences: 0, numGroups: 1 });
    writeCorpusDir(dir, c);
    const g = readNpy(path.join(dir, 'group.npy'));
    expect(g.shape).toEqual([0]);
    expect(g.data.length).toBe(0);
    expect(asU64(readNpy(path.join(dir, 'offsets.npy')).data)).toEqual(new BigUint64Array([0n]));
  });
});
