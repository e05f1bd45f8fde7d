/**
 * End-to-end tests of `curricula analyze stable-rank|fidelity` (compiled CLI,
 * child process) and of the gradient-file readers behind them.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readGradientMatrices, readSafetensorsTensors } from '../lib/analysis/matrix-file';
import { FormatError } from '../lib/errors';
import { writeNpyAtomic } from '../lib/io/npy';
import { Rng, jacobiSingularValues, naiveChunkCosine } from './reference/linalg-reference';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
let dir: string;

function cli(...args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** A safetensors file from named float32/float64 tensors. */
function writeSafetensors(file: string, tensors: { name: string; dtype: 'F32' | 'F64'; shape: number[]; data: Float32Array | Float64Array }[], patch?: (h: Record<string, unknown>) => void): void {
  const header: Record<string, unknown> = { __metadata__: { note: 'test' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  patch?.(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]));
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curricula-analyze-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('curricula analyze stable-rank', () => {
  test('a .npy stack of batch gradients gives per-batch sranks and the layer min/mean', () => {
    const rng = new Rng(1);
    const data = Float32Array.from(rng.normals(3 * 12 * 20));
    writeNpyAtomic(path.join(dir, 'mlp.npy'), data, [3, 12, 20]);
    const r = cli('analyze', 'stable-rank', '--grads', 'mlp.npy', '--out', 'sr.json', '--tol', '1e-9');
    expect(r.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'sr.json'), 'utf8'));
    expect(report.ranks).toHaveLength(3);
    const exact = [0, 1, 2].map((b) => {
      const s = jacobiSingularValues(data.subarray(b * 240, (b + 1) * 240), 12, 20);
      return s.reduce((a, x) => a + x * x, 0) / s[0] ** 2;
    });
    report.ranks.forEach((x: { srank: number; layer: string; batch: number }, b: number) => {
      expect(x.layer).toBe('mlp');
      expect(x.batch).toBe(b);
      expect(Math.abs(x.srank - exact[b]) / exact[b]).toBeLessThan(1e-7);
    });
    expect(report.layers[0].layer).toBe('mlp');
    expect(report.layers[0].min).toBeCloseTo(Math.min(...exact), 6);
    expect(report.layers[0].mean).toBeCloseTo(exact.reduce((a, b) => a + b, 0) / 3, 6);
    expect(r.stderr).toMatch(/mlp: 3 matrices/);
  });

  test('a .safetensors file with one tensor per layer', () => {
    const rng = new Rng(2);
    writeSafetensors(path.join(dir, 'g.safetensors'), [
      { name: 'layers.0.attn', dtype: 'F32', shape: [2, 8, 10], data: Float32Array.from(rng.normals(160)) },
      { name: 'layers.1.mlp', dtype: 'F64', shape: [6, 5], data: rng.normals(30) },
    ]);
    const r = cli('analyze', 'stable-rank', '--grads', 'g.safetensors', '--out', 'g.json', '-q');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'g.json'), 'utf8'));
    expect(report.layers.map((l: { layer: string; matrices: number }) => [l.layer, l.matrices])).toEqual([
      ['layers.0.attn', 2],
      ['layers.1.mlp', 1],
    ]);
  });

  test('bad flags and files exit 1 with the flag named, and write nothing', () => {
    writeNpyAtomic(path.join(dir, 'one.npy'), new Float64Array([1, 2, 3, 4]), [2, 2]);
    let r = cli('analyze', 'stable-rank', '--grads', 'one.npy', '--out', 'x.json', '--tol', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tol/);
    r = cli('analyze', 'stable-rank', '--grads', 'missing.npy', '--out', 'x.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--grads/);
    writeNpyAtomic(path.join(dir, 'ints.npy'), new Int32Array(4), [2, 2]);
    r = cli('analyze', 'stable-rank', '--grads', 'ints.npy', '--out', 'x.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/float32 or float64/);
    expect(fs.existsSync(path.join(dir, 'x.json'))).toBe(false);
  });
});

