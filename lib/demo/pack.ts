/**
 * Packs documents into fixed-length token sequences. Every document is
 * followed by <eos>; the concatenation is cut every `seqLength` tokens (the
 * last sequence may be shorter). Each sequence keeps its segments (the pieces
 * of documents it holds) with group and full document length, so the result
 * is both a SequenceSet for the scheduler and the token ids for the model.
 */
import { ValidationError, describeValue } from '../errors';
import { computeLengthBins, validateSequenceSet, type SequenceSet } from '../io/sequences';
import type { TokenSequences } from './model';
import { EOS_ID } from './tokenize';

export interface PackInput {
  ids: Uint32Array;
  group: number;
}

export interface PackOptions {
  seqLength: number;
  numGroups: number;
  numBins: number;
  groupNames?: string[];
  /** false: every sequence holds tokens of one document only (held-out sets, pure per group) */
  crossDocuments?: boolean;
}

export interface PackedCorpus {
  set: SequenceSet;
  tokens: TokenSequences;
  /** document (index into the input) of every segment */
  segmentDoc: Uint32Array;
  /** group of every sequence's first segment */
  sequenceGroup: Uint32Array;
  seqLength: number;
}

export function packDocuments(docs: readonly PackInput[], opts: PackOptions): PackedCorpus {
  const L = opts.seqLength;
  if (!Number.isSafeInteger(L) || L < 1) {
    throw new ValidationError('seqLength', `Expected positive integer for \`seqLength\` but received ${describeValue(L)}`);
  }
  if (!Array.isArray(docs) || docs.length === 0) {
    throw new ValidationError('docs', `Expected a nonempty array of documents for \`docs\` but received ${describeValue(docs)}`);
  }
  let total = 0;
  docs.forEach((d, i) => {
    if (Object.prototype.toString.call(d?.ids) !== '[object Uint32Array]') {
      throw new ValidationError(`docs[${i}].ids`, `Expected Uint32Array for \`docs[${i}].ids\` but received ${describeValue(d?.ids)}`);
    }
    if (!Number.isInteger(d.group) || d.group < 0 || d.group >= opts.numGroups) {
      throw new ValidationError(`docs[${i}].group`, `docs[${i}].group = ${describeValue(d.group)} is out of range [0, ${opts.numGroups})`);
    }
    total += d.ids.length + 1;
  });
  if (total > 0xffffffff) throw new ValidationError('docs', `the documents hold ${total} tokens; at most 2^32-1 fit`);

  const ids = new Uint32Array(total);
  const offsets: number[] = [0];
  const segOffsets: number[] = [0];
  const group: number[] = [];
  const tokens: number[] = [];
  const docLength: number[] = [];
  const segmentDoc: number[] = [];
  let pos = 0;
  let fill = 0; // tokens in the open sequence
  const close = () => {
    offsets.push(pos);
    segOffsets.push(group.length);
    fill = 0;
  };
  docs.forEach((d, i) => {
    const len = d.ids.length + 1;
    if (opts.crossDocuments === false && fill > 0) close();
    ids.set(d.ids, pos);
    ids[pos + d.ids.length] = EOS_ID;
    let left = len;
    while (left > 0) {
      const take = Math.min(left, L - fill);
      group.push(d.group);
      tokens.push(take);
      docLength.push(len);
      segmentDoc.push(i);
      pos += take;
      fill += take;
      left -= take;
      if (fill === L) close();
    }
  });
  if (fill > 0) close();

  const tokenArr = Uint32Array.from(tokens);
  const { bin, edges } = computeLengthBins(Uint32Array.from(docLength), tokenArr, opts.numBins);
  const set: SequenceSet = {
    offsets: BigUint64Array.from(segOffsets, BigInt),
    group: Uint32Array.from(group),
    bin,
    tokens: tokenArr,
    numGroups: opts.numGroups,
    numBins: opts.numBins,
    binEdges: edges,
    ...(opts.groupNames ? { groupNames: opts.groupNames } : {}),
  };
  validateSequenceSet(set);
  const sequenceGroup = new Uint32Array(offsets.length - 1);
  for (let s = 0; s < sequenceGroup.length; s++) sequenceGroup[s] = group[segOffsets[s]];
  return { set, tokens: { ids, offsets: Uint32Array.from(offsets) }, segmentDoc: Uint32Array.from(segmentDoc), sequenceGroup, seqLength: L };
}

/**
 * The same sequences in another order: sequence i of the result is sequence
 * perm[i] of `p` (segments, tokens and groups move with it). `perm` must be a
 * permutation of 0..M-1.
 */
export function permuteSequences(p: PackedCorpus, perm: Uint32Array): PackedCorpus {
  const M = p.tokens.offsets.length - 1;
  if (perm.length !== M) throw new ValidationError('perm', `Expected ${M} entries for \`perm\` but received ${perm.length}`);
  const seen = new Uint8Array(M);
  perm.forEach((s, i) => {
    if (!(s < M) || seen[s]) throw new ValidationError(`perm[${i}]`, `\`perm\` is not a permutation of 0..${M - 1}: perm[${i}] = ${s}`);
    seen[s] = 1;
  });
  const src = p.set;
  const nnz = src.group.length;
  const segOffsets = new BigUint64Array(M + 1);
  const group = new Uint32Array(nnz);
  const bin = new Uint32Array(nnz);
  const tokens = new Uint32Array(nnz);
  const segmentDoc = new Uint32Array(nnz);
  const ids = new Uint32Array(p.tokens.ids.length);
  const offsets = new Uint32Array(M + 1);
  let seg = 0;
  let pos = 0;
  for (let i = 0; i < M; i++) {
    const s = perm[i];
    for (let k = Number(src.offsets[s]); k < Number(src.offsets[s + 1]); k++, seg++) {
      group[seg] = src.group[k];
      bin[seg] = src.bin[k];
      tokens[seg] = src.tokens[k];
      segmentDoc[seg] = p.segmentDoc[k];
    }
    segOffsets[i + 1] = BigInt(seg);
    const piece = p.tokens.ids.subarray(p.tokens.offsets[s], p.tokens.offsets[s + 1]);
    ids.set(piece, pos);
    pos += piece.length;
    offsets[i + 1] = pos;
  }
  const set: SequenceSet = { ...src, offsets: segOffsets, group, bin, tokens };
  validateSequenceSet(set);
  return { set, tokens: { ids, offsets }, segmentDoc, sequenceGroup: Uint32Array.from(perm, (s) => p.sequenceGroup[s]), seqLength: p.seqLength };
}
