/**
 * safetensors and gradient-directory readers: round trips in every dtype, and
 * hand-made corrupt files (truncated, lying headers, overlapping ranges,
 * shape and dtype mismatches) that must give FormatErrors naming the file and
 * field, never an out-of-bounds read.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { FormatError } from '../lib/errors';
import { encodeNpy } from '../lib/io/npy';
import { encodeSafetensors, readSafetensorsHeader, readTensor } from '../lib/io/safetensors';
import { GradientSource } from '../lib/influence/readers';
import { writeGradientsDir } from '../lib/influence/shard-writer';
import { randomBf16Bits, randomClusters, randomF16Bits, randomF32, randomTargets } from './helpers/influence-data';

let tmp: string;
let counter = 0;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-readers-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(bytes: Uint8Array | Uint8Array[]): string {
  const f = path.join(tmp, `f${counter++}.safetensors`);
  fs.writeFileSync(f, Array.isArray(bytes) ? Buffer.concat(bytes) : bytes);
  return f;
}

/** A safetensors file from a raw header string and `dataBytes` bytes of data. */
function raw(header: string, dataBytes: number, lengthField?: bigint): string {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(h.length));
  return file([len, h, Buffer.alloc(dataBytes)]);
}

function expectFormat(f: () => unknown, file: string, message: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FormatError);
  expect((caught as FormatError).file).toBe(file);
  expect((caught as Error).message).toContain(file);
  expect((caught as Error).message).toMatch(message);
}

