/**
 * NumPy .npy reader and writer (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, little-endian numeric
 * dtypes, C order. Every length in the file is checked against the file size
 * before it is used, and the header dict is parsed as a strict Python literal
 * (never evaluated), so a malformed or lying file gives a FormatError, never
 * an out-of-bounds read or a silently short array.
 */
import * as fs from 'fs';
import * as os from 'os';

import { CurriculaError, FormatError, ValidationError, describeValue } from '../errors';
import { writeFileAtomic } from './atomic';

export type NpyTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

export type NpyDtype = '|u1' | '|i1' | '<u2' | '<i2' | '<u4' | '<i4' | '<u8' | '<i8' | '<f4' | '<f8' | '<f2' | '|b1';

export interface NpyArray<T extends NpyTypedArray = NpyTypedArray> {
  dtype: NpyDtype;
  shape: number[];
  data: T;
}

type TypedCtor = { new (length: number): NpyTypedArray; readonly BYTES_PER_ELEMENT: number };

const DTYPES: ReadonlyArray<[NpyDtype, TypedCtor]> = [
  ['|u1', Uint8Array],
  ['|i1', Int8Array],
  ['<u2', Uint16Array],
  ['<i2', Int16Array],
  ['<u4', Uint32Array],
  ['<i4', Int32Array],
  ['<u8', BigUint64Array],
  ['<i8', BigInt64Array],
  ['<f4', Float32Array],
  ['<f8', Float64Array],
  // Read-only extras (listed last so that writing a Uint16Array or Uint8Array still picks <u2 / |u1):
  // float16 keeps its raw bits, bool its 0/1 bytes.
  ['<f2', Uint16Array],
  ['|b1', Uint8Array],
];

const MAGIC = Buffer.from('\x93NUMPY', 'latin1');
const READ_CHUNK = 256 * 1024 * 1024;

function assertLittleEndianHost(): void {
  // Data is copied byte-for-byte into typed arrays, which use host order.
  if (os.endianness() !== 'LE') throw new CurriculaError('.npy I/O is only supported on little-endian hosts');
}

/** Map a header `descr` to our canonical dtype; '<u1', '|u1' and '>u1' are the same type. */
function lookupDtype(descr: string, file: string): [NpyDtype, TypedCtor] {
  const m = /^([<>|=])([uifb])(\d+)$/.exec(descr);
  if (m) {
    const [, order, kind, size] = m;
    if (order === '>' && size !== '1') {
      throw new FormatError(file, `${file}: big-endian dtype '${descr}' is not supported`);
    }
    const key = size === '1' ? `|${kind}1` : order === '<' ? `<${kind}${size}` : '';
    const hit = DTYPES.find(([d]) => d === key);
    if (hit) return hit;
  }
  throw new FormatError(
    file,
    `${file}: unsupported dtype '${descr}' (expected one of ${DTYPES.map(([d]) => d).join(' ')})`,
  );
}

// ---------------------------------------------------------------------------
// Strict parser for the header, a Python dict literal such as
//   {'descr': '<u4', 'fortran_order': False, 'shape': (3, 4), }

type PyValue = string | boolean | number | number[];

class HeaderParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private fail(what: string): never {
    const near = JSON.stringify(this.text.slice(this.pos, this.pos + 20));
    throw new FormatError(this.file, `${this.file}: malformed .npy header: ${what} at offset ${this.pos} (near ${near})`);
  }

  private ws(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos])) this.pos++;
  }

  private eat(ch: string): boolean {
    this.ws();
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  private expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected '${ch}'`);
  }

  private string(): string {
    this.ws();
    const quote = this.text[this.pos];
    if (quote !== "'" && quote !== '"') this.fail('expected a string');
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated string');
    const s = this.text.slice(this.pos + 1, end);
    // numpy never writes escapes or newlines in these strings; refuse rather than guess
    if (/[\\\n\r]/.test(s)) this.fail('unsupported character in string');
    this.pos = end + 1;
    return s;
  }

  private int(): number {
    this.ws();
    const m = /^(0|[1-9]\d*)[lL]?/.exec(this.text.slice(this.pos, this.pos + 40)); // 'L': Python 2 longs
    if (!m) this.fail('expected a non-negative integer');
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${m[1]} is too large`);
    this.pos += m[0].length;
    return n;
  }

  private tuple(): number[] {
    this.expect('(');
    const items: number[] = [];
    if (this.eat(')')) return items;
    items.push(this.int());
    if (!this.eat(',')) this.fail("expected ',' (a 1-tuple needs a trailing comma)");
    while (!this.eat(')')) {
      items.push(this.int());
      if (!this.eat(',')) {
        this.expect(')');
        break;
      }
    }
    return items;
  }

  private value(): PyValue {
    this.ws();
    for (const [word, v] of [['True', true], ['False', false]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    const c = this.text[this.pos];
    if (c === "'" || c === '"') return this.string();
    if (c === '(') return this.tuple();
    if (c === '[') this.fail('structured dtypes are not supported');
    return this.fail('unexpected value');
  }

  dict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect('{');
    while (!this.eat('}')) {
      const key = this.string();
      if (out.has(key)) this.fail(`duplicate key '${key}'`);
      this.expect(':');
      out.set(key, this.value());
      if (!this.eat(',')) {
        this.expect('}');
        break;
      }
    }
    this.ws();
    if (this.pos !== this.text.length) this.fail('unexpected text after the dict');
    return out;
  }
}

