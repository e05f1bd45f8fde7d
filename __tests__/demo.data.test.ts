/**
 * The demo's data pipeline: the real Brown Corpus (counts, genres, split),
 * the tokenizer and vocabulary, and packing invariants on hand-made inputs.
 */
import { genreIndex, loadBrown, parseTagged, type BrownCorpus } from '../lib/demo/brown';
import { prepareDemoData, subsetSequences } from '../lib/demo/data';
import { packDocuments, type PackInput } from '../lib/demo/pack';
import { splitDocuments } from '../lib/demo/split';
import { EOS_ID, UNK_ID, buildVocabulary, encode, tokenizeText } from '../lib/demo/tokenize';
import { validateSequenceSet } from '../lib/io/sequences';
import { expectValidation } from './helpers/expect-errors';
import { Rng } from './reference/naive-scheduler';

describe('Brown Corpus', () => {
  let brown: BrownCorpus;
  beforeAll(() => {
    brown = loadBrown();
  });

  test('500 documents in 15 genres with the documented sizes', () => {
    expect(brown.documents).toHaveLength(500);
    expect(brown.genres).toHaveLength(15);
    expect(brown.codes.join('')).toBe('ABCDEFGHJKLMNPR');
    const count = (code: string) => brown.documents.filter((d) => d.code === code).length;
    expect(count('J')).toBe(80);
    expect(count('A')).toBe(44);
    expect(brown.genres[brown.codes.indexOf('J')]).toBe('learned');
    const words = brown.documents.reduce((n, d) => n + d.words.length, 0);
    expect(words).toBe(1161192);
    expect(brown.documents[0].words.slice(0, 4)).toEqual(['The', 'Fulton', 'County', 'Grand']);
  });

  test('genres resolve by name or letter; unknown genres are named', () => {
    expect(genreIndex(brown, 'learned')).toBe(genreIndex(brown, 'J'));
    expect(genreIndex(brown, 'j')).toBe(8);
    expectValidation(() => genreIndex(brown, 'poetry'), 'targetGenre', /Unknown genre "poetry".*J \(learned\)/);
  });

  test('the split holds out the target share of the target genre and a slice of every other genre, disjointly', () => {
    const docs = brown.documents.map((d) => ({ id: d.id, group: brown.codes.indexOf(d.code) }));
    const target = genreIndex(brown, 'J');
    const s = splitDocuments(docs, { target, targetFraction: 0.2, evalFraction: 0.1, seed: 1 });
    expect(s.target).toHaveLength(16);
    expect(s.target.every((i) => docs[i].group === target)).toBe(true);
    expect(s.heldOut.every((i) => docs[i].group !== target)).toBe(true);
    const all = [...s.train, ...s.target, ...s.heldOut];
    expect(new Set(all).size).toBe(500);
    for (let g = 0; g < 15; g++) {
      if (g === target) continue;
      const n = docs.filter((d) => d.group === g).length;
      const held = s.heldOut.filter((i) => docs[i].group === g).length;
      expect(held).toBe(Math.min(n - 1, Math.max(1, Math.round(0.1 * n))));
    }
    // seeded: same seed same split, another seed another one
    expect(splitDocuments(docs, { target, targetFraction: 0.2, evalFraction: 0.1, seed: 1 })).toEqual(s);
    expect(splitDocuments(docs, { target, targetFraction: 0.2, evalFraction: 0.1, seed: 2 }).target).not.toEqual(s.target);
  });

  test('prepareDemoData: vocabulary from training documents only; packed sequences conserve every training token', () => {
    const d = prepareDemoData({ vocabSize: 500 }, brown);
    expect(d.vocab.words).toHaveLength(500);
    expect(d.vocab.words.slice(0, 4)).toEqual(['<eos>', '<unk>', 'the', ',']);
    const trainWords = d.split.train.reduce((n, i) => n + brown.documents[i].words.length, 0);
    expect(d.train.tokens.ids.length).toBe(trainWords + d.split.train.length); // + one <eos> per document
    expect(d.train.set.tokens.reduce((a, b) => a + b, 0)).toBe(d.train.tokens.ids.length);
    expect(d.train.set.numGroups).toBe(15);
    expect(d.train.set.groupNames).toEqual(brown.genres);
    expect(d.targetSet.groups.every((g) => g === d.target)).toBe(true);
    expect(d.targetSet.tokens.ids.length).toBeLessThanOrEqual(32768);
    expect(new Set(d.heldOut.groups).size).toBe(14);
    expect(d.coverage).toBeGreaterThan(0.6);
    expect(d.coverage).toBeLessThan(1);
    // none of the target or held-out documents is in the training part
    const train = new Set(d.docIds.train);
    expect([...d.docIds.target, ...d.docIds.heldOut].some((id) => train.has(id))).toBe(false);
  });
});

describe('tokenizer', () => {
  test('raw text splits into lowercase words and punctuation', () => {
    expect(tokenizeText("The jury's over-all charge, 3.5 days (approx.)!")).toEqual([
      'the', "jury's", 'over-all', 'charge', ',', '3.5', 'days', '(', 'approx', '.', ')', '!',
    ]);
    expect(tokenizeText('')).toEqual([]);
  });

  test('Brown word/tag pairs keep the word, which may itself hold a slash', () => {
    expect(parseTagged('\n\tThe/at 1/2/cd ./.\n')).toEqual(['The', '1/2', '.']);
  });

  test('the vocabulary ranks by count then word; unknown words map to <unk>', () => {
    const v = buildVocabulary([['b', 'a', 'c', 'a'], ['b', 'd', '<eos>']], 4);
    expect(v.words).toEqual(['<eos>', '<unk>', 'a', 'b']);
    expect(Array.from(encode(v, ['a', 'c', 'b', 'zzz']))).toEqual([2, UNK_ID, 3, UNK_ID]);
    expectValidation(() => buildVocabulary([], 2), 'vocabSize', /integer >= 3 for `vocabSize`/);
  });
});

