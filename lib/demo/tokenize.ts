/**
 * Word-level tokenizer and vocabulary (docs/demo.md): words are lowercased;
 * the vocabulary is <eos> (id 0), <unk> (id 1), then the most frequent words
 * of the training documents (ties broken by the word, so it is deterministic).
 */
import { ValidationError, describeValue } from '../errors';

export const EOS = '<eos>';
export const UNK = '<unk>';
export const EOS_ID = 0;
export const UNK_ID = 1;

/**
 * Splits raw text into lowercase word and punctuation tokens: runs of letters
 * and digits (with inner apostrophes, hyphens and periods, as in "don't",
 * "over-all", "3.5"), or single other non-space characters.
 */
export function tokenizeText(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’.-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** Normalizes words that are already tokenized (the Brown Corpus): lowercase only. */
export function normalizeWords(words: readonly string[]): string[] {
  return words.map((w) => w.toLowerCase());
}

export interface Vocabulary {
  /** word of every id; words[0] = <eos>, words[1] = <unk> */
  words: string[];
  index: Map<string, number>;
}

/** The top `size - 2` words by count in `docs`, after <eos> and <unk>. */
export function buildVocabulary(docs: Iterable<readonly string[]>, size: number): Vocabulary {
  if (!Number.isSafeInteger(size) || size < 3) {
    throw new ValidationError('vocabSize', `Expected integer >= 3 for \`vocabSize\` but received ${describeValue(size)}`);
  }
  const counts = new Map<string, number>();
  for (const doc of docs) for (const w of doc) counts.set(w, (counts.get(w) ?? 0) + 1);
  counts.delete(EOS);
  counts.delete(UNK);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const words = [EOS, UNK, ...ranked.slice(0, size - 2).map(([w]) => w)];
  return { words, index: new Map(words.map((w, i) => [w, i])) };
}

/** Token ids of `words`; words outside the vocabulary become <unk>. */
export function encode(vocab: Vocabulary, words: readonly string[]): Uint32Array {
  const ids = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) ids[i] = vocab.index.get(words[i]) ?? UNK_ID;
  return ids;
}

/** Share of tokens that are not <unk>. */
export function coverage(ids: Iterable<Uint32Array>): number {
  let n = 0;
  let known = 0;
  for (const a of ids) {
    n += a.length;
    for (let i = 0; i < a.length; i++) if (a[i] !== UNK_ID) known++;
  }
  return n === 0 ? 1 : known / n;
}
