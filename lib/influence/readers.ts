/**
 * Streaming readers for per-example gradient shards (format: docs/influence.md).
 *
 * A gradient directory holds manifest.json and shards. Each shard is either a
 * safetensors file with tensors `grads` [n, D] (F32, F16 or BF16), `cluster`
 * [n] (I32 or I64) and optionally `target` [n] (BOOL or U8), or the same as
 * separate .npy files (grads <f4 or <f2, or <u2 holding bfloat16 bits when the
 * shard says "dtype": "bf16"). Opening a directory checks every header against
 * its file size and the manifest, so a lying or truncated file fails before any
 * work starts. Rows are then read in blocks with positioned reads into one
 * reusable buffer: memory stays bounded however large a shard is.
 */
import * as fs from 'fs';
import * as path from 'path';

import { z } from 'zod';

import { FormatError, ValidationError, schemaError } from '../errors';
import { readNpyHeader, type NpyDtype } from '../io/npy';
import { readExact, readSafetensorsHeaderFd, type TensorInfo } from '../io/safetensors';

export type GradDtype = 'f32' | 'f16' | 'bf16';

export const GRADIENTS_FORMAT = 'curricula.gradients';

const shardSchema = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z
    .object({
      grads: z.string().min(1),
      cluster: z.string().min(1),
      target: z.string().min(1).optional(),
      dtype: z.enum(['f32', 'f16', 'bf16']).optional(),
    })
    .strict(),
]);

const manifestSchema = z
  .object({
    format: z.literal(GRADIENTS_FORMAT),
    version: z.literal(1),
    dim: z.number().int().positive(),
    numClusters: z.number().int().positive().max(2 ** 31 - 1),
    shards: z.array(shardSchema).min(1),
  })
  .strict();

export type GradientsManifest = z.infer<typeof manifestSchema>;

/** Where one column (grads, cluster or target) of a shard lies. */
interface Column {
  file: string;
  /** absolute offset of row 0 */
  offset: number;
  /** bytes per element */
  size: number;
  kind: 'f32' | 'f16' | 'bf16' | 'i32' | 'i64' | 'u8';
}

export interface ShardInfo {
  /** the shard's name in errors: its file (safetensors) or its grads file (npy) */
  name: string;
  rows: number;
  dtype: GradDtype;
  grads: Column;
  cluster: Column;
  target?: Column;
}

/** One block of rows. Its arrays are reused by the next block: copy what you keep. */
export interface GradientBlock {
  shard: string;
  /** index of the block's first row within its shard */
  shardRow: number;
  /** index of the block's first row over the whole directory */
  firstRow: number;
  n: number;
  dtype: GradDtype;
  /** n x dim: Float32Array for f32, raw Uint16Array bits for f16/bf16 */
  grads: Float32Array | Uint16Array;
  cluster: Int32Array;
  target: Uint8Array;
}

function fail(file: string, message: string): never {
  throw new FormatError(file, `${file}: ${message}`);
}

