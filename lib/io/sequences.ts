/**
 * The in-memory sequence set (CSR layout, see docs/formats.md) and its
 * readers and writer.
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';

import { FormatError, ValidationError, describeValue, expectPositiveInteger, schemaError } from '../errors';
import { writeFileAtomic } from './atomic';
import { readNpy, writeNpyAtomic, type NpyArray } from './npy';

export interface SequenceSet {
  /** length M+1, offsets[0] = 0, strictly increasing, offsets[M] = nnz */
  offsets: BigUint64Array;
  /** nnz, each < numGroups */
  group: Uint32Array;
  /** nnz, each < numBins */
  bin: Uint32Array;
  /** nnz, each >= 1 */
  tokens: Uint32Array;
  numGroups: number;
  numBins: number;
  /** optional, length numGroups, distinct */
  groupNames?: string[];
  /** optional, length numBins - 1: the document-length edges used for binning */
  binEdges?: number[];
}

export const MANIFEST_NAME = 'manifest.json';
export const DEFAULT_NUM_BINS = 16;
const UINT32_MAX = 0xffffffff;

// ---------------------------------------------------------------------------
// Validation

function expectCount(field: string, value: unknown): number {
  expectPositiveInteger(field, value);
  if ((value as number) > UINT32_MAX) {
    throw new ValidationError(field, `Expected \`${field}\` to be at most 2^32-1 but received ${value}`);
  }
  return value as number;
}

function expectArray(field: string, value: unknown, ctor: { new (n: number): unknown; name: string }): void {
  if (!(value instanceof ctor)) {
    throw new ValidationError(field, `Expected ${ctor.name} for \`${field}\` but received ${describeValue(value)}`);
  }
}

function checkRange(field: string, arr: Uint32Array, limit: number, what: string): void {
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] >= limit) {
      throw new ValidationError(
        `${field}[${i}]`,
        `${field}[${i}] = ${arr[i]} is out of range [0, ${limit}) (${what} = ${limit})`,
      );
    }
  }
}

/** Throw a ValidationError naming the field and index of the first problem found. */
export function validateSequenceSet(set: SequenceSet): void {
  expectCount('numGroups', set.numGroups);
  expectCount('numBins', set.numBins);
  expectArray('offsets', set.offsets, BigUint64Array);
  expectArray('group', set.group, Uint32Array);
  expectArray('bin', set.bin, Uint32Array);
  expectArray('tokens', set.tokens, Uint32Array);

  const { offsets } = set;
  if (offsets.length === 0) {
    throw new ValidationError('offsets', '`offsets` must have M+1 entries for M sequences but is empty');
  }
  if (offsets[0] !== 0n) throw new ValidationError('offsets[0]', `offsets[0] must be 0 but is ${offsets[0]}`);
  for (let i = 0; i + 1 < offsets.length; i++) {
    if (offsets[i + 1] < offsets[i]) {
      throw new ValidationError(
        `offsets[${i + 1}]`,
        `offsets must be nondecreasing but offsets[${i + 1}] = ${offsets[i + 1]} < offsets[${i}] = ${offsets[i]}`,
      );
    }
    if (offsets[i + 1] === offsets[i]) {
      throw new ValidationError(`offsets[${i + 1}]`, `sequence ${i} is empty (offsets[${i}] = offsets[${i + 1}] = ${offsets[i]})`);
    }
  }
  const end = offsets[offsets.length - 1];
  for (const field of ['group', 'bin', 'tokens'] as const) {
    if (BigInt(set[field].length) !== end) {
      throw new ValidationError(field, `\`${field}\` has ${set[field].length} entries but \`offsets\` ends at ${end}`);
    }
  }

  checkRange('group', set.group, set.numGroups, 'numGroups');
  checkRange('bin', set.bin, set.numBins, 'numBins');
  let total = 0;
  for (let i = 0; i < set.tokens.length; i++) {
    const t = set.tokens[i];
    if (t === 0) throw new ValidationError(`tokens[${i}]`, `tokens[${i}] must be at least 1 but is 0`);
    total += t; // exact while below 2^53, and each step adds < 2^32
  }
  if (total > Number.MAX_SAFE_INTEGER) {
    throw new ValidationError('tokens', `total tokens (about ${total.toExponential(3)}) exceed 2^53`);
  }

  if (set.groupNames !== undefined) {
    const names = set.groupNames;
    if (!Array.isArray(names)) {
      throw new ValidationError('groupNames', `Expected array for \`groupNames\` but received ${describeValue(names)}`);
    }
    if (names.length !== set.numGroups) {
      throw new ValidationError(
        'groupNames',
        `\`groupNames\` has ${names.length} entries but \`numGroups\` is ${set.numGroups}`,
      );
    }
    const seen = new Map<string, number>();
    names.forEach((name, i) => {
      if (typeof name !== 'string') {
        throw new ValidationError(`groupNames[${i}]`, `Expected string for \`groupNames[${i}]\` but received ${describeValue(name)}`);
      }
      const first = seen.get(name);
      if (first !== undefined) {
        throw new ValidationError(`groupNames[${i}]`, `groupNames[${i}] = ${JSON.stringify(name)} duplicates groupNames[${first}]`);
      }
      seen.set(name, i);
    });
  }

  if (set.binEdges !== undefined) {
    const edges = set.binEdges;
    if (!Array.isArray(edges) || edges.length !== set.numBins - 1) {
      throw new ValidationError(
        'binEdges',
        `\`binEdges\` must have numBins - 1 = ${set.numBins - 1} entries but received ${describeValue(edges)}`,
      );
    }
    edges.forEach((e, i) => {
      if (typeof e !== 'number' || !Number.isFinite(e) || (i > 0 && e < edges[i - 1])) {
        throw new ValidationError(`binEdges[${i}]`, `binEdges[${i}] = ${describeValue(e)} must be finite and >= the previous edge`);
      }
    });
  }
}