describe('curricula analyze fidelity', () => {
  test('writes the cosine matrix and a heatmap SVG', () => {
    const rng = new Rng(3);
    const n = 40;
    const d = 5;
    const feats = Float32Array.from(rng.normals(n * d).map((x, i) => x + (i % d === 0 ? 2 : 0)));
    const order = Uint32Array.from({ length: 60 }, () => rng.int(n));
    writeNpyAtomic(path.join(dir, 'feats.npy'), feats, [n, d]);
    writeNpyAtomic(path.join(dir, 'order.npy'), order, [60]);
    const r = cli('analyze', 'fidelity', '--order', 'order.npy', '--features', 'feats.npy', '--chunks', '6', '--out', 'cos.json', '--svg', 'cos.svg');
    expect(r.code).toBe(0);
    const out = JSON.parse(fs.readFileSync(path.join(dir, 'cos.json'), 'utf8'));
    const ref = naiveChunkCosine(order, feats, d, 6);
    expect(out.cosine).toHaveLength(6);
    for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) expect(out.cosine[a][b]).toBeCloseTo(ref[a * 6 + b], 12);
    expect(out.boundaries).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(fs.readFileSync(path.join(dir, 'cos.svg'), 'utf8')).toMatch(/^<svg/);
  });

  test('k larger than the order and out-of-range indices are named', () => {
    writeNpyAtomic(path.join(dir, 'f2.npy'), new Float64Array([1, 0, 0, 1]), [2, 2]);
    writeNpyAtomic(path.join(dir, 'o2.npy'), Uint32Array.from([0, 1, 1]), [3]);
    let r = cli('analyze', 'fidelity', '--order', 'o2.npy', '--features', 'f2.npy', '--chunks', '4', '--out', 'c2.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/`chunks`/);
    writeNpyAtomic(path.join(dir, 'o3.npy'), Uint32Array.from([0, 5]), [2]);
    r = cli('analyze', 'fidelity', '--order', 'o3.npy', '--features', 'f2.npy', '--chunks', '1', '--out', 'c2.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/order\[1\]/);
    r = cli('analyze', 'fidelity', '--order', 'o2.npy', '--features', 'f2.npy', '--chunks', 'x', '--out', 'c2.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--chunks/);
    expect(fs.existsSync(path.join(dir, 'c2.json'))).toBe(false);
  });
});

describe('gradient file readers', () => {
  test('truncated or lying safetensors headers are FormatErrors', () => {
    const t = [{ name: 'w', dtype: 'F32' as const, shape: [2, 3], data: new Float32Array(6).fill(1) }];
    const file = path.join(dir, 'bad.safetensors');
    writeSafetensors(file, t);
    expect(readSafetensorsTensors(file)[0].shape).toEqual([2, 3]);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    expect(() => readSafetensorsTensors(file)).toThrow(/truncated/);
    writeSafetensors(file, t, (h) => ((h.w as { shape: number[] }).shape = [3, 3]));
    expect(() => readSafetensorsTensors(file)).toThrow(/needs 36/);
    writeSafetensors(file, t, (h) => ((h.w as { dtype: string }).dtype = 'I8'));
    expect(() => readSafetensorsTensors(file)).toThrow(FormatError);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(1000n);
    fs.writeFileSync(file, huge);
    expect(() => readSafetensorsTensors(file)).toThrow(/header claims 1000 bytes/);
    fs.writeFileSync(file, Buffer.alloc(3));
    expect(() => readSafetensorsTensors(file)).toThrow(/too short/);
  });

  test('a 4-D tensor is rejected with its name; BF16 is widened', () => {
    const file = path.join(dir, 'rank4.safetensors');
    writeSafetensors(file, [{ name: 'conv', dtype: 'F32', shape: [1, 1, 2, 2], data: new Float32Array(4) }]);
    expect(() => readGradientMatrices(file)).toThrow(/conv must have shape/);
    // bf16 of 1.5 is 0x3fc0
    const bf = new Uint16Array([0x3fc0, 0xbf80, 0x4000, 0]);
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 8] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, Buffer.from(bf.buffer)]));
    expect(Array.from(readGradientMatrices(file)[0].data)).toEqual([1.5, -1, 2, 0]);
  });
});
