/**
 * Writes a GeneratedCorpus in the on-disk "curricula.sequences" format:
 *
 *   dir/offsets.npy     <u8, shape (M+1,)   CSR offsets into the segment arrays
 *   dir/group.npy       <u4, shape (S,)     per-segment group id
 *   dir/tokens.npy      <u4, shape (S,)     per-segment token count
 *   dir/doc_length.npy  <u4, shape (S,)     per-segment document length
 *   dir/manifest.json   format/version/counts/file names/generator params
 *
 * Files go through lib/io's atomic writers (temp file + rename); the manifest
 * is written last.
 */
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../lib/io/atomic';
import { writeNpyAtomic } from '../lib/io/npy';
import { GENERATOR_MODEL, type GeneratedCorpus } from './generate';

export const CORPUS_FILES = {
  offsets: 'offsets.npy',
  group: 'group.npy',
  tokens: 'tokens.npy',
  docLength: 'doc_length.npy',
} as const;

export const MANIFEST_NAME = 'manifest.json';
const NUM_BINS = 16;

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
  writeNpyAtomic(path.join(dir, CORPUS_FILES.offsets), corpus.offsets);
  writeNpyAtomic(path.join(dir, CORPUS_FILES.group), corpus.group);
  writeNpyAtomic(path.join(dir, CORPUS_FILES.tokens), corpus.tokens);
  writeNpyAtomic(path.join(dir, CORPUS_FILES.docLength), corpus.docLength);
  writeFileAtomic(path.join(dir, MANIFEST_NAME), JSON.stringify(corpusManifest(corpus), null, 2) + '\n');
}