interface Header {
  dtype: NpyDtype;
  ctor: TypedCtor;
  shape: number[];
  count: number;
  dataOffset: number;
}

/**
 * Parse and check everything before the data. `head` holds the first bytes
 * of the file (at least 12, or the whole file if shorter); `readHeader`
 * returns the header bytes once their extent is known to lie inside the file.
 */
function parseHeader(
  head: Uint8Array,
  fileSize: number,
  file: string,
  readHeader: (start: number, length: number) => Uint8Array,
): Header {
  const prefix = Math.min(head.length, MAGIC.length);
  if (!Buffer.from(head.subarray(0, prefix)).equals(MAGIC.subarray(0, prefix)) || fileSize === 0) {
    throw new FormatError(file, `${file}: not a .npy file (bad magic bytes)`);
  }
  if (fileSize < 10) throw new FormatError(file, `${file}: truncated .npy preamble (${fileSize} bytes)`);
  const major = head[6];
  const minor = head[7];
  if (minor !== 0 || major < 1 || major > 3) {
    throw new FormatError(file, `${file}: unsupported .npy format version ${major}.${minor} (expected 1.0, 2.0 or 3.0)`);
  }
  const headerStart = major === 1 ? 10 : 12;
  if (fileSize < headerStart) throw new FormatError(file, `${file}: truncated .npy preamble (${fileSize} bytes)`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (headerStart + headerLen > fileSize) {
    throw new FormatError(
      file,
      `${file}: .npy header length ${headerLen} runs past the end of the file (${fileSize} bytes)`,
    );
  }
  const raw = readHeader(headerStart, headerLen);
  let text: string;
  try {
    // version 3.0 only differs from 2.0 in allowing UTF-8 in the header
    text =
      major === 3
        ? new TextDecoder('utf-8', { fatal: true }).decode(raw)
        : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  } catch {
    throw new FormatError(file, `${file}: .npy header is not valid UTF-8`);
  }
  const dict = new HeaderParser(text, file).dict();
  const keys = [...dict.keys()].sort().join(', ');
  if (keys !== 'descr, fortran_order, shape') {
    throw new FormatError(file, `${file}: .npy header must have exactly the keys descr, fortran_order, shape but has ${keys || 'none'}`);
  }
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string') throw new FormatError(file, `${file}: .npy header 'descr' must be a string`);
  if (typeof fortran !== 'boolean') throw new FormatError(file, `${file}: .npy header 'fortran_order' must be True or False`);
  if (!Array.isArray(shape)) throw new FormatError(file, `${file}: .npy header 'shape' must be a tuple`);
  if (fortran) throw new FormatError(file, `${file}: Fortran-ordered arrays are not supported (save with C order)`);
  const [dtype, ctor] = lookupDtype(descr, file);

  const count = shape.includes(0) ? 0 : shape.reduce((a, b) => a * b, 1);
  const dataOffset = headerStart + headerLen;
  const expected = count * ctor.BYTES_PER_ELEMENT;
  const actual = fileSize - dataOffset;
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  if (!Number.isSafeInteger(expected) || expected > actual) {
    throw new FormatError(
      file,
      `${file}: truncated .npy data: shape ${shapeText} of ${dtype} needs ${Number.isSafeInteger(expected) ? expected : 'more than 2^53'} bytes but only ${actual} follow the header`,
    );
  }
  if (expected < actual) {
    throw new FormatError(
      file,
      `${file}: .npy data has ${actual - expected} extra bytes: shape ${shapeText} of ${dtype} needs ${expected} bytes but ${actual} follow the header`,
    );
  }
  return { dtype, ctor, shape, count, dataOffset };
}

function allocate(h: Header, file: string): NpyTypedArray {
  try {
    return new h.ctor(h.count);
  } catch (err) {
    throw new CurriculaError(`${file}: cannot allocate ${h.count} elements of ${h.dtype}`, 'ERR_CURRICULA', { cause: err });
  }
}

/** Where a .npy file's data lies, for readers that stream rows instead of reading the whole file. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** byte offset of the first element */
  dataOffset: number;
  bytesPerElement: number;
  fileSize: number;
}

