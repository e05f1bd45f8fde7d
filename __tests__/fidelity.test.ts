/**
 * The fidelity report against a direct computation over every prefix.
 */
import { generateCorpus } from '../bench/generate';
import { binding } from '../lib/binding';
import { fidelityReport } from '../lib/fidelity';
import { computeLengthBins, type SequenceSet } from '../lib/io/sequences';
import { scheduleSync } from '../lib/scheduler';
import { corpusShares, randomInstance, randomMixture, toNumbers } from './reference/naive-scheduler';

/** Every prefix, every group: max |T_j - tau_j S|, L1 at the checkpoints, final ratios. */
function direct(set: SequenceSet, order: number[], mixture: Float64Array, checkpoints: number) {
  const K = set.numGroups;
  const T = new Array(K).fill(0);
  const maxDev = new Array(K).fill(0);
  let total = 0;
  for (const s of order) for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) total += set.tokens[i];
  const l1: number[] = [];
  let S = 0;
  let next = 1;
  for (const s of order) {
    // before adding: deviation at the end of the constant stretch
    for (let j = 0; j < K; j++) maxDev[j] = Math.max(maxDev[j], Math.abs(T[j] - mixture[j] * S));
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) {
      T[set.group[i]] += set.tokens[i];
      S += set.tokens[i];
    }
    for (let j = 0; j < K; j++) maxDev[j] = Math.max(maxDev[j], Math.abs(T[j] - mixture[j] * S));
    while (next <= checkpoints && S * checkpoints >= total * next) {
      l1.push(T.reduce((a, t, j) => a + Math.abs(t / S - mixture[j]), 0));
      next++;
    }
  }
  const finalRatio = T.map((t, j) => (mixture[j] > 0 ? t / (mixture[j] * S) : null));
  return { maxDev, l1, finalRatio };
}

describe('fidelityReport', () => {
  test.each([1, 2, 3, 4, 5, 6])('matches the direct computation (instance %i)', (seed) => {
    const set = randomInstance({ numSequences: 60, numGroups: 7, numBins: 4, seed: 300 + seed });
    const mixture = seed % 2 ? corpusShares(set) : randomMixture(7, seed);
    const order = toNumbers(scheduleSync(set, { mixture, budget: seed % 3 ? undefined : 500 }).order);
    const rep = fidelityReport(set, Uint32Array.from(order), mixture, { checkpoints: 10 });
    const d = direct(set, order, mixture, 10);
    rep.greedy.maxGroupDeviation.forEach((v, j) => expect(v).toBeCloseTo(d.maxDev[j], 6));
    expect(rep.greedy.checkpointL1.length).toBe(10);
    rep.greedy.checkpointL1.forEach((v, i) => expect(v).toBeCloseTo(d.l1[i], 9));
    rep.greedy.finalRatio.forEach((v, j) => (d.finalRatio[j] === null ? expect(v).toBeNull() : expect(v).toBeCloseTo(d.finalRatio[j] as number, 9)));
    expect(rep.greedy.sequences).toBe(order.length);
  });

  test('the greedy order tracks the mixture far better than a shuffle, and the shuffle is seeded', () => {
    const c = generateCorpus({ numSequences: 4000, numGroups: 50, seed: 9 });
    const { bin } = computeLengthBins(c.docLength, c.tokens, 16);
    const set: SequenceSet = { offsets: c.offsets, group: c.group, bin, tokens: c.tokens, numGroups: 50, numBins: 16 };
    const r = scheduleSync(set, { budget: 4_000_000 });
    const a = fidelityReport(set, r.order, r.mixture, { shuffleSeed: 3 });
    const b = fidelityReport(set, r.order, r.mixture, { shuffleSeed: 3 });
    const other = fidelityReport(set, r.order, r.mixture, { shuffleSeed: 4 });
    expect(a.greedy.worstGroup.deviation * 10).toBeLessThan(a.shuffle.worstGroup.deviation);
    expect(a.greedy.checkpointL1[9]).toBeLessThan(a.shuffle.checkpointL1[9]);
    expect(a.shuffle).toEqual(b.shuffle);
    expect(other.shuffle.maxGroupDeviation).not.toEqual(a.shuffle.maxGroupDeviation);
    // the shuffle is cut at the same token count
    expect(Math.abs(a.shuffle.tokens - a.greedy.tokens)).toBeLessThan(2048);
    expect(a.summary).toMatch(/^\d+ sequences, \d+ tokens; final group\/target ratios/);
  });

  test('the native shuffle is a permutation', () => {
    const p = toNumbers(binding().shuffle(1000, 7));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  test('out-of-range order indices are rejected', () => {
    const set = randomInstance({ numSequences: 10, numGroups: 3, numBins: 2, seed: 1 });
    expect(() => fidelityReport(set, Uint32Array.from([0, 10]), corpusShares(set))).toThrow(/order\[1\] = 10 is out of range/);
  });
});
