import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { FormatError, ValidationError } from '../lib/errors';
import { corpusMixture, readMixture, validateMixture } from '../lib/io/mixture';
import { writeNpyAtomic } from '../lib/io/npy';
import type { SequenceSet } from '../lib/io/sequences';
import { expectValidation } from './helpers/expect-errors';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-mix-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});


const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};
const NAMES = ['web', 'code', 'books'];

describe('validateMixture', () => {
  test('returns a fresh Float64Array', () => {
    const input = [0.5, 0.25, 0.25];
    const m = validateMixture(input, 3);
    expect(m).toEqual(Float64Array.of(0.5, 0.25, 0.25));
    const f = Float64Array.of(1, 0);
    expect(validateMixture(f, 2)).not.toBe(f);
    expect(() => validateMixture([0.5, 0.5 + 5e-7], 2)).not.toThrow();
  });

  test('errors name the index and value', () => {
    expectValidation(() => validateMixture([0.5, 0.5], 3), 'mixture', /`mixture` has 2 entries but there are 3 groups/);
    expectValidation(() => validateMixture([0.5, -0.1, 0.6], 3), 'mixture[1]', /mixture\[1\] = -0.1 must be a finite number >= 0/);
    expectValidation(() => validateMixture([0.5, NaN, 0.5], 3), 'mixture[1]', /mixture\[1\] = NaN/);
    expectValidation(() => validateMixture([Infinity, 0], 2), 'mixture[0]', /mixture\[0\] = Infinity/);
    expectValidation(() => validateMixture([0.5, '0.5' as never], 2), 'mixture[1]', /mixture\[1\] = "0.5"/);
    expectValidation(() => validateMixture([1, -0.5], 2, ['web', 'code']), 'mixture[1]', /mixture\[1\] \(group "code"\) = -0.5/);
    expectValidation(() => validateMixture([0.5, 0.25, 0.15], 3), 'mixture', /sums to 0.9 \(off by -1.00e-1\)/);
    expectValidation(() => validateMixture([0.5, 0.5, 2e-6], 3), 'mixture', /sums to 1.000002 \(off by \+2.00e-6\); it must sum to 1 within 0.000001/);
    expectValidation(() => validateMixture([1], 0), 'numGroups', /Expected positive integer for `numGroups` but received 0/);
    expectValidation(() => validateMixture({} as never, 1), 'mixture', /Expected array of numbers for `mixture` but received Object/);
  });
});

describe('readMixture', () => {
  test('JSON array, {mixture}, {weights}', () => {
    expect(readMixture(write('a.json', '[0.5, 0.25, 0.25]'), 3)).toEqual(Float64Array.of(0.5, 0.25, 0.25));
    expect(readMixture(write('b.json', '{"mixture": [0, 1, 0]}'), 3)).toEqual(Float64Array.of(0, 1, 0));
    expect(readMixture(write('c.json', '{"weights": {"books": 0.75, "web": 0.25}}'), 3, NAMES)).toEqual(
      Float64Array.of(0.25, 0, 0.75),
    );
  });

  test('.npy float vectors, detected by content', () => {
    const f8 = path.join(dir, 'm.npy');
    writeNpyAtomic(f8, Float64Array.of(0.2, 0.3, 0.5));
    expect(readMixture(f8, 3)).toEqual(Float64Array.of(0.2, 0.3, 0.5));
    const f4 = path.join(dir, 'mixture.bin');
    writeNpyAtomic(f4, Float32Array.of(0.5, 0.25, 0.25));
    expect(readMixture(f4, 3)).toEqual(Float64Array.of(0.5, 0.25, 0.25));

    writeNpyAtomic(f8, Uint32Array.of(0, 1, 0));
    expect(() => readMixture(f8, 3)).toThrow(FormatError);
    expect(() => readMixture(f8, 3)).toThrow(/must have dtype <f8 or <f4 but has <u4/);
    writeNpyAtomic(f8, Float64Array.of(0.5, 0.5, 0, 0), [2, 2]);
    expect(() => readMixture(f8, 4)).toThrow(/must be 1-D but has shape \(2, 2\)/);
    writeNpyAtomic(f8, Float64Array.of(0.5, 0.5));
    expectValidation(() => readMixture(f8, 3), 'mixture', /has 2 entries but there are 3 groups/);
    fs.writeFileSync(f8, fs.readFileSync(f8).subarray(0, 128 + 8));
    expect(() => readMixture(f8, 2)).toThrow(/truncated .npy data/);
  });

  test('errors', () => {
    expect(() => readMixture(write('bad.json', '[0.5, 0.5'), 2)).toThrow(FormatError);
    expect(() => readMixture(write('bad.json', '[0.5, 0.5'), 2)).toThrow(/bad\.json: neither a .npy file nor valid JSON/);
    expect(() => readMixture(write('obj.json', '{"p": [1]}'), 1)).toThrow(/expected a JSON array of 1 numbers, \{"mixture"/);
    expectValidation(() => readMixture(write('n.json', '[0.5, null]'), 2), 'mixture[1]', /mixture\[1\] = null/);
    expectValidation(() => readMixture(write('m.json', '{"mixture": 1}'), 1), 'mixture', /Expected array of numbers/);
    expectValidation(() => readMixture(write('w.json', '{"weights": {"web": 1}}'), 3), 'groupNames', /needs group names/);
    expectValidation(() => readMixture(write('w.json', '{"weights": [1]}'), 3, NAMES), 'weights', /Expected object for `weights`/);
    expectValidation(
      () => readMixture(write('w.json', '{"weights": {"web": 0.5, "news": 0.5}}'), 3, NAMES),
      'weights.news',
      /unknown group name "news" in `weights` \(known: "web", "code", "books"\)/,
    );
    expectValidation(
      () => readMixture(write('w.json', '{"weights": {"web": 0.5, "code": -0.5, "books": 1}}'), 3, NAMES),
      'mixture[1]',
      /mixture\[1\] \(group "code"\) = -0.5/,
    );
    expectValidation(() => readMixture(write('w.json', '{"weights": {"web": 0.5}}'), 3, NAMES), 'mixture', /sums to 0.5/);
    expect(() => readMixture(path.join(dir, 'missing.json'), 3)).toThrow(/ENOENT/);
  });
});

describe('corpusMixture', () => {
  const set: SequenceSet = {
    offsets: BigUint64Array.of(0n, 2n, 3n),
    group: Uint32Array.of(0, 2, 2),
    bin: Uint32Array.of(0, 0, 0),
    tokens: Uint32Array.of(100, 50, 50),
    numGroups: 4,
    numBins: 1,
  };

  test('token share per group', () => {
    expect(corpusMixture(set)).toEqual(Float64Array.of(0.5, 0, 0.5, 0));
    expect(() => validateMixture(corpusMixture(set), 4)).not.toThrow();
  });

  test('errors', () => {
    expectValidation(() => corpusMixture({ ...set, numGroups: 2 }), 'group[1]', /group\[1\] = 2 is out of range \[0, 2\)/);
    expectValidation(
      () => corpusMixture({ ...set, offsets: BigUint64Array.of(0n), group: new Uint32Array(0), tokens: new Uint32Array(0) }),
      'tokens',
      /no tokens/,
    );
  });
});
