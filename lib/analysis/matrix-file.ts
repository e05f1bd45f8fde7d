/**
 * Reading gradient matrices for `analyze stable-rank` and features for
 * `analyze fidelity`:
 * - .npy of shape [batches, rows, cols] (one layer, named after the file) or [rows, cols];
 * - .safetensors where every tensor is one layer of shape [batches, rows, cols] or [rows, cols]
 *   (F32, F64, F16 or BF16; half precision is widened to float32).
 * The safetensors header is checked against the file size before any data is
 * read, so a truncated or lying file gives a FormatError, never a short read.
 */
import * as fs from 'fs';
import * as path from 'path';

import { FormatError } from '../errors';
import { readNpy } from '../io/npy';
import type { GradientMatrix } from './stable-rank';

const MAX_HEADER = 100 * 1024 * 1024;
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** One stack of matrices: rows×cols each, `batches` of them, contiguous. */
function splitStack(file: string, layer: string, shape: number[], data: Float32Array | Float64Array): GradientMatrix[] {
  if (shape.length !== 2 && shape.length !== 3) {
    throw new FormatError(file, `${file}: ${layer} must have shape [batches, rows, cols] or [rows, cols] but has [${shape.join(', ')}]`);
  }
  const [batches, rows, cols] = shape.length === 3 ? shape : [1, ...shape];
  if (rows === 0 || cols === 0 || batches === 0) throw new FormatError(file, `${file}: ${layer} is empty (shape [${shape.join(', ')}])`);
  const size = rows * cols;
  return Array.from({ length: batches }, (_, b) => ({ data: data.subarray(b * size, (b + 1) * size), rows, cols, layer }));
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(dtype: string, bytes: Uint8Array): Float32Array | Float64Array {
  const copy = bytes.slice(); // aligned
  if (dtype === 'F64') return new Float64Array(copy.buffer, 0, copy.length / 8);
  if (dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.length / 4);
  const halves = new Uint16Array(copy.buffer, 0, copy.length / 2);
  const out = new Float32Array(halves.length);
  if (dtype === 'BF16') {
    const wide = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) wide[i] = halves[i] << 16;
  } else {
    for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]);
  }
  return out;
}

interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** The tensors of a safetensors file, in header order, checked against the file size. */
export function readSafetensorsTensors(file: string): { name: string; shape: number[]; data: Float32Array | Float64Array }[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const read = (pos: number, length: number): Uint8Array => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = fs.readSync(fd, buf, got, length - got, pos + got);
        if (n === 0) throw new FormatError(file, `${file}: file shrank while being read`);
        got += n;
      }
      return buf;
    };
    if (size < 8) throw new FormatError(file, `${file}: too short for a safetensors file (${size} bytes)`);
    const n = Number(Buffer.from(read(0, 8)).readBigUInt64LE(0));
    if (n > MAX_HEADER || n > size - 8) {
      throw new FormatError(file, `${file}: safetensors header claims ${n} bytes but the file has ${size - 8} after the length`);
    }
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(read(8, n)).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new FormatError(file, `${file}: the safetensors header is not valid JSON`, { cause: e });
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new FormatError(file, `${file}: the safetensors header is not a JSON object`);
    }
    const body = size - 8 - n;
    const entries: TensorEntry[] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const bad = (why: string): never => {
        throw new FormatError(file, `${file}: tensor "${name}": ${why}`);
      };
      if (typeof t?.dtype !== 'string' || !(t.dtype in BYTES)) bad(`dtype ${JSON.stringify(t?.dtype)} is not one of F64, F32, F16, BF16`);
      const dtype = t.dtype as string;
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad('shape must be a list of non-negative integers');
      const shape = t.shape as number[];
      const offs = t.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
        bad('data_offsets must be [begin, end] with 0 <= begin <= end');
      }
      const [begin, end] = offs as number[];
      const expected = shape.reduce((a, d) => a * d, 1) * BYTES[dtype];
      if (end - begin !== expected) bad(`data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
      if (end > body) bad(`data ends at byte ${end} but the file holds ${body} data bytes (truncated?)`);
      entries.push({ name, dtype, shape, begin, end });
    }
    if (entries.length === 0) throw new FormatError(file, `${file}: the safetensors file holds no tensors`);
    return entries.map((e) => ({ name: e.name, shape: e.shape, data: decode(e.dtype, read(8 + n + e.begin, e.end - e.begin)) }));
  } finally {
    fs.closeSync(fd);
  }
}

/** Gradient matrices from a .npy or .safetensors file (see the file comment for shapes). */
export function readGradientMatrices(file: string): GradientMatrix[] {
  if (file.endsWith('.safetensors')) {
    return readSafetensorsTensors(file).flatMap((t) => splitStack(file, t.name, t.shape, t.data));
  }
  const { dtype, shape, data } = readNpy(file);
  if (!(dtype === '<f4' || dtype === '<f8')) throw new FormatError(file, `${file}: gradients must be float32 or float64 but are ${dtype}`);
  return splitStack(file, path.basename(file).replace(/\.npy$/, ''), shape, data as Float32Array | Float64Array);
}

/** Per-example features: a 2-D float .npy of shape [examples, dim]. */
export function readFeatures(file: string): { data: Float32Array | Float64Array; rows: number; cols: number } {
  const { dtype, shape, data } = readNpy(file);
  if (!(dtype === '<f4' || dtype === '<f8')) throw new FormatError(file, `${file}: features must be float32 or float64 but are ${dtype}`);
  if (shape.length !== 2) throw new FormatError(file, `${file}: features must have shape [examples, dim] but have [${shape.join(', ')}]`);
  return { data: data as Float32Array | Float64Array, rows: shape[0], cols: shape[1] };
}