// ---------------------------------------------------------------------------
// Length bins

/** Index of the first element of sorted `a` that is >= x. */
function lowerBound(a: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Token-weighted quantile bins over document length (rule in docs/formats.md):
 *   edge[b-1] = smallest length v with tokens(docLength <= v) * B >= total * b, b = 1..B-1
 *   bin(x)    = number of edges e with x > e
 * so equal lengths always share a bin; repeated edges leave empty bins but B stays B.
 */
export function computeLengthBins(
  docLength: Uint32Array,
  tokens: Uint32Array,
  B: number,
): { bin: Uint32Array; edges: number[] } {
  expectCount('numBins', B);
  if (docLength.length !== tokens.length) {
    throw new ValidationError('docLength', `\`docLength\` has ${docLength.length} entries but \`tokens\` has ${tokens.length}`);
  }
  // Distinct lengths in ascending order and the tokens at each (a native sort, then one pass).
  const values = docLength.slice().sort();
  let u = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[u - 1]) values[u++] = values[i];
  const distinct = values.subarray(0, u);
  const weight = new Float64Array(u);
  let total = 0;
  for (let i = 0; i < docLength.length; i++) {
    weight[lowerBound(distinct, docLength[i])] += tokens[i];
    total += tokens[i];
  }
  if (total > Number.MAX_SAFE_INTEGER) throw new ValidationError('tokens', 'total tokens exceed 2^53');

  // BigInt keeps cum * B vs total * b exact for any total below 2^53.
  const edges: number[] = [];
  const bigTotal = BigInt(total);
  let j = 0;
  let cum = u > 0 ? weight[0] : 0;
  for (let b = 1; b < B; b++) {
    while (j < u - 1 && BigInt(cum) * BigInt(B) < bigTotal * BigInt(b)) cum += weight[++j];
    edges.push(u > 0 ? distinct[j] : 0);
  }
  const bin = new Uint32Array(docLength.length);
  for (let i = 0; i < docLength.length; i++) bin[i] = lowerBound(edges, docLength[i]);
  return { bin, edges };
}

// ---------------------------------------------------------------------------
// Directory format

const fileName = z.string().min(1);
const ManifestSchema = z.object({
  format: z.literal('curricula.sequences'),
  version: z.literal(1),
  numSequences: z.int().min(0),
  numGroups: z.int().min(1).max(UINT32_MAX),
  numBins: z.int().min(1).max(UINT32_MAX).optional(),
  groupNames: z.array(z.string()).optional(),
  binEdges: z.array(z.number()).optional(),
  files: z
    .object({
      offsets: fileName,
      group: fileName,
      tokens: fileName,
      bin: fileName.optional(),
      docLength: fileName.optional(),
    })
    .refine((f) => f.bin !== undefined || f.docLength !== undefined, {
      message: 'needs a `bin` or a `docLength` file',
    }),
});
type Manifest = z.infer<typeof ManifestSchema>;