describe('packing', () => {
  function randomDocs(rng: Rng, n: number, K: number): PackInput[] {
    return Array.from({ length: n }, () => ({
      ids: Uint32Array.from({ length: rng.int(0, 40) }, () => rng.int(2, 99)),
      group: rng.int(0, K - 1),
    }));
  }

  test('tokens are conserved, sequences hold at most L tokens, segments map back to their documents', () => {
    for (let trial = 0; trial < 30; trial++) {
      const rng = new Rng(trial);
      const K = rng.int(1, 5);
      const L = rng.int(1, 50);
      const docs = randomDocs(rng, rng.int(1, 30), K);
      const cross = trial % 2 === 0;
      const p = packDocuments(docs, { seqLength: L, numGroups: K, numBins: rng.int(1, 6), crossDocuments: cross });
      validateSequenceSet(p.set);
      const { ids, offsets } = p.tokens;
      const M = offsets.length - 1;
      expect(Number(p.set.offsets[M])).toBe(p.segmentDoc.length);
      // the token stream is the documents each followed by <eos>
      const stream = docs.flatMap((d) => [...d.ids, EOS_ID]);
      expect(Array.from(ids)).toEqual(stream);
      let pos = 0;
      const consumed = new Array<number>(docs.length).fill(0);
      for (let s = 0; s < M; s++) {
        const len = offsets[s + 1] - offsets[s];
        expect(len).toBeGreaterThan(0);
        expect(len).toBeLessThanOrEqual(L);
        if (cross && s < M - 1) expect(len).toBe(L);
        let segSum = 0;
        for (let k = Number(p.set.offsets[s]); k < Number(p.set.offsets[s + 1]); k++) {
          const doc = docs[p.segmentDoc[k]];
          expect(p.set.group[k]).toBe(doc.group);
          // the segment's tokens are a contiguous piece of its document (+ <eos>)
          const piece = Array.from(ids.subarray(pos, pos + p.set.tokens[k]));
          const full = [...doc.ids, EOS_ID];
          const from = consumed[p.segmentDoc[k]];
          expect(piece).toEqual(full.slice(from, from + piece.length));
          expect(p.set.tokens[k]).toBe(piece.length);
          consumed[p.segmentDoc[k]] += piece.length;
          pos += p.set.tokens[k];
          segSum += p.set.tokens[k];
        }
        expect(segSum).toBe(len);
        if (!cross) expect(Number(p.set.offsets[s + 1]) - Number(p.set.offsets[s])).toBe(1);
        expect(p.sequenceGroup[s]).toBe(p.set.group[Number(p.set.offsets[s])]);
      }
      // per document, segment tokens add up to its length + 1
      const perDoc = new Array(docs.length).fill(0);
      p.segmentDoc.forEach((d, k) => (perDoc[d] += p.set.tokens[k]));
      expect(perDoc).toEqual(docs.map((d) => d.ids.length + 1));
    }
  });

  test('a hand-made case: L = 4, documents of 2 and 6 tokens', () => {
    const p = packDocuments(
      [
        { ids: Uint32Array.of(5, 6), group: 1 },
        { ids: Uint32Array.of(7, 8, 9, 10, 11, 12), group: 0 },
      ],
      { seqLength: 4, numGroups: 2, numBins: 1 },
    );
    expect(Array.from(p.tokens.offsets)).toEqual([0, 4, 8, 10]);
    expect(Array.from(p.tokens.ids)).toEqual([5, 6, 0, 7, 8, 9, 10, 11, 12, 0]);
    expect(Array.from(p.set.offsets, Number)).toEqual([0, 2, 3, 4]);
    expect(Array.from(p.set.group)).toEqual([1, 0, 0, 0]);
    expect(Array.from(p.set.tokens)).toEqual([3, 1, 4, 2]);
    expect(Array.from(p.segmentDoc)).toEqual([0, 1, 1, 1]);
  });

  test('subsetSequences copies the chosen sequences in order', () => {
    const seqs = { ids: Uint32Array.of(1, 2, 3, 4, 5, 6), offsets: Uint32Array.of(0, 2, 3, 6) };
    const sub = subsetSequences(seqs, [2, 0]);
    expect(Array.from(sub.ids)).toEqual([4, 5, 6, 1, 2]);
    expect(Array.from(sub.offsets)).toEqual([0, 3, 5]);
  });

  test('bad input is named', () => {
    const docs = [{ ids: Uint32Array.of(2), group: 0 }];
    expectValidation(() => packDocuments(docs, { seqLength: 0, numGroups: 1, numBins: 1 }), 'seqLength', /positive integer for `seqLength`/);
    expectValidation(() => packDocuments([], { seqLength: 4, numGroups: 1, numBins: 1 }), 'docs', /nonempty/);
    expectValidation(() => packDocuments([{ ids: Uint32Array.of(2), group: 3 }], { seqLength: 4, numGroups: 2, numBins: 1 }), 'docs[0].group', /out of range/);
    expectValidation(() => packDocuments([{ ids: [2] as never, group: 0 }], { seqLength: 4, numGroups: 1, numBins: 1 }), 'docs[0].ids', /Uint32Array/);
    expectValidation(
      () => splitDocuments([{ id: 'a', group: 0 }, { id: 'b', group: 0 }], { target: 0, targetFraction: 1.5, evalFraction: 0.1, seed: 0 }),
      'targetFraction',
      /\(0, 1\) for `targetFraction`/,
    );
    expectValidation(() => prepareDemoData({ vocabSize: 2 }), 'vocabSize', /vocabSize/);
  });
});
