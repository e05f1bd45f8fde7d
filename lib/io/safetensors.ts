/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors):
 * an unsigned 64-bit little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`,
 * then the data section; offsets are relative to its start.
 *
 * The header is checked completely before any data is read: the header length
 * against the file size, every dtype, shape and byte range against the data
 * section, and ranges against each other (no overlaps). Data is then read by
 * row ranges at computed offsets, never as a whole file, so a truncated file or
 * a lying header gives a FormatError naming the file and field, never an
 * out-of-bounds read.
 */
import * as fs from 'fs';
import * as os from 'os';

import { CurriculaError, FormatError, ValidationError } from '../errors';
import { writeFileAtomic } from './atomic';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** Largest header we accept (the format's own reader uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** absolute offset of the data section */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

function fail(file: string, message: string): never {
  throw new FormatError(file, `${file}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads exactly `length` bytes at `pos` into `dst` (from `dstOffset`). */
export function readExact(fd: number, file: string, dst: Uint8Array, dstOffset: number, length: number, pos: number): void {
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, dst, dstOffset + got, Math.min(length - got, 1 << 30), pos + got);
    if (n === 0) fail(file, `file ended at byte ${pos + got} while reading ${length} bytes at offset ${pos} (truncated?)`);
    got += n;
  }
}

/** Check a parsed header object against the data section size. */
export function checkHeader(file: string, json: unknown, fileSize: number, dataStart: number): SafetensorsHeader {
  if (!isRecord(json)) fail(file, 'safetensors header must be a JSON object');
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(raw)) fail(file, '`__metadata__` must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(file, `\`__metadata__.${k}\` must be a string but is ${typeof v}`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor \`${name}\``;
    if (!isRecord(raw)) fail(file, `${where} must be an object`);
    const dtype = raw.dtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
      fail(file, `${where}: unsupported \`dtype\` ${JSON.stringify(dtype)} (expected one of ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(' ')})`);
    }
    const shape = raw.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(file, `${where}: \`shape\` must be an array of non-negative integers but is ${JSON.stringify(shape)}`);
    }
    const offsets = raw.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(file, `${where}: \`data_offsets\` must be [begin, end] with 0 <= begin <= end but is ${JSON.stringify(offsets)}`);
    }
    const [b, e] = offsets as [number, number];
    if (e > dataSize) {
      fail(file, `${where}: \`data_offsets\` [${b}, ${e}] run past the end of the data section (${dataSize} bytes; file truncated or header lying)`);
    }
    const numel = (shape as number[]).reduce((a, x) => a * x, 1);
    const need = numel * SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
    if (!Number.isSafeInteger(need) || need !== e - b) {
      fail(file, `${where}: \`data_offsets\` span ${e - b} bytes but \`shape\` [${(shape as number[]).join(', ')}] of ${dtype} needs ${Number.isSafeInteger(need) ? need : 'more than 2^53'}`);
    }
    tensors.set(name, { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
  }
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      fail(file, `tensors \`${sorted[i - 1].name}\` and \`${sorted[i].name}\` have overlapping \`data_offsets\``);
    }
  }
  return { file, fileSize, dataStart, tensors, metadata };
}

/** Parse the header of an open file. */
export function readSafetensorsHeaderFd(fd: number, file: string): SafetensorsHeader {
  if (os.endianness() !== 'LE') throw new CurriculaError('safetensors I/O is only supported on little-endian hosts');
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) fail(file, `truncated safetensors file (${fileSize} bytes; the header length alone needs 8)`);
  const lenBuf = Buffer.alloc(8);
  readExact(fd, file, lenBuf, 0, 8, 0);
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `safetensors header length ${n} is larger than the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > fileSize) {
    fail(file, `safetensors header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
  }
  const raw = Buffer.alloc(headerLen);
  readExact(fd, file, raw, 0, headerLen, 8);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    fail(file, `safetensors header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  return checkHeader(file, json, fileSize, 8 + headerLen);
}

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = fs.openSync(file, 'r');
  try {
    return readSafetensorsHeaderFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

type Ctor = { new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT: number };
const VIEW: Record<SafetensorsDtype, Ctor> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array, I32: Int32Array,
  I16: Int16Array, I8: Int8Array, U64: BigUint64Array, U32: Uint32Array, U16: Uint16Array, U8: Uint8Array, BOOL: Uint8Array,
};

/** A whole tensor as a fresh typed array (F16/BF16 as raw Uint16 bits, BOOL as Uint8). For small tensors. */
export function readTensor(fd: number, header: SafetensorsHeader, name: string): ArrayBufferView {
  const t = header.tensors.get(name);
  if (!t) fail(header.file, `missing tensor \`${name}\` (has ${[...header.tensors.keys()].join(', ') || 'none'})`);
  const bytes = t.end - t.begin;
  const ctor = VIEW[t.dtype];
  const buf = new ArrayBuffer(bytes);
  readExact(fd, header.file, new Uint8Array(buf), 0, bytes, t.begin);
  return new ctor(buf, 0, bytes / ctor.BYTES_PER_ELEMENT);
}

// ---------------------------------------------------------------------------
// Writing

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: ArrayBufferView;
}

/** Header and data parts of a safetensors file; the header is padded with spaces to a multiple of 8. */
export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const numel = t.shape.reduce((a, x) => a * x, 1);
    const bytes = numel * SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (bytes !== t.data.byteLength) {
      throw new ValidationError(name, `tensor \`${name}\`: shape [${t.shape.join(', ')}] of ${t.dtype} needs ${bytes} bytes but the data has ${t.data.byteLength}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  return [head, ...parts];
}

/** Write a safetensors file atomically (temp file + rename). */
export function writeSafetensorsAtomic(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