function readManifest(file: string): Manifest {
  const text = fs.readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FormatError(file, `${file}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error.issues, raw);
  return parsed.data;
}

function expectIntegerVector(arr: NpyArray, name: string, file: string): void {
  if (arr.shape.length !== 1) {
    throw new FormatError(file, `${file}: \`${name}\` must be 1-D but has shape (${arr.shape.join(', ')})`);
  }
  if (arr.dtype[1] === 'f') throw new FormatError(file, `${file}: \`${name}\` must have an integer dtype but has ${arr.dtype}`);
}

/** Convert any integer .npy array to Uint32Array, checking every value fits. */
function toUint32(arr: NpyArray, name: string, file: string): Uint32Array {
  expectIntegerVector(arr, name, file);
  if (arr.data instanceof Uint32Array) return arr.data;
  const src = arr.data;
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v < 0 || v > UINT32_MAX) {
      throw new FormatError(file, `${file}: ${name}[${i}] = ${v} is out of range for uint32 [0, 2^32-1]`);
    }
    out[i] = Number(v);
  }
  return out;
}

function toUint64(arr: NpyArray, name: string, file: string): BigUint64Array {
  expectIntegerVector(arr, name, file);
  if (arr.data instanceof BigUint64Array) return arr.data;
  const src = arr.data;
  const out = new BigUint64Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v < 0) throw new FormatError(file, `${file}: ${name}[${i}] = ${v} must not be negative`);
    out[i] = BigInt(v);
  }
  return out;
}

/** Read a sequence set stored as dir/manifest.json plus .npy files (docs/formats.md). */
export function readSequencesDir(dir: string, opts: { numBins?: number } = {}): SequenceSet {
  if (opts.numBins !== undefined) expectCount('numBins', opts.numBins);
  const m = readManifest(path.join(dir, MANIFEST_NAME));
  const load = <T>(key: keyof Manifest['files'], conv: (a: NpyArray, n: string, f: string) => T): T => {
    const file = path.resolve(dir, m.files[key]!);
    return conv(readNpy(file), key, file);
  };

  const offsets = load('offsets', toUint64);
  if (offsets.length !== m.numSequences + 1) {
    throw new ValidationError(
      'offsets',
      `\`offsets\` has ${offsets.length} entries but manifest numSequences = ${m.numSequences} needs ${m.numSequences + 1}`,
    );
  }
  const group = load('group', toUint32);
  const tokens = load('tokens', toUint32);

  let bin: Uint32Array;
  let numBins: number;
  let binEdges = m.binEdges;
  if (m.files.bin !== undefined) {
    bin = load('bin', toUint32);
    if (m.numBins !== undefined && opts.numBins !== undefined && m.numBins !== opts.numBins) {
      throw new ValidationError(
        'numBins',
        `\`numBins\` option is ${opts.numBins} but the manifest has precomputed bins with numBins = ${m.numBins}`,
      );
    }
    numBins = m.numBins ?? opts.numBins ?? bin.reduce((a, b) => Math.max(a, b + 1), 1);
  } else {
    const docLength = load('docLength', toUint32);
    numBins = opts.numBins ?? m.numBins ?? DEFAULT_NUM_BINS;
    ({ bin, edges: binEdges } = computeLengthBins(docLength, tokens, numBins));
  }

  const set: SequenceSet = { offsets, group, bin, tokens, numGroups: m.numGroups, numBins };
  if (m.groupNames !== undefined) set.groupNames = m.groupNames;
  if (binEdges !== undefined) set.binEdges = binEdges;
  validateSequenceSet(set);
  return set;
}