/** Parse and check only the header of a .npy file (the data extent is checked against the file size). */
export function readNpyHeader(path: string): NpyHeader {
  assertLittleEndianHost();
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const readAt = (pos: number, length: number): Uint8Array => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = fs.readSync(fd, buf, got, length - got, pos + got);
        if (n === 0) throw new FormatError(path, `${path}: file shrank while being read`);
        got += n;
      }
      return buf;
    };
    const h = parseHeader(readAt(0, Math.min(12, size)), size, path, readAt);
    return { dtype: h.dtype, shape: h.shape, dataOffset: h.dataOffset, bytesPerElement: h.ctor.BYTES_PER_ELEMENT, fileSize: size };
  } finally {
    fs.closeSync(fd);
  }
}

/** Parse a whole .npy file held in memory. The result never aliases `bytes`. */
export function parseNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  assertLittleEndianHost();
  const h = parseHeader(bytes.subarray(0, 12), bytes.length, file, (s, n) => bytes.subarray(s, s + n));
  const data = allocate(h, file);
  // Copy rather than view: the source may be unaligned for the element type.
  new Uint8Array(data.buffer).set(bytes.subarray(h.dataOffset));
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Read a .npy file; the data is read straight into a fresh typed array. */
export function readNpy(path: string): NpyArray {
  assertLittleEndianHost();
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const readAt = (pos: number, length: number): Uint8Array => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = fs.readSync(fd, buf, got, length - got, pos + got);
        if (n === 0) throw new FormatError(path, `${path}: file shrank while being read`);
        got += n;
      }
      return buf;
    };
    const h = parseHeader(readAt(0, Math.min(12, size)), size, path, readAt);
    const data = allocate(h, path);
    const dst = new Uint8Array(data.buffer);
    for (let got = 0; got < dst.length; ) {
      const n = fs.readSync(fd, dst, got, Math.min(READ_CHUNK, dst.length - got), h.dataOffset + got);
      if (n === 0) throw new FormatError(path, `${path}: file shrank while being read`);
      got += n;
    }
    return { dtype: h.dtype, shape: h.shape, data };
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Writing

export function dtypeOf(data: NpyTypedArray): NpyDtype {
  const hit = DTYPES.find(([, ctor]) => data instanceof ctor); // a Buffer counts as Uint8Array
  if (hit) return hit[0];
  throw new ValidationError('data', `Expected a supported typed array for \`data\` but received ${describeValue(data)}`);
}

/** Header and body of a .npy file (format 1.0, or 2.0 if the header needs it). */
export function encodeNpy(data: NpyTypedArray, shape: readonly number[] = [data.length]): [Buffer, Uint8Array] {
  assertLittleEndianHost();
  const dtype = dtypeOf(data);
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ValidationError(`shape[${i}]`, `Expected non-negative integer for \`shape[${i}]\` but received ${describeValue(d)}`);
    }
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new ValidationError('shape', `\`shape\` (${shape.join(', ')}) has ${count} elements but \`data\` has ${data.length}`);
  }
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${tuple}, }`;
  // numpy pads with spaces and a final '\n' so that the data starts 64-byte aligned.
  let preamble = 10;
  let total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  if (total - preamble > 0xffff) {
    preamble = 12;
    total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  }
  const header = Buffer.alloc(total, 0x20);
  MAGIC.copy(header, 0);
  header[6] = preamble === 10 ? 1 : 2;
  header[7] = 0;
  if (preamble === 10) header.writeUInt16LE(total - preamble, 8);
  else header.writeUInt32LE(total - preamble, 8);
  header.write(dict, preamble, 'latin1');
  header[total - 1] = 0x0a;
  return [header, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

/** Write `data` as a .npy file, atomically (temp file + rename). */
export function writeNpyAtomic(path: string, data: NpyTypedArray, shape?: readonly number[]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}
