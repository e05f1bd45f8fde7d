import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { FormatError, ValidationError } from '../lib/errors';
import { writeFileAtomic } from '../lib/io/atomic';
import { encodeNpy, parseNpy, readNpy, writeNpyAtomic, type NpyTypedArray } from '../lib/io/npy';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-npy-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const SAMPLES: Array<[string, NpyTypedArray]> = [
  ['|u1', Uint8Array.from([0, 1, 255, 7, 8, 9])],
  ['|i1', Int8Array.from([-128, -1, 0, 1, 127, 5])],
  ['<u2', Uint16Array.from([0, 1, 65535, 4, 5, 6])],
  ['<i2', Int16Array.from([-32768, -1, 0, 32767, 2, 3])],
  ['<u4', Uint32Array.from([0, 1, 0xffffffff, 3, 4, 5])],
  ['<i4', Int32Array.from([-0x80000000, -1, 0, 0x7fffffff, 9, 10])],
  ['<u8', BigUint64Array.from([0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n, 4n, 5n])],
  ['<i8', BigInt64Array.from([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n, 4n, 5n])],
  ['<f4', Float32Array.from([0, -1.5, Infinity, NaN, 3.25, -0])],
  ['<f8', Float64Array.from([0, -1.5, Infinity, NaN, Math.PI, Number.MIN_VALUE])],
];

/** Build a .npy file by hand, so tests can lie in any part of it. */
function rawNpy(dict: string, body: Uint8Array, version = 1, headerLen?: number): Buffer {
  const pre = version === 1 ? 10 : 12;
  const header = Buffer.from(dict + '\n', version === 3 ? 'utf8' : 'latin1');
  const out = Buffer.alloc(pre + header.length + body.length);
  Buffer.from('\x93NUMPY', 'latin1').copy(out, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(headerLen ?? header.length, 8);
  else out.writeUInt32LE(headerLen ?? header.length, 8);
  header.copy(out, pre);
  out.set(body, pre + header.length);
  return out;
}

const u4Dict = (shape: string) => `{'descr': '<u4', 'fortran_order': False, 'shape': ${shape}, }`;

function expectFormatError(bytes: Uint8Array, pattern: RegExp): void {
  const file = path.join(dir, 'bad.npy');
  fs.writeFileSync(file, bytes);
  for (const read of [() => readNpy(file), () => parseNpy(bytes, file)]) {
    let caught: unknown;
    try {
      read();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).file).toBe(file);
    expect((caught as Error).message).toMatch(pattern);
  }
}

describe('npy round trips', () => {
  test.each(SAMPLES)('%s 1-D', (dtype, data) => {
    const file = path.join(dir, 'a.npy');
    writeNpyAtomic(file, data);
    const back = readNpy(file);
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([data.length]);
    expect(back.data.constructor).toBe(data.constructor);
    expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
    // numpy aligns the data to 64 bytes
    expect((fs.statSync(file).size - data.byteLength) % 64).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['a.npy']);
  });

  test.each(SAMPLES)('%s 2-D and 3-D', (dtype, data) => {
    for (const shape of [[2, 3], [1, 2, 3], [3, 2, 1]]) {
      const file = path.join(dir, 'nd.npy');
      writeNpyAtomic(file, data, shape);
      const back = parseNpy(fs.readFileSync(file));
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
    }
  });

  test('empty arrays, 0-d scalars and Buffer input', () => {
    const file = path.join(dir, 'e.npy');
    writeNpyAtomic(file, new Float64Array(0));
    expect(readNpy(file)).toEqual({ dtype: '<f8', shape: [0], data: new Float64Array(0) });
    writeNpyAtomic(file, new Uint32Array(0), [3, 0]);
    expect(readNpy(file).shape).toEqual([3, 0]);
    writeNpyAtomic(file, Float64Array.of(2.5), []);
    expect(readNpy(file)).toEqual({ dtype: '<f8', shape: [], data: Float64Array.of(2.5) });
    writeNpyAtomic(file, Buffer.from([1, 2, 3]));
    expect(readNpy(file).dtype).toBe('|u1');
  });

  test('parseNpy copies out of an unaligned buffer', () => {
    const [h, body] = encodeNpy(Float64Array.of(1, 2, 3));
    const bytes = new Uint8Array(1 + h.length + body.length).subarray(1);
    bytes.set(h);
    bytes.set(body, h.length);
    expect(Array.from(parseNpy(bytes).data as Float64Array)).toEqual([1, 2, 3]);
  });

  test('a header too long for 1.0 is written as 2.0 and read back', () => {
    const shape = new Array(30000).fill(1);
    const file = path.join(dir, 'v2.npy');
    writeNpyAtomic(file, Uint32Array.of(42), shape);
    const bytes = fs.readFileSync(file);
    expect(bytes[6]).toBe(2);
    const back = readNpy(file);
    expect(back.shape.length).toBe(30000);
    expect(Array.from(back.data as Uint32Array)).toEqual([42]);
  });

  test('reads versions 2.0 and 3.0, Python 2 longs and double quotes', () => {
    const body = new Uint8Array(Uint32Array.of(1, 2, 3).buffer);
    for (const version of [1, 2, 3]) {
      expect(Array.from(parseNpy(rawNpy(u4Dict('(3,)'), body, version)).data as Uint32Array)).toEqual([1, 2, 3]);
    }
    const dict = `{"descr":"<u4","fortran_order":False,"shape":(3L,)}`;
    expect(parseNpy(rawNpy(dict, body)).shape).toEqual([3]);
    expect(parseNpy(rawNpy(`{'descr': '<u1', 'fortran_order': False, 'shape': (12,)}`, body)).dtype).toBe('|u1');
  });
});