/** Write `set` as a sequences directory; each file atomically, the manifest last. */
export function writeSequencesDir(dir: string, set: SequenceSet): void {
  validateSequenceSet(set);
  fs.mkdirSync(dir, { recursive: true });
  const files = { offsets: 'offsets.npy', group: 'group.npy', tokens: 'tokens.npy', bin: 'bin.npy' };
  for (const key of ['offsets', 'group', 'tokens', 'bin'] as const) writeNpyAtomic(path.join(dir, files[key]), set[key]);
  const manifest = {
    format: 'curricula.sequences',
    version: 1,
    numSequences: set.offsets.length - 1,
    numGroups: set.numGroups,
    numBins: set.numBins,
    ...(set.groupNames && { groupNames: set.groupNames }),
    ...(set.binEdges && { binEdges: set.binEdges }),
    files,
  };
  writeFileAtomic(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
}

// ---------------------------------------------------------------------------
// JSON Lines format

const u32 = z.int().min(0).max(UINT32_MAX);
const LineSchema = z.object({
  segments: z
    .array(
      z.object({
        group: u32,
        tokens: z.int().min(1).max(UINT32_MAX),
        bin: u32.optional(),
        docLength: u32.optional(),
      }),
    )
    .min(1, 'a sequence needs at least one segment'),
});

export interface JsonlOptions {
  /** Number of groups; default max group + 1. */
  numGroups?: number;
  /** Number of bins; default max bin + 1 with explicit bins, 16 with docLength. */
  numBins?: number;
}

/**
 * Read one sequence per line: {"segments":[{"group":0,"tokens":120,"bin":3}, ...]}.
 * If every segment has `bin`, those are used; otherwise every segment must
 * have `docLength` and bins are computed with computeLengthBins.
 */
export function readSequencesJsonl(file: string, opts: JsonlOptions = {}): SequenceSet {
  if (opts.numGroups !== undefined) expectCount('numGroups', opts.numGroups);
  if (opts.numBins !== undefined) expectCount('numBins', opts.numBins);
  const lines = fs.readFileSync(file, 'utf8').split('\n');

  const offsets: number[] = [0];
  const group: number[] = [];
  const tokens: number[] = [];
  const bin: number[] = [];
  const docLength: number[] = [];
  const where: [line: number, index: number][] = []; // per segment, for error messages
  let noBin: string | undefined;
  let noDocLength: string | undefined;

  lines.forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new FormatError(file, `${file}: line ${line}: invalid JSON: ${(err as Error).message}`, { cause: err });
    }
    const parsed = LineSchema.safeParse(raw);
    if (!parsed.success) throw schemaError(`${file}: line ${line}`, parsed.error.issues, raw);
    parsed.data.segments.forEach((s, j) => {
      const at = `line ${line}, segments[${j}]`;
      if (s.bin === undefined && s.docLength === undefined) {
        throw new ValidationError(`segments[${j}]`, `${file}: ${at} needs a \`bin\` or a \`docLength\``);
      }
      if (opts.numGroups !== undefined && s.group >= opts.numGroups) {
        throw new ValidationError(
          `segments[${j}].group`,
          `${file}: ${at}: group = ${s.group} is out of range [0, ${opts.numGroups}) (numGroups = ${opts.numGroups})`,
        );
      }
      noBin ??= s.bin === undefined ? at : undefined;
      noDocLength ??= s.docLength === undefined ? at : undefined;
      group.push(s.group);
      tokens.push(s.tokens);
      bin.push(s.bin ?? 0);
      docLength.push(s.docLength ?? 0);
      where.push([line, j]);
    });
    offsets.push(group.length);
  });

  if (offsets.length === 1) throw new FormatError(file, `${file}: contains no sequences`);
  if (noBin !== undefined && noDocLength !== undefined) {
    throw new ValidationError(
      'bin',
      `${file}: ${noBin} has no \`bin\` and ${noDocLength} has no \`docLength\`; ` +
        'give every segment a `bin`, or every segment a `docLength`',
    );
  }

  const numGroups = opts.numGroups ?? group.reduce((a, b) => Math.max(a, b + 1), 1);
  const set: SequenceSet = {
    offsets: BigUint64Array.from(offsets, BigInt),
    group: Uint32Array.from(group),
    tokens: Uint32Array.from(tokens),
    bin: Uint32Array.from(bin),
    numGroups,
    numBins: 0,
  };
  if (noBin === undefined) {
    set.numBins = opts.numBins ?? bin.reduce((a, b) => Math.max(a, b + 1), 1);
    const bad = bin.findIndex((b) => b >= set.numBins);
    if (bad >= 0) {
      const [line, j] = where[bad];
      throw new ValidationError(
        `segments[${j}].bin`,
        `${file}: line ${line}, segments[${j}]: bin = ${bin[bad]} is out of range [0, ${set.numBins}) (numBins = ${set.numBins})`,
      );
    }
  } else {
    set.numBins = opts.numBins ?? DEFAULT_NUM_BINS;
    const binned = computeLengthBins(Uint32Array.from(docLength), set.tokens, set.numBins);
    set.bin = binned.bin;
    set.binEdges = binned.edges;
  }
  validateSequenceSet(set);
  return set;
}