function safetensorsShard(file: string, dim: number): ShardInfo {
  const fd = fs.openSync(file, 'r');
  let h;
  try {
    h = readSafetensorsHeaderFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
  const get = (name: string): TensorInfo | undefined => h.tensors.get(name);
  const g = get('grads');
  const c = get('cluster');
  if (!g) fail(file, `missing tensor \`grads\` (has ${[...h.tensors.keys()].join(', ') || 'none'})`);
  if (!c) fail(file, 'missing tensor `cluster`');
  const gk = ({ F32: 'f32', F16: 'f16', BF16: 'bf16' } as const)[g.dtype as 'F32' | 'F16' | 'BF16'];
  if (!gk) fail(file, `tensor \`grads\` has dtype ${g.dtype}; expected F32, F16 or BF16`);
  if (g.shape.length !== 2) fail(file, `tensor \`grads\` must have shape [n, ${dim}] but has [${g.shape.join(', ')}]`);
  if (g.shape[1] !== dim) fail(file, `tensor \`grads\` has ${g.shape[1]} columns but the manifest's \`dim\` is ${dim}`);
  const n = g.shape[0];
  const ck = ({ I32: 'i32', I64: 'i64' } as const)[c.dtype as 'I32' | 'I64'];
  if (!ck) fail(file, `tensor \`cluster\` has dtype ${c.dtype}; expected I32 or I64`);
  if (c.shape.length !== 1 || c.shape[0] !== n) fail(file, `tensor \`cluster\` must have shape [${n}] (the rows of \`grads\`) but has [${c.shape.join(', ')}]`);
  const info: ShardInfo = {
    name: file,
    rows: n,
    dtype: gk,
    grads: { file, offset: g.begin, size: gk === 'f32' ? 4 : 2, kind: gk },
    cluster: { file, offset: c.begin, size: ck === 'i32' ? 4 : 8, kind: ck },
  };
  const t = get('target');
  if (t) {
    if (t.dtype !== 'BOOL' && t.dtype !== 'U8') fail(file, `tensor \`target\` has dtype ${t.dtype}; expected BOOL or U8`);
    if (t.shape.length !== 1 || t.shape[0] !== n) fail(file, `tensor \`target\` must have shape [${n}] (the rows of \`grads\`) but has [${t.shape.join(', ')}]`);
    info.target = { file, offset: t.begin, size: 1, kind: 'u8' };
  }
  return info;
}

function npyShard(dir: string, s: { grads: string; cluster: string; target?: string; dtype?: GradDtype }, dim: number): ShardInfo {
  const gf = path.join(dir, s.grads);
  const g = readNpyHeader(gf);
  const gkinds: Partial<Record<NpyDtype, GradDtype>> = { '<f4': 'f32', '<f2': 'f16', '<u2': 'bf16' };
  const gk = gkinds[g.dtype];
  if (!gk) fail(gf, `\`grads\` has dtype ${g.dtype}; expected <f4, <f2, or <u2 holding bfloat16 bits`);
  if (gk === 'bf16' && s.dtype !== 'bf16') fail(gf, '`grads` is <u2: set "dtype": "bf16" on the shard in manifest.json to read it as bfloat16');
  if (s.dtype !== undefined && s.dtype !== gk) fail(gf, `\`grads\` holds ${gk} but the manifest says \`dtype\` ${s.dtype}`);
  if (g.shape.length !== 2 || g.shape[1] !== dim) fail(gf, `\`grads\` must have shape (n, ${dim}) but has (${g.shape.join(', ')})`);
  const n = g.shape[0];
  const cf = path.join(dir, s.cluster);
  const c = readNpyHeader(cf);
  if (c.dtype !== '<i4' && c.dtype !== '<i8') fail(cf, `\`cluster\` has dtype ${c.dtype}; expected <i4 or <i8`);
  if (c.shape.length !== 1 || c.shape[0] !== n) fail(cf, `\`cluster\` must have shape (${n},) (the rows of ${s.grads}) but has (${c.shape.join(', ')})`);
  const info: ShardInfo = {
    name: gf,
    rows: n,
    dtype: gk,
    grads: { file: gf, offset: g.dataOffset, size: g.bytesPerElement, kind: gk },
    cluster: { file: cf, offset: c.dataOffset, size: c.bytesPerElement, kind: c.dtype === '<i4' ? 'i32' : 'i64' },
  };
  if (s.target) {
    const tf = path.join(dir, s.target);
    const t = readNpyHeader(tf);
    if (t.dtype !== '|u1' && t.dtype !== '|b1') fail(tf, `\`target\` has dtype ${t.dtype}; expected |b1 or |u1`);
    if (t.shape.length !== 1 || t.shape[0] !== n) fail(tf, `\`target\` must have shape (${n},) (the rows of ${s.grads}) but has (${t.shape.join(', ')})`);
    info.target = { file: tf, offset: t.dataOffset, size: 1, kind: 'u8' };
  }
  return info;
}

export interface GradientSourceOptions {
  /** treat every row as a target example (a directory of target gradients) */
  allTargets?: boolean;
}

/** A checked gradient directory; read it with blocks(). */
export class GradientSource {
  readonly dir: string;
  readonly dim: number;
  readonly numClusters: number;
  readonly shards: readonly ShardInfo[];
  readonly rows: number;
  readonly allTargets: boolean;

  private constructor(dir: string, manifest: GradientsManifest, shards: ShardInfo[], allTargets: boolean) {
    this.dir = dir;
    this.dim = manifest.dim;
    this.numClusters = manifest.numClusters;
    this.shards = shards;
    this.rows = shards.reduce((a, s) => a + s.rows, 0);
    this.allTargets = allTargets;
  }

  static open(dir: string, options: GradientSourceOptions = {}): GradientSource {
    const mf = path.join(dir, 'manifest.json');
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(mf, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FormatError(mf, `${mf}: not found (a gradient directory needs manifest.json)`);
      if (e instanceof SyntaxError) throw new FormatError(mf, `${mf}: invalid JSON (${e.message})`);
      throw e;
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success) {
      const err = schemaError(mf, parsed.error.issues, raw);
      throw new FormatError(mf, err.message);
    }
    const m = parsed.data;
    const shards = m.shards.map((s) =>
      'file' in s ? safetensorsShard(path.join(dir, s.file), m.dim) : npyShard(dir, s, m.dim),
    );
    return new GradientSource(dir, m, shards, options.allTargets ?? false);
  }

  /** Row blocks of at most `maxRows` rows (default: about 64 MiB of gradients per block). */
  *blocks(maxRows?: number): Generator<GradientBlock> {
    const widest = Math.max(...this.shards.map((s) => s.grads.size));
    const rowsPerBlock = maxRows ?? Math.max(1, Math.min(8192, Math.floor((64 << 20) / (this.dim * widest))));
    if (!Number.isSafeInteger(rowsPerBlock) || rowsPerBlock < 1) {
      throw new ValidationError('maxRows', `Expected positive integer for \`maxRows\` but received ${rowsPerBlock}`);
    }
    const gbuf = new ArrayBuffer(rowsPerBlock * this.dim * widest);
    const cbuf = new ArrayBuffer(rowsPerBlock * 8);
    const cluster = new Int32Array(rowsPerBlock);
    const target = new Uint8Array(rowsPerBlock);
    let firstRow = 0;
    for (const s of this.shards) {
      const fds = new Map<string, number>();
      const fdOf = (f: string): number => {
        let fd = fds.get(f);
        if (fd === undefined) fds.set(f, (fd = fs.openSync(f, 'r')));
        return fd;
      };
      try {
        for (let r0 = 0; r0 < s.rows; r0 += rowsPerBlock) {
          const n = Math.min(rowsPerBlock, s.rows - r0);
          const gbytes = n * this.dim * s.grads.size;
          readExact(fdOf(s.grads.file), s.grads.file, new Uint8Array(gbuf, 0, gbytes), 0, gbytes, s.grads.offset + r0 * this.dim * s.grads.size);
          const grads = s.dtype === 'f32' ? new Float32Array(gbuf, 0, n * this.dim) : new Uint16Array(gbuf, 0, n * this.dim);
          readExact(fdOf(s.cluster.file), s.cluster.file, new Uint8Array(cbuf, 0, n * s.cluster.size), 0, n * s.cluster.size, s.cluster.offset + r0 * s.cluster.size);
          if (s.target) {
            readExact(fdOf(s.target.file), s.target.file, target, 0, n, s.target.offset + r0);
          } else {
            target.fill(0, 0, n);
          }
          const c32 = new Int32Array(cbuf, 0, s.cluster.kind === 'i32' ? n : 0);
          const c64 = new BigInt64Array(cbuf, 0, s.cluster.kind === 'i64' ? n : 0);
          for (let i = 0; i < n; i++) {
            const t = target[i];
            if (t > 1) fail(s.target!.file, `target[${r0 + i}] = ${t}; expected 0 or 1`);
            if (this.allTargets) target[i] = 1;
            const c = s.cluster.kind === 'i32' ? c32[i] : Number(c64[i]);
            if (target[i] === 0 && !(c >= 0 && c < this.numClusters)) {
              fail(s.cluster.file, `cluster[${r0 + i}] = ${c} is out of range [0, ${this.numClusters}) (numClusters = ${this.numClusters})`);
            }
            cluster[i] = target[i] === 1 ? 0 : c; // a target row's cluster id is not used
          }
          yield {
            shard: s.name,
            shardRow: r0,
            firstRow: firstRow + r0,
            n,
            dtype: s.dtype,
            grads,
            cluster: cluster.subarray(0, n),
            target: target.subarray(0, n),
          };
        }
      } finally {
        for (const fd of fds.values()) fs.closeSync(fd);
      }
      firstRow += s.rows;
    }
  }
}