describe('npy rejects malformed files', () => {
  const body = new Uint8Array(Uint32Array.of(1, 2, 3).buffer);

  test('truncated data says expected vs actual bytes', () => {
    const good = rawNpy(u4Dict('(3,)'), body);
    expectFormatError(good.subarray(0, good.length - 4), /needs 12 bytes but only 8 follow/);
  });

  test('extra bytes after the data', () => {
    expectFormatError(Buffer.concat([rawNpy(u4Dict('(3,)'), body), Buffer.from([0])]), /1 extra bytes/);
  });

  test('shape larger than the data', () => {
    expectFormatError(rawNpy(u4Dict('(9,)'), body), /needs 36 bytes but only 12/);
    expectFormatError(rawNpy(u4Dict('(1000000000, 1000000000)'), body), /more than 2\^53/);
    expectFormatError(rawNpy(u4Dict('(99999999999999999999,)'), body), /too large/);
  });

  test('header length past the end of the file', () => {
    expectFormatError(rawNpy(u4Dict('(3,)'), body, 1, 60000), /header length 60000 runs past the end/);
    expectFormatError(rawNpy(u4Dict('(3,)'), body, 2, 0xffffffff), /header length 4294967295 runs past/);
  });

  test('bad magic, short files and unknown versions', () => {
    const good = rawNpy(u4Dict('(3,)'), body);
    expectFormatError(Buffer.from('PK\x03\x04 not numpy'), /bad magic/);
    expectFormatError(Buffer.alloc(0), /bad magic/);
    expectFormatError(good.subarray(0, 7), /truncated .npy preamble/);
    expectFormatError(rawNpy(u4Dict('(3,)'), body, 4), /unsupported .npy format version 4.0/);
    const v11 = Buffer.from(good);
    v11[7] = 1;
    expectFormatError(v11, /version 1.1/);
    const v2short = rawNpy(u4Dict('(3,)'), body, 2).subarray(0, 11);
    expectFormatError(v2short, /truncated .npy preamble/);
  });

  test('fortran order, unsupported and big-endian dtypes', () => {
    expectFormatError(rawNpy(`{'descr': '<u4', 'fortran_order': True, 'shape': (3,), }`, body), /Fortran/);
    expectFormatError(rawNpy(`{'descr': '>u4', 'fortran_order': False, 'shape': (3,), }`, body), /big-endian/);
    expectFormatError(rawNpy(`{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }`, body), /unsupported dtype '<c8'/);
    expectFormatError(rawNpy(`{'descr': '|u4', 'fortran_order': False, 'shape': (3,), }`, body), /unsupported dtype/);
    expectFormatError(rawNpy(`{'descr': [('a', '<u4')], 'fortran_order': False, 'shape': (3,), }`, body), /structured/);
  });

  test.each([
    ['not a dict', /expected '\{'/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (3)}`, /1-tuple needs a trailing comma/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (-3,)}`, /non-negative integer/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (3,), 'x': 1}`, /unexpected value|exactly the keys/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (3,), 'x': 'y'}`, /exactly the keys/],
    [`{'descr': '<u4', 'fortran_order': False}`, /exactly the keys/],
    [`{'descr': '<u4', 'descr': '<u4', 'fortran_order': False, 'shape': (3,)}`, /duplicate key 'descr'/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (3,)} junk`, /unexpected text after the dict/],
    [`{'descr': '<u4, 'fortran_order': False, 'shape': (3,)}`, /malformed .npy header: expected/],
    [`{'descr': '<u4', 'fortran_order': 0, 'shape': (3,)}`, /unexpected value/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': [3]}`, /structured|unexpected/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (3,),,}`, /expected a string/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': __import__('os').system('x')}`, /unexpected value/],
    [`{'descr': '<u4', 'fortran_order': 'False', 'shape': (3,)}`, /must be True or False/],
    [`{'descr': 3, 'fortran_order': False, 'shape': (3,)}`, /unexpected value/],
    [`{'descr': '<u4', 'fortran_order': False, 'shape': (03,)}`, /unexpected|expected/],
  ])('garbage header %s', (dict, pattern) => {
    expectFormatError(rawNpy(dict, body), pattern);
  });

  test('invalid UTF-8 in a 3.0 header', () => {
    const bytes = rawNpy(u4Dict('(3,)'), body, 3);
    bytes[12 + 12] = 0xff; // inside the descr string
    expectFormatError(bytes, /not valid UTF-8/);
  });

  test('every truncation and random header corruption fails cleanly', () => {
    const good = rawNpy(u4Dict('(3,)'), body);
    for (let n = 0; n < good.length; n++) {
      expect(() => parseNpy(good.subarray(0, n))).toThrow(FormatError);
    }
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = Buffer.from(good);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * (good.length - body.length))] = Math.floor(rand() * 256);
      try {
        parseNpy(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(FormatError);
      }
    }
  });
});

describe('npy writer and atomic writes', () => {
  test('validates shape and dtype', () => {
    expect(() => encodeNpy(Uint32Array.of(1, 2, 3), [2, 2])).toThrow(ValidationError);
    expect(() => encodeNpy(Uint32Array.of(1, 2, 3), [2, 2])).toThrow(/`shape` \(2, 2\) has 4 elements but `data` has 3/);
    expect(() => encodeNpy(Uint32Array.of(1), [-1])).toThrow(/non-negative integer for `shape\[0\]` but received -1/);
    expect(() => encodeNpy(new Uint8ClampedArray(2) as unknown as Uint8Array)).toThrow(
      /Expected a supported typed array for `data` but received Uint8ClampedArray/,
    );
  });

  test('writing into a missing directory fails and creates nothing', () => {
    const target = path.join(dir, 'missing', 'a.npy');
    expect(() => writeNpyAtomic(target, Uint32Array.of(1))).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a failed write leaves the old target intact and no temp file', () => {
    const target = path.join(dir, 'a.npy');
    writeNpyAtomic(target, Uint32Array.of(1, 2, 3));
    const before = fs.readFileSync(target);
    // spy on the shared core module object (the `import * as` namespace is a read-only view of it)
    const realFs = require('fs') as typeof fs;
    const original = realFs.writeSync;
    let calls = 0;
    const spy = jest.spyOn(realFs, 'writeSync').mockImplementation(((...args: [number, Uint8Array, number, number]) => {
      if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return original(...args);
    }) as typeof fs.writeSync);
    try {
      expect(() => writeNpyAtomic(target, Uint32Array.of(7, 8, 9, 10))).toThrow(/ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    expect(calls).toBe(2);
    expect(fs.readFileSync(target)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(['a.npy']);
  });

  test('a failed rename removes the temp file', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'x'), 'x');
    expect(() => writeFileAtomic(target, 'hello')).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['occupied']);
  });

  test('writeFileAtomic accepts strings, buffers and parts', () => {
    const target = path.join(dir, 't.txt');
    writeFileAtomic(target, 'héllo');
    expect(fs.readFileSync(target, 'utf8')).toBe('héllo');
    writeFileAtomic(target, Buffer.from('abc'));
    expect(fs.readFileSync(target, 'utf8')).toBe('abc');
    writeFileAtomic(target, [Buffer.from('ab'), new Uint8Array(0), Buffer.from('cd')]);
    expect(fs.readFileSync(target, 'utf8')).toBe('abcd');
    expect(fs.readdirSync(dir)).toEqual(['t.txt']);
  });
});

const PYTHON = '/usr/bin/python3';
const hasNumpy = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!hasNumpy) console.log(`skipping numpy compatibility tests: '${PYTHON} -c "import numpy"' failed`);

(hasNumpy ? describe : describe.skip)('numpy compatibility', () => {
  const python = (script: string, ...args: string[]) => {
    const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    return r.stdout;
  };

  test('reads files written by numpy (versions 1.0, 2.0, 3.0)', () => {
    python(
      `
import sys, numpy as np
d = sys.argv[1]
for t in ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8']:
    info = np.iinfo(t) if t[0] in 'ui' else np.finfo(t)
    a = np.array([info.min, info.max, 0, 1, 2, 3], dtype=t).reshape(2, 3)
    np.save(f'{d}/{t}.npy', a)
for v in [(1, 0), (2, 0), (3, 0)]:
    with open(f'{d}/v{v[0]}.npy', 'wb') as f:
        np.lib.format.write_array(f, np.arange(5, dtype='<u4'), version=v)
np.save(f'{d}/fortran.npy', np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)))
np.save(f'{d}/big.npy', np.arange(3, dtype='>u4'))
`,
      dir,
    );
    for (const t of ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8']) {
      const a = readNpy(path.join(dir, `${t}.npy`));
      expect(a.dtype.slice(1)).toBe(t);
      expect(a.shape).toEqual([2, 3]);
      const v = Array.from(a.data as ArrayLike<number | bigint>);
      expect(v.slice(2)).toEqual(t[1] === '8' && t[0] !== 'f' ? [0n, 1n, 2n, 3n] : [0, 1, 2, 3]);
    }
    expect(Array.from(readNpy(path.join(dir, 'i8.npy')).data as BigInt64Array).slice(0, 2)).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
    expect(Array.from(readNpy(path.join(dir, 'f4.npy')).data as Float32Array)[1]).toBeCloseTo(3.4028234663852886e38, -30);
    for (const v of [1, 2, 3]) {
      expect(Array.from(readNpy(path.join(dir, `v${v}.npy`)).data as Uint32Array)).toEqual([0, 1, 2, 3, 4]);
    }
    expect(() => readNpy(path.join(dir, 'fortran.npy'))).toThrow(/Fortran/);
    expect(() => readNpy(path.join(dir, 'big.npy'))).toThrow(/big-endian/);
  });

  test('numpy reads files we write', () => {
    for (const [dtype, data] of SAMPLES) writeNpyAtomic(path.join(dir, `${dtype.slice(1)}.npy`), data, [3, 2]);
    writeNpyAtomic(path.join(dir, 'v2.npy'), Uint32Array.of(42), new Array(30000).fill(1));
    const out = python(
      `
import sys, json, numpy as np
d = sys.argv[1]
res = {}
for t in ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8']:
    a = np.load(f'{d}/{t}.npy')
    assert a.shape == (3, 2) and a.dtype == np.dtype(t) and a.flags.c_contiguous, (t, a.shape, a.dtype)
    res[t] = [repr(x) for x in a.ravel().tolist()]
# numpy arrays have at most 32 (64) dims, so only check that numpy parses the 2.0 header
with open(f'{d}/v2.npy', 'rb') as f:
    version = np.lib.format.read_magic(f)
    try:  # numpy >= 1.24 refuses long headers by default
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10**6)
    except TypeError:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    res['v2'] = [list(version), len(shape), fortran, dtype.str, int(np.frombuffer(f.read(), dtype)[0])]
print(json.dumps(res))
`,
      dir,
    );
    const res = JSON.parse(out) as Record<string, unknown[]>;
    for (const [dtype, data] of SAMPLES) {
      const expected = Array.from(data as ArrayLike<number | bigint>, (x) =>
        typeof x === 'bigint' ? String(x) : Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : null,
      );
      const got = res[dtype.slice(1)];
      expected.forEach((e, i) => {
        if (e !== null) expect(got[i]).toBe(e);
        else expect(Number(got[i])).toBe(dtype === '<f4' ? Math.fround(Number((data as Float32Array)[i])) : (data as Float64Array)[i]);
      });
    }
    expect(res.v2).toEqual([[2, 0], 30000, false, '<u4', 42]);
  });
});