describe('safetensors', () => {
  test('round trip of every dtype; header padded to 8 bytes', () => {
    const tensors = {
      a: { dtype: 'F32', shape: [2, 3], data: randomF32(6, 1) },
      b: { dtype: 'BF16', shape: [5], data: randomBf16Bits(5, 2) },
      c: { dtype: 'I64', shape: [1, 1, 2], data: BigInt64Array.of(-5n, 7n) },
      e: { dtype: 'U8', shape: [0], data: new Uint8Array(0) },
      s: { dtype: 'F64', shape: [], data: Float64Array.of(3.5) },
    } as const;
    const f = file(encodeSafetensors(tensors, { note: 'x' }));
    const h = readSafetensorsHeader(f);
    expect((h.dataStart - 8) % 8).toBe(0);
    expect(h.metadata).toEqual({ note: 'x' });
    const fd = fs.openSync(f, 'r');
    try {
      for (const [name, t] of Object.entries(tensors)) {
        expect(h.tensors.get(name)!.shape).toEqual(t.shape);
        expect(Buffer.from((readTensor(fd, h, name) as Uint8Array).buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
      }
      expectFormat(() => readTensor(fd, h, 'zz'), f, /missing tensor `zz`/);
    } finally {
      fs.closeSync(fd);
    }
  });

  const grads = '"grads":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}';
  test.each([
    ['shorter than the length field', () => file(Buffer.alloc(5)), /truncated safetensors file \(5 bytes/],
    ['header length past the end', () => raw(`{${grads}}`, 16, 1000n), /header length 1000 runs past the end/],
    ['header length huge', () => raw(`{${grads}}`, 16, 2n ** 63n), /larger than the 100000000-byte limit/],
    ['header not JSON', () => raw('{"grads": ', 16), /not valid UTF-8 JSON/],
    ['header an array', () => raw('[1, 2]', 0), /must be a JSON object/],
    ['unknown dtype', () => raw('{"grads":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}}', 2), /tensor `grads`: unsupported `dtype` "F8"/],
    ['negative shape', () => raw('{"grads":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}', 0), /tensor `grads`: `shape` must be/],
    ['offsets reversed', () => raw('{"grads":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', 8), /tensor `grads`: `data_offsets` must be/],
    ['offsets past the data (truncated data)', () => raw(`{${grads}}`, 12), /tensor `grads`: `data_offsets` \[0, 16\] run past the end of the data section \(12 bytes/],
    ['span does not match shape', () => raw('{"grads":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}', 16), /tensor `grads`: `data_offsets` span 12 bytes but `shape` \[2, 2\] of F32 needs 16/],
    ['shape overflows', () => raw('{"grads":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', 8), /needs more than 2\^53/],
    ['overlapping tensors', () => raw(`{${grads},"cluster":{"dtype":"I32","shape":[2],"data_offsets":[12,20]}}`, 20), /tensors `grads` and `cluster` have overlapping `data_offsets`/],
    ['metadata not strings', () => raw(`{"__metadata__":{"a":1},${grads}}`, 16), /`__metadata__.a` must be a string/],
  ])('%s', (_name, make, message) => {
    const f = make();
    expectFormat(() => readSafetensorsHeader(f), f, message);
  });
});

describe('gradient directories', () => {
  test('every dtype and both formats stream back in blocks that cover each shard', () => {
    const D = 7;
    const dir = path.join(tmp, 'ok');
    const shards = [
      { grads: randomF32(5 * D, 1), dtype: 'f32', cluster: randomClusters(5, 4, 1), target: randomTargets(5, 0.5, 1) },
      { grads: randomF16Bits(3 * D, 2), dtype: 'f16', cluster: BigInt64Array.of(0n, 3n, 1n), format: 'npy' },
      { grads: randomBf16Bits(4 * D, 3), dtype: 'bf16', cluster: randomClusters(4, 4, 3), target: randomTargets(4, 0.5, 3), format: 'npy' },
      { grads: randomBf16Bits(2 * D, 4), dtype: 'bf16', cluster: BigInt64Array.of(2n, 2n) },
      { grads: randomF16Bits(0, 5), dtype: 'f16', cluster: new Int32Array(0) },
    ] as const;
    writeGradientsDir(dir, D, 4, shards);
    const src = GradientSource.open(dir);
    expect([src.dim, src.numClusters, src.rows]).toEqual([D, 4, 14]);
    const blocks = [];
    // blocks reuse their buffers: copy each before taking the next
    for (const b of src.blocks(2)) blocks.push({ ...b, grads: b.grads.slice(), cluster: b.cluster.slice(), target: b.target.slice() });
    expect(blocks.map((b) => b.firstRow)).toEqual([0, 2, 4, 5, 7, 8, 10, 12]);
    let s = 0;
    let off = 0;
    for (const b of blocks) {
      const sh = shards[s];
      expect(b.dtype).toBe(sh.dtype);
      expect(Array.from(b.grads)).toEqual(Array.from(sh.grads.subarray(b.shardRow * D, (b.shardRow + b.n) * D)));
      expect(Array.from(b.cluster)).toEqual(
        Array.from({ length: b.n }, (_, i) => ('target' in sh && sh.target[b.shardRow + i] ? 0 : Number(sh.cluster[b.shardRow + i]))),
      );
      expect(Array.from(b.target)).toEqual('target' in sh ? Array.from(sh.target.subarray(b.shardRow, b.shardRow + b.n)) : new Array(b.n).fill(0));
      off += b.n;
      if (b.shardRow + b.n === sh.grads.length / D) {
        s++;
        while (s < shards.length && shards[s].grads.length === 0) s++;
      }
    }
    expect(off).toBe(14);
    expect([...GradientSource.open(dir, { allTargets: true }).blocks()].every((b) => b.target.every((t) => t === 1))).toBe(true);
  });

  function dirWith(name: string, manifest: unknown, files: Record<string, Uint8Array | Uint8Array[]> = {}): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    for (const [f, b] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), Array.isArray(b) ? Buffer.concat(b) : b);
    return dir;
  }
  const base = { format: 'curricula.gradients', version: 1, dim: 2, numClusters: 3 };
  const st = (t: Parameters<typeof encodeSafetensors>[0]) => encodeSafetensors(t);
  const g = { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } as const;
  const c = { dtype: 'I32', shape: [2], data: Int32Array.of(0, 2) } as const;

  test('manifest problems name manifest.json and the field', () => {
    const m = (name: string, manifest: unknown) => path.join(dirWith(name, manifest), 'manifest.json');
    let f = m('m1', '{not json');
    expectFormat(() => GradientSource.open(path.dirname(f)), f, /invalid JSON/);
    f = m('m2', { ...base, dim: 0, shards: [{ file: 'a' }] });
    expectFormat(() => GradientSource.open(path.dirname(f)), f, /`dim`/);
    f = m('m3', { ...base, format: 'other', shards: [{ file: 'a' }] });
    expectFormat(() => GradientSource.open(path.dirname(f)), f, /`format`/);
    f = m('m4', { ...base, shards: [] });
    expectFormat(() => GradientSource.open(path.dirname(f)), f, /`shards`/);
    f = m('m5', { ...base, shards: [{ grads: 'g.npy' }] });
    expectFormat(() => GradientSource.open(path.dirname(f)), f, /shards\[0\]/);
    const missing = path.join(tmp, 'nowhere', 'manifest.json');
    expectFormat(() => GradientSource.open(path.dirname(missing)), missing, /not found/);
  });

  test.each([
    ['missing grads', { cluster: c }, /missing tensor `grads`/],
    ['missing cluster', { grads: g }, /missing tensor `cluster`/],
    ['grads of I32', { grads: { ...g, dtype: 'I32' }, cluster: c }, /`grads` has dtype I32; expected F32, F16 or BF16/],
    ['grads of 3 columns', { grads: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) }, cluster: c }, /`grads` has 3 columns but the manifest's `dim` is 2/],
    ['grads 1-d', { grads: { dtype: 'F32', shape: [4], data: new Float32Array(4) }, cluster: c }, /`grads` must have shape \[n, 2\]/],
    ['cluster of F32', { grads: g, cluster: { ...c, dtype: 'F32' } }, /`cluster` has dtype F32; expected I32 or I64/],
    ['cluster length', { grads: g, cluster: { dtype: 'I32', shape: [3], data: new Int32Array(3) } }, /`cluster` must have shape \[2\] \(the rows of `grads`\)/],
    ['target length', { grads: g, cluster: c, target: { dtype: 'BOOL', shape: [1], data: new Uint8Array(1) } }, /`target` must have shape \[2\]/],
    ['target of I32', { grads: g, cluster: c, target: { dtype: 'I32', shape: [2], data: new Int32Array(2) } }, /`target` has dtype I32/],
  ] as const)('safetensors shard: %s', (name, tensors, message) => {
    const dir = dirWith(`st-${name.replace(/\W/g, '')}`, { ...base, shards: [{ file: 's.safetensors' }] }, { 's.safetensors': st(tensors as never) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 's.safetensors'), message);
  });

  test('bad values are found while streaming, with file and row', () => {
    let dir = dirWith('range', { ...base, shards: [{ file: 's.safetensors' }] }, { 's.safetensors': st({ grads: g, cluster: { ...c, data: Int32Array.of(0, 3) } }) });
    expectFormat(() => [...GradientSource.open(dir).blocks()], path.join(dir, 's.safetensors'), /cluster\[1\] = 3 is out of range \[0, 3\)/);
    dir = dirWith('tgt', { ...base, shards: [{ file: 's.safetensors' }] }, {
      's.safetensors': st({ grads: g, cluster: c, target: { dtype: 'U8', shape: [2], data: Uint8Array.of(0, 2) } }),
    });
    expectFormat(() => [...GradientSource.open(dir).blocks()], path.join(dir, 's.safetensors'), /target\[1\] = 2; expected 0 or 1/);
    // a file that shrinks after its header was checked
    dir = dirWith('shrink', { ...base, shards: [{ file: 's.safetensors' }] }, { 's.safetensors': st({ cluster: c, grads: g }) });
    const src = GradientSource.open(dir);
    const f = path.join(dir, 's.safetensors');
    fs.truncateSync(f, fs.statSync(f).size - 4);
    expectFormat(() => [...src.blocks()], f, /file ended at byte/);
  });

  test('npy shards: dtype, shape and truncation problems name the file', () => {
    const npy = (data: Parameters<typeof encodeNpy>[0], shape?: number[]) => encodeNpy(data, shape);
    const shard = { grads: 'g.npy', cluster: 'c.npy' };
    let dir = dirWith('n1', { ...base, shards: [shard] }, { 'g.npy': npy(new Float64Array(4), [2, 2]), 'c.npy': npy(Int32Array.of(0, 1)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'g.npy'), /`grads` has dtype <f8/);
    dir = dirWith('n2', { ...base, shards: [shard] }, { 'g.npy': npy(new Uint16Array(4), [2, 2]), 'c.npy': npy(Int32Array.of(0, 1)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'g.npy'), /set "dtype": "bf16"/);
    dir = dirWith('n3', { ...base, shards: [shard] }, { 'g.npy': npy(new Float32Array(4), [2, 2]), 'c.npy': npy(Int32Array.of(0, 1, 2)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'c.npy'), /`cluster` must have shape \(2,\)/);
    dir = dirWith('n4', { ...base, shards: [shard] }, { 'g.npy': npy(new Float32Array(4), [2, 2]), 'c.npy': npy(Uint32Array.of(0, 1)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'c.npy'), /`cluster` has dtype <u4/);
    const [h, b] = npy(new Float32Array(4), [2, 2]);
    dir = dirWith('n5', { ...base, shards: [shard] }, { 'g.npy': [h, b.subarray(0, 10)], 'c.npy': npy(Int32Array.of(0, 1)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'g.npy'), /truncated .npy data/);
    dir = dirWith('n6', { ...base, shards: [{ ...shard, dtype: 'f16' }] }, { 'g.npy': npy(new Float32Array(4), [2, 2]), 'c.npy': npy(Int32Array.of(0, 1)) });
    expectFormat(() => GradientSource.open(dir), path.join(dir, 'g.npy'), /holds f32 but the manifest says `dtype` f16/);
  });
});
