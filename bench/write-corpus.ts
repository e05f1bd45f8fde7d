/**
 * Writes a GeneratedCorpus in the on-disk "curricula.sequences" format:
 *
 *   dir/offsets.npy     <u8, shape (M+1,)   CSR offsets into the segment arrays
 *   dir/group.npy       <u4, shape (S,)     per-segment group id
 *   dir/tokens.npy      <u4, shape (S,)     per-segment token count
 *   dir/doc_length.npy  <u4, shape (S,)     per-segment document length
 *   dir/manifest.json   format/version/counts/file names/generator params
 *
 * The .npy files use format version 1.0 and are written by a tiny local
 * writer (no dependency on lib/io). Every file is written to a temporary name
 * in the same directory, fsync'ed and renamed into place.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { GENERATOR_MODEL, type GeneratedCorpus } from './generate';

export const CORPUS_FILES = {
  offsets: 'offsets.npy',
  group: 'group.npy',
  tokens: 'tokens.npy',
  docLength: 'doc_length.npy',
} as const;

export const MANIFEST_NAME = 'manifest.json';
const NUM_BINS = 16;
const WRITE_CHUNK = 64 * 1024 * 1024;

type NpyArray = Uint32Array | BigUint64Array;

/** Build a format-1.0 .npy header (total length a multiple of 64 bytes). */
export function npyHeader(descr: '<u4' | '<u8', length: number): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${length},), }`;
  const preamble = 10; // magic(6) + version(2) + header length(2)
  let total = preamble + dict.length + 1; // + final '\n'
  total = Math.ceil(total / 64) * 64;
  const headerLen = total - preamble;
  if (headerLen > 0xffff) throw new RangeError('npy header too long');
  const buf = Buffer.alloc(total, 0x20); // spaces
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(headerLen, 8);
  buf.write(dict, preamble, 'latin1');
  buf[total - 1] = 0x0a;
  return buf;
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let pos = 0;
  while (pos < data.length) {
    const end = Math.min(data.length, pos + WRITE_CHUNK);
    pos += fs.writeSync(fd, data, pos, end - pos);
  }
}

function tempName(dir: string, name: string): string {
  const rnd = Math.floor(Math.random() * 0x100000000).toString(16);
  return path.join(dir, `.${name}.tmp-${process.pid}-${rnd}`);
}

/** Write `parts` to dir/name atomically (temp file + fsync + rename). */
function writeFileAtomic(dir: string, name: string, parts: Uint8Array[]): void {
  const tmp = tempName(dir, name);
  const fd = fs.openSync(tmp, 'wx');
  try {
    try {
      for (const p of parts) writeAllSync(fd, p);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, name));
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

/** Write one 1-D little-endian unsigned array as dir/name (.npy 1.0). */
export function writeNpy(dir: string, name: string, arr: NpyArray): void {
  if (os.endianness() !== 'LE') {
    throw new Error('writeNpy: big-endian hosts are not supported');
  }
  const descr = arr instanceof BigUint64Array ? '<u8' : '<u4';
  const header = npyHeader(descr, arr.length);
  const body = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  writeFileAtomic(dir, name, [header, body]);
}

export interface CorpusManifest {
  format: 'curricula.sequences';
  version: 1;
  numSequences: number;
  numGroups: number;
  numBins: number;
  files: { offsets: string; group: string; tokens: string; docLength: string };
  generator: Record<string, unknown>;
}

/** Build the manifest object for a generated corpus. */
export function corpusManifest(corpus: GeneratedCorpus): CorpusManifest {
  return {
    format: 'curricula.sequences',
    version: 1,
    numSequences: corpus.numSequences,
    numGroups: corpus.numGroups,
    numBins: NUM_BINS,
    files: { ...CORPUS_FILES },
    generator: { model: GENERATOR_MODEL, ...corpus.params },
  };
}

/**
 * Write `corpus` into `dir` (created if missing). The manifest is written
 * last, so a directory with a manifest has all its arrays in place.
 */
export function writeCorpusDir(dir: string, corpus: GeneratedCorpus): void {
  const M = corpus.numSequences;
  const S = corpus.group.length;
  if (corpus.offsets.length !== M + 1) {
    throw new RangeError(`offsets has ${corpus.offsets.length} entries, expected ${M + 1}`);
  }
  if (corpus.tokens.length !== S || corpus.docLength.length !== S) {
    throw new RangeError('group, tokens and docLength must have the same length');
  }
  fs.mkdirSync(dir, { recursive: true });
  writeNpy(dir, CORPUS_FILES.offsets, corpus.offsets);
  writeNpy(dir, CORPUS_FILES.group, corpus.group);
  writeNpy(dir, CORPUS_FILES.tokens, corpus.tokens);
  writeNpy(dir, CORPUS_FILES.docLength, corpus.docLength);
  const json = JSON.stringify(corpusManifest(corpus), null, 2) + '\n';
  writeFileAtomic(dir, MANIFEST_NAME, [Buffer.from(json, 'utf8')]);
}
