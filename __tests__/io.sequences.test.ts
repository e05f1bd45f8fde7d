import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { generateCorpus } from '../bench/generate';
import { writeCorpusDir } from '../bench/write-corpus';
import { FormatError, ValidationError } from '../lib/errors';
import { writeNpyAtomic, type NpyTypedArray } from '../lib/io/npy';
import {
  computeLengthBins,
  readSequencesDir,
  readSequencesJsonl,
  validateSequenceSet,
  writeSequencesDir,
  type SequenceSet,
} from '../lib/io/sequences';
import { expectValidation } from './helpers/expect-errors';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-seq-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** 3 sequences, 6 segments, K = 3, B = 2. */
function smallSet(): SequenceSet {
  return {
    offsets: BigUint64Array.of(0n, 2n, 3n, 6n),
    group: Uint32Array.of(0, 2, 1, 0, 1, 2),
    bin: Uint32Array.of(0, 1, 1, 0, 0, 1),
    tokens: Uint32Array.of(100, 28, 128, 50, 50, 28),
    numGroups: 3,
    numBins: 2,
  };
}


function writeManifest(extra: Record<string, unknown> = {}, files: Record<string, string> = {}): void {
  const manifest = {
    format: 'curricula.sequences',
    version: 1,
    numSequences: 3,
    numGroups: 3,
    files: { offsets: 'offsets.npy', group: 'group.npy', tokens: 'tokens.npy', bin: 'bin.npy', ...files },
    ...extra,
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

function writeArrays(arrays: Partial<Record<string, NpyTypedArray>> = {}): void {
  const s = smallSet();
  const all = { offsets: s.offsets, group: s.group, tokens: s.tokens, bin: s.bin, ...arrays };
  for (const [name, data] of Object.entries(all)) writeNpyAtomic(path.join(dir, `${name}.npy`), data!);
}

describe('sequences directory', () => {
  test('round trip with names and edges', () => {
    const set = { ...smallSet(), groupNames: ['web', 'code', 'books'], binEdges: [500] };
    writeSequencesDir(path.join(dir, 'out'), set);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(
      ['bin.npy', 'group.npy', 'manifest.json', 'offsets.npy', 'tokens.npy'],
    );
    expect(readSequencesDir(path.join(dir, 'out'))).toEqual(set);
    const noExtras = smallSet();
    writeSequencesDir(dir, noExtras);
    expect(readSequencesDir(dir)).toEqual(noExtras);
  });

  test('writeSequencesDir validates first', () => {
    const bad = { ...smallSet(), numBins: 1 };
    expectValidation(() => writeSequencesDir(dir, bad), 'bin[1]', /bin\[1\] = 1 is out of range \[0, 1\)/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('reads a generated corpus with docLength and extra manifest fields', () => {
    const corpus = generateCorpus({ numSequences: 50, numGroups: 4, seqLength: 256, seed: 3 });
    writeCorpusDir(dir, corpus);
    const set = readSequencesDir(dir);
    expect(set.numBins).toBe(16);
    expect(set.binEdges).toHaveLength(15);
    expect(set.bin).toEqual(computeLengthBins(corpus.docLength, corpus.tokens, 16).bin);
    expect(Array.from(set.group)).toEqual(Array.from(corpus.group));
    expect(readSequencesDir(dir, { numBins: 4 }).numBins).toBe(4);
  });

  test('accepts any integer dtype and checks the range', () => {
    writeManifest();
    writeArrays({
      offsets: Int32Array.of(0, 2, 3, 6),
      group: BigInt64Array.of(0n, 2n, 1n, 0n, 1n, 2n),
      tokens: Uint16Array.of(100, 28, 128, 50, 50, 28),
      bin: Int8Array.of(0, 1, 1, 0, 0, 1),
    });
    expect(readSequencesDir(dir)).toEqual(smallSet());

    writeArrays({ group: Int16Array.of(0, 2, 1, -1, 1, 2) });
    expect(() => readSequencesDir(dir)).toThrow(FormatError);
    expect(() => readSequencesDir(dir)).toThrow(/group\.npy: group\[3\] = -1 is out of range for uint32/);

    writeArrays({ tokens: BigUint64Array.of(1n, 1n, 1n, 2n ** 32n, 1n, 1n) });
    expect(() => readSequencesDir(dir)).toThrow(/tokens\.npy: tokens\[3\] = 4294967296 is out of range/);

    writeArrays({ offsets: BigInt64Array.of(0n, -2n, 3n, 6n) });
    expect(() => readSequencesDir(dir)).toThrow(/offsets\.npy: offsets\[1\] = -2 must not be negative/);

    writeArrays({ bin: Float32Array.of(0, 1, 1, 0, 0, 1) });
    expect(() => readSequencesDir(dir)).toThrow(/bin\.npy: `bin` must have an integer dtype but has <f4/);

    writeArrays();
    writeNpyAtomic(path.join(dir, 'group.npy'), Uint32Array.of(0, 2, 1, 0, 1, 2), [2, 3]);
    expect(() => readSequencesDir(dir)).toThrow(/`group` must be 1-D but has shape \(2, 3\)/);
  });

  test('manifest errors name the field', () => {
    writeArrays();
    writeManifest({ numGroups: undefined });
    expectValidation(() => readSequencesDir(dir), 'numGroups', /manifest\.json: invalid `numGroups`.*received undefined/);
    writeManifest({ numGroups: 0 });
    expectValidation(() => readSequencesDir(dir), 'numGroups', /invalid `numGroups`: Too small.*received 0/);
    writeManifest({ numGroups: 2.5 });
    expectValidation(() => readSequencesDir(dir), 'numGroups', /received 2.5/);
    writeManifest({ format: 'other' });
    expectValidation(() => readSequencesDir(dir), 'format', /invalid `format`.*received "other"/);
    writeManifest({ version: 2 });
    expectValidation(() => readSequencesDir(dir), 'version', /invalid `version`/);
    writeManifest({ groupNames: ['a', 3, 'c'] });
    expectValidation(() => readSequencesDir(dir), 'groupNames[1]', /invalid `groupNames\[1\]`.*received 3/);
    writeManifest({}, { offsets: undefined as never });
    expectValidation(() => readSequencesDir(dir), 'files.offsets', /invalid `files\.offsets`/);
    writeManifest({}, { bin: undefined as never });
    expectValidation(() => readSequencesDir(dir), 'files', /needs a `bin` or a `docLength` file/);
    writeManifest({ numSequences: 4 });
    expectValidation(() => readSequencesDir(dir), 'offsets', /`offsets` has 4 entries but manifest numSequences = 4 needs 5/);
    writeManifest({ groupNames: ['a', 'b'] });
    expectValidation(() => readSequencesDir(dir), 'groupNames', /`groupNames` has 2 entries but `numGroups` is 3/);

    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format": ');
    expect(() => readSequencesDir(dir)).toThrow(FormatError);
    expect(() => readSequencesDir(dir)).toThrow(/manifest\.json: invalid JSON/);
    fs.rmSync(path.join(dir, 'manifest.json'));
    expect(() => readSequencesDir(dir)).toThrow(/ENOENT/);
  });

  test('numBins: precomputed bins vs docLength', () => {
    writeArrays({ doc_length: Uint32Array.of(10, 20, 30, 40, 50, 60) });
    writeManifest();
    expect(readSequencesDir(dir).numBins).toBe(2); // max bin + 1
    expect(readSequencesDir(dir, { numBins: 5 }).numBins).toBe(5);
    writeManifest({ numBins: 3 });
    expect(readSequencesDir(dir).numBins).toBe(3);
    expectValidation(() => readSequencesDir(dir, { numBins: 4 }), 'numBins', /option is 4 but the manifest has precomputed bins with numBins = 3/);
    expectValidation(() => readSequencesDir(dir, { numBins: 0 }), 'numBins', /Expected positive integer for `numBins` but received 0/);

    writeManifest({ numBins: 3 }, { bin: undefined as never, docLength: 'doc_length.npy' });
    const set = readSequencesDir(dir);
    expect(set.numBins).toBe(3);
    expect(set.binEdges).toHaveLength(2);
    expect(readSequencesDir(dir, { numBins: 2 }).binEdges).toHaveLength(1);
    writeManifest({}, { bin: undefined as never, docLength: 'doc_length.npy' });
    expect(readSequencesDir(dir).numBins).toBe(16);

    writeArrays({ doc_length: Uint32Array.of(10, 20, 30) });
    expectValidation(() => readSequencesDir(dir), 'docLength', /`docLength` has 3 entries but `tokens` has 6/);
  });
});

describe('computeLengthBins', () => {
  test('worked example: token-weighted quantile edges, ties share a bin, B is kept', () => {
    const r = computeLengthBins(Uint32Array.of(40, 10, 30, 10, 20), Uint32Array.of(1, 1, 1, 1, 1), 5);
    expect(r.edges).toEqual([10, 10, 20, 30]);
    expect(Array.from(r.bin)).toEqual([4, 0, 3, 0, 2]); // bin 1 is empty
  });

  test('weights by tokens, not by segment count', () => {
    // 1000 tokens of length-5 docs vs 10 tokens of length-1000 docs: first edge at 5
    const r = computeLengthBins(Uint32Array.of(1000, 5, 5, 7), Uint32Array.of(10, 500, 500, 500), 2);
    expect(r.edges).toEqual([5]);
    expect(Array.from(r.bin)).toEqual([1, 0, 0, 1]);
  });

  test('a single length gives all-equal edges and one non-empty bin', () => {
    const r = computeLengthBins(Uint32Array.of(7, 7, 7), Uint32Array.of(1, 2, 3), 4);
    expect(r.edges).toEqual([7, 7, 7]);
    expect(Array.from(r.bin)).toEqual([0, 0, 0]);
  });

  test('B = 1, empty input, argument checks', () => {
    expect(computeLengthBins(Uint32Array.of(3, 1), Uint32Array.of(1, 1), 1)).toEqual({ bin: new Uint32Array(2), edges: [] });
    expect(computeLengthBins(new Uint32Array(0), new Uint32Array(0), 3)).toEqual({ bin: new Uint32Array(0), edges: [0, 0] });
    expectValidation(() => computeLengthBins(new Uint32Array(1), new Uint32Array(2), 3), 'docLength', /has 1 entries but `tokens` has 2/);
    expectValidation(() => computeLengthBins(new Uint32Array(1), new Uint32Array(1), 1.5), 'numBins', /positive integer/);
  });

  test('random inputs: bins monotone in length, each bin below its share plus one length', () => {
    let seed = 7;
    const rand = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * n);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rand(300);
      const B = 1 + rand(20);
      const doc = Uint32Array.from({ length: n }, () => 1 + rand(50));
      const tok = Uint32Array.from({ length: n }, () => 1 + rand(1000));
      const { bin, edges } = computeLengthBins(doc, tok, B);
      expect(edges).toHaveLength(B - 1);
      const total = tok.reduce((a, b) => a + b, 0);
      for (let i = 0; i < n; i++) {
        expect(bin[i]).toBe(edges.filter((e) => doc[i] > e).length);
        for (let j = 0; j < n; j++) if (doc[i] < doc[j]) expect(bin[i]).toBeLessThanOrEqual(bin[j]);
      }
      // tokens in bins 0..b-1 reach b/B of the total, and not without the last length added
      for (let b = 1; b < B; b++) {
        const below = (pred: (x: number) => boolean) => tok.reduce((a, t, i) => a + (pred(doc[i]) ? t : 0), 0);
        expect(below((x) => x <= edges[b - 1]) * B).toBeGreaterThanOrEqual(total * b);
        expect(below((x) => x < edges[b - 1]) * B).toBeLessThan(total * b);
      }
    }
  });
});

describe('validateSequenceSet', () => {
  test('accepts a valid set', () => {
    expect(() => validateSequenceSet(smallSet())).not.toThrow();
    expect(() => validateSequenceSet({ ...smallSet(), groupNames: ['a', 'b', 'c'], binEdges: [3] })).not.toThrow();
  });

  const cases: Array<[string, (s: SequenceSet) => void, string, RegExp]> = [
    ['numGroups 0', (s) => (s.numGroups = 0), 'numGroups', /Expected positive integer for `numGroups` but received 0/],
    ['numBins fractional', (s) => (s.numBins = 1.5), 'numBins', /Expected positive integer for `numBins` but received 1.5/],
    ['numBins too large', (s) => (s.numBins = 2 ** 32), 'numBins', /at most 2\^32-1/],
    ['offsets wrong type', (s) => (s.offsets = Uint32Array.of(0, 6) as never), 'offsets', /Expected BigUint64Array for `offsets` but received Uint32Array/],
    ['offsets empty', (s) => (s.offsets = new BigUint64Array(0)), 'offsets', /`offsets` must have M\+1 entries/],
    ['offsets[0]', (s) => (s.offsets[0] = 1n), 'offsets[0]', /offsets\[0\] must be 0 but is 1/],
    ['decreasing', (s) => (s.offsets[2] = 1n), 'offsets[2]', /nondecreasing but offsets\[2\] = 1 < offsets\[1\] = 2/],
    ['empty sequence', (s) => (s.offsets[2] = 2n), 'offsets[2]', /sequence 1 is empty/],
    ['offsets end', (s) => (s.offsets[3] = 12n), 'group', /`group` has 6 entries but `offsets` ends at 12/],
    ['bin length', (s) => (s.bin = s.bin.subarray(0, 5)), 'bin', /`bin` has 5 entries but `offsets` ends at 6/],
    ['tokens length', (s) => (s.tokens = new Uint32Array(7).fill(1)), 'tokens', /`tokens` has 7 entries but `offsets` ends at 6/],
    ['group range', (s) => (s.group[4] = 12), 'group[4]', /group\[4\] = 12 is out of range \[0, 3\)/],
    ['bin range', (s) => (s.bin[5] = 2), 'bin[5]', /bin\[5\] = 2 is out of range \[0, 2\)/],
    ['zero tokens', (s) => (s.tokens[3] = 0), 'tokens[3]', /tokens\[3\] must be at least 1 but is 0/],
    ['groupNames length', (s) => (s.groupNames = ['a']), 'groupNames', /`groupNames` has 1 entries but `numGroups` is 3/],
    ['groupNames duplicate', (s) => (s.groupNames = ['a', 'b', 'a']), 'groupNames[2]', /groupNames\[2\] = "a" duplicates groupNames\[0\]/],
    ['groupNames type', (s) => (s.groupNames = ['a', 1 as never, 'c']), 'groupNames[1]', /Expected string for `groupNames\[1\]`/],
    ['binEdges length', (s) => (s.binEdges = [1, 2]), 'binEdges', /must have numBins - 1 = 1 entries/],
    ['binEdges value', (s) => (s.binEdges = [NaN]), 'binEdges[0]', /binEdges\[0\] = NaN must be finite/],
  ];
  test.each(cases)('%s', (_name, mutate, field, message) => {
    const s = smallSet();
    mutate(s);
    expectValidation(() => validateSequenceSet(s), field, message);
  });

  test('total tokens above 2^53', () => {
    // 2^21 segments of 2^32-1 tokens: just over 2^53 in total
    const n = 2 ** 21 + 1;
    const s: SequenceSet = {
      offsets: BigUint64Array.of(0n, BigInt(n)),
      group: new Uint32Array(n),
      bin: new Uint32Array(n),
      tokens: new Uint32Array(n).fill(0xffffffff),
      numGroups: 1,
      numBins: 1,
    };
    expectValidation(() => validateSequenceSet(s), 'tokens', /total tokens .* exceed 2\^53/);
  });
});

describe('readSequencesJsonl', () => {
  const write = (text: string) => {
    const file = path.join(dir, 'seq.jsonl');
    fs.writeFileSync(file, text);
    return file;
  };

  test('explicit bins, blank lines, CRLF', () => {
    const file = write(
      '{"segments":[{"group":0,"tokens":120,"bin":3},{"group":2,"tokens":900,"bin":0}]}\r\n\n   \n' +
        '{"segments":[{"group":1,"tokens":5,"bin":1}], "id": "x"}\n',
    );
    expect(readSequencesJsonl(file)).toEqual({
      offsets: BigUint64Array.of(0n, 2n, 3n),
      group: Uint32Array.of(0, 2, 1),
      bin: Uint32Array.of(3, 0, 1),
      tokens: Uint32Array.of(120, 900, 5),
      numGroups: 3,
      numBins: 4,
    });
    expect(readSequencesJsonl(file, { numGroups: 5, numBins: 6 })).toMatchObject({ numGroups: 5, numBins: 6 });
  });

  test('docLength bins, also when some segments carry a bin', () => {
    const file = write(
      '{"segments":[{"group":0,"tokens":100,"docLength":100},{"group":1,"tokens":100,"docLength":5000,"bin":9}]}\n' +
        '{"segments":[{"group":0,"tokens":100,"docLength":300}]}\n',
    );
    const set = readSequencesJsonl(file, { numBins: 3 });
    expect(set.numBins).toBe(3);
    expect(set.binEdges).toEqual([100, 300]);
    expect(Array.from(set.bin)).toEqual([0, 2, 1]);
    expect(readSequencesJsonl(file).numBins).toBe(16);
  });

  test('errors name the line and field', () => {
    const seg = '{"group":0,"tokens":1,"bin":0}';
    const lines = (bad: string) => write(`{"segments":[${seg}]}\n\n{"segments":[${seg},${bad}]}\n`);
    expectValidation(() => readSequencesJsonl(lines('{"group":0,"tokens":0,"bin":0}')), 'segments[1].tokens', /seq\.jsonl: line 3: invalid `segments\[1\]\.tokens`: Too small.*received 0/);
    expectValidation(() => readSequencesJsonl(lines('{"group":-1,"tokens":3,"bin":0}')), 'segments[1].group', /line 3: invalid `segments\[1\]\.group`.*received -1/);
    expectValidation(() => readSequencesJsonl(lines('{"group":"a","tokens":3,"bin":0}')), 'segments[1].group', /line 3: invalid `segments\[1\]\.group`: Invalid input: expected number, received "a"$/);
    expectValidation(() => readSequencesJsonl(lines('{"group":0,"tokens":3,"bin":1.5}')), 'segments[1].bin', /line 3: invalid `segments\[1\]\.bin`/);
    expectValidation(() => readSequencesJsonl(lines('{"group":0,"tokens":3}')), 'segments[1]', /line 3, segments\[1\] needs a `bin` or a `docLength`/);
    expectValidation(() => readSequencesJsonl(write('{"segments":[]}')), 'segments', /line 1: invalid `segments`: a sequence needs at least one segment/);
    expectValidation(() => readSequencesJsonl(write('[1, 2]')), '(top level)', /line 1: invalid `\(top level\)`/);
    expectValidation(() => readSequencesJsonl(write('{"segs":[]}')), 'segments', /line 1: invalid `segments`.*received undefined/);
    expectValidation(
      () => readSequencesJsonl(lines('{"group":0,"tokens":3,"docLength":9}')),
      'bin',
      /line 3, segments\[1\] has no `bin` and line 1, segments\[0\] has no `docLength`/,
    );
    expectValidation(() => readSequencesJsonl(lines('{"group":7,"tokens":3,"bin":0}'), { numGroups: 4 }), 'segments[1].group', /line 3, segments\[1\]: group = 7 is out of range \[0, 4\)/);
    expectValidation(() => readSequencesJsonl(lines('{"group":0,"tokens":3,"bin":5}'), { numBins: 4 }), 'segments[1].bin', /line 3, segments\[1\]: bin = 5 is out of range \[0, 4\)/);
    expectValidation(() => readSequencesJsonl(lines(seg), { numGroups: -1 }), 'numGroups', /positive integer for `numGroups` but received -1/);

    expect(() => readSequencesJsonl(write(`{"segments":[${seg}]}\n{"segments": [\n`))).toThrow(FormatError);
    expect(() => readSequencesJsonl(write(`{"segments":[${seg}]}\n{"segments": [\n`))).toThrow(/seq\.jsonl: line 2: invalid JSON/);
    expect(() => readSequencesJsonl(write('\n  \n'))).toThrow(/contains no sequences/);
  });
});
