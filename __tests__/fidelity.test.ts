/**
 * The fidelity report against a direct computation over every prefix.
 */
import { generateCorpus } from '../bench/generate';
import { binding } from '../lib/binding';
import { ValidationError } from '../lib/errors';
import { fidelityReport, type OrderFidelity } from '../lib/fidelity';
import { computeLengthBins, type SequenceSet } from '../lib/io/sequences';
import { scheduleSync } from '../lib/scheduler';
import { Rng, corpusShares, randomInstance, randomMixture, toNumbers, totalTokens } from './reference/naive-scheduler';

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

// ---------------------------------------------------------------------------
// Every number of the report, for both the order and the shuffle

/** Every prefix (sequence boundaries, the empty one included) of `order`, computed directly. */
function fullDirect(set: SequenceSet, order: number[], mixture: ArrayLike<number>, binShare: ArrayLike<number>, checkpoints: number) {
  const K = set.numGroups;
  const B = set.numBins;
  const T = new Array<number>(K).fill(0);
  const U = new Array<number>(B).fill(0);
  const groupMax = new Array<number>(K).fill(0);
  const binMax = new Array<number>(B).fill(0);
  const prefixes: { S: number; T: number[] }[] = [{ S: 0, T: T.slice() }];
  let S = 0;
  for (const s of order) {
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) {
      T[set.group[i]] += set.tokens[i];
      U[set.bin[i]] += set.tokens[i];
      S += set.tokens[i];
    }
    for (let j = 0; j < K; j++) groupMax[j] = Math.max(groupMax[j], Math.abs(T[j] - mixture[j] * S));
    for (let b = 0; b < B; b++) binMax[b] = Math.max(binMax[b], Math.abs(U[b] - binShare[b] * S));
    prefixes.push({ S, T: T.slice() });
  }
  // checkpoint c (1..C): the first prefix holding at least c/C of the tokens
  const cpTokens: number[] = [];
  const cpL1: number[] = [];
  for (let c = 1; c <= checkpoints; c++) {
    const p = prefixes.find((x) => x.S > 0 && x.S * checkpoints >= S * c);
    if (!p) continue;
    cpTokens.push(p.S);
    cpL1.push(p.T.reduce((a, t, j) => a + Math.abs(t / p.S - mixture[j]), 0));
  }
  const finalRatio = T.map((t, j) => (mixture[j] > 0 && S > 0 ? t / (mixture[j] * S) : null));
  let worst = 0;
  for (let j = 1; j < K; j++) if (groupMax[j] > groupMax[worst]) worst = j;
  return { sequences: order.length, tokens: S, groupMax, binMax, cpTokens, cpL1, finalRatio, worst };
}

function close(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

function expectMatches(rep: OrderFidelity, d: ReturnType<typeof fullDirect>): void {
  expect(rep.sequences).toBe(d.sequences);
  expect(rep.tokens).toBe(d.tokens);
  expect(rep.maxGroupDeviation.length).toBe(d.groupMax.length);
  rep.maxGroupDeviation.forEach((v, j) => close(v, d.groupMax[j]));
  expect(rep.maxBinDeviation.length).toBe(d.binMax.length);
  rep.maxBinDeviation.forEach((v, b) => close(v, d.binMax[b]));
  expect(rep.checkpointTokens).toEqual(d.cpTokens);
  expect(rep.checkpointL1.length).toBe(d.cpL1.length);
  rep.checkpointL1.forEach((v, i) => close(v, d.cpL1[i]));
  expect(rep.finalRatio.length).toBe(d.finalRatio.length);
  rep.finalRatio.forEach((v, j) => {
    const e = d.finalRatio[j];
    if (e === null) expect(v).toBeNull();
    else close(v as number, e);
  });
  expect(rep.worstGroup.group).toBe(d.worst);
  close(rep.worstGroup.deviation, d.groupMax[d.worst]);
}

/** The shortest prefix of the native seeded shuffle holding at least `tokens` tokens. */
function shufflePrefix(set: SequenceSet, seed: number, tokens: number): number[] {
  const perm = toNumbers(binding().shuffle(set.offsets.length - 1, seed));
  const out: number[] = [];
  let t = 0;
  for (const s of perm) {
    if (t >= tokens) break;
    out.push(s);
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) t += set.tokens[i];
  }
  return out;
}

describe('fidelityReport: every field against a direct computation over every prefix', () => {
  const cases = Array.from({ length: 24 }, (_, i) => {
    const rng = new Rng(8800 + i);
    return {
      i,
      M: rng.int(5, 80),
      K: rng.pick([1, 2, 5, 12, 30]),
      B: rng.int(1, 9),
      random: i % 2 === 1,
      kind: (['greedy', 'greedy+budget', 'reversed', 'partial'] as const)[i % 4],
      checkpoints: rng.pick([1, 3, 10, 17, 200]),
      shuffleSeed: rng.int(0, 1e6),
    };
  });

  test.each(cases)('#$i M=$M K=$K B=$B random=$random $kind checkpoints=$checkpoints', (c) => {
    const set = randomInstance({ numSequences: c.M, numGroups: c.K, numBins: c.B, seed: 8800 + c.i });
    const mixture = c.random ? randomMixture(c.K, c.i) : corpusShares(set);
    let order: number[];
    if (c.kind === 'greedy') order = toNumbers(scheduleSync(set, { mixture }).order);
    else if (c.kind === 'greedy+budget') order = toNumbers(scheduleSync(set, { mixture, budget: Math.ceil(totalTokens(set) / 3) }).order);
    else if (c.kind === 'reversed') order = Array.from({ length: c.M }, (_, s) => c.M - 1 - s);
    else order = Array.from({ length: Math.ceil(c.M / 2) }, (_, s) => (s * 7) % c.M).filter((s, k, a) => a.indexOf(s) === k);

    const { binShare } = binding().targets(set, mixture);
    const rep = fidelityReport(set, Uint32Array.from(order), mixture, { checkpoints: c.checkpoints, shuffleSeed: c.shuffleSeed });
    expect(rep.format).toBe('curricula.fidelity');
    expect(rep.checkpoints).toBe(c.checkpoints);
    expectMatches(rep.greedy, fullDirect(set, order, mixture, binShare, c.checkpoints));

    // the shuffle side: the native seeded permutation cut at the order's token count
    const sp = shufflePrefix(set, c.shuffleSeed, rep.greedy.tokens);
    expectMatches(rep.shuffle, fullDirect(set, sp, mixture, binShare, c.checkpoints));
    expect(rep.shuffle.seed).toBe(c.shuffleSeed);
    expect(rep.shuffle.tokens).toBeGreaterThanOrEqual(rep.greedy.tokens);
  });

  test('a group the mixture leaves out gets finalRatio null; its deviation is its token count', () => {
    const set = randomInstance({ numSequences: 40, numGroups: 4, numBins: 3, seed: 12 });
    const shares = corpusShares(set);
    expect(shares[1]).toBeGreaterThan(0); // the instance does have tokens in group 1
    const mixture = Float64Array.from([shares[0] + shares[1], 0, shares[2], shares[3]]);
    const order = toNumbers(scheduleSync(set, { mixture }).order);
    const rep = fidelityReport(set, Uint32Array.from(order), mixture);
    expect(rep.greedy.finalRatio[1]).toBeNull();
    let inGroup1 = 0;
    for (let i = 0; i < set.tokens.length; i++) if (set.group[i] === 1) inGroup1 += set.tokens[i];
    expect(rep.greedy.maxGroupDeviation[1]).toBe(inGroup1);
  });

  test('checkpoints must be an integer in [1, 1000]', () => {
    const set = randomInstance({ numSequences: 10, numGroups: 3, numBins: 2, seed: 1 });
    for (const checkpoints of [0, 1001, 2.5, NaN]) {
      let e: unknown;
      try {
        fidelityReport(set, Uint32Array.of(0, 1), corpusShares(set), { checkpoints });
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('checkpoints');
      expect((e as Error).message).toContain(String(checkpoints));
    }
  });
});

describe('fidelityReport: greedy vs shuffle on generated corpora', () => {
  test.each([
    [11, 20, 8],
    [12, 80, 16],
  ])('seed %i, K=%i, B=%i: the greedy worst deviations (groups and bins) and L1 beat the shuffle', (seed, K, B) => {
    const c = generateCorpus({ numSequences: 3000, numGroups: K, seed, shortFraction: 0.3 });
    const { bin } = computeLengthBins(c.docLength, c.tokens, B);
    const set: SequenceSet = { offsets: c.offsets, group: c.group, bin, tokens: c.tokens, numGroups: K, numBins: B };
    const r = scheduleSync(set);
    const rep = fidelityReport(set, r.order, r.mixture, { shuffleSeed: seed });
    expect(rep.greedy.worstGroup.deviation).toBeLessThan(rep.shuffle.worstGroup.deviation);
    expect(Math.max(...rep.greedy.maxBinDeviation)).toBeLessThan(Math.max(...rep.shuffle.maxBinDeviation));
    // the whole corpus: both end at the corpus mixture, so compare the early checkpoints
    expect(rep.greedy.checkpointL1[0]).toBeLessThan(rep.shuffle.checkpointL1[0]);
    expect(rep.shuffle.tokens).toBe(rep.greedy.tokens); // a full order and a full shuffle hold the same tokens
  });

  test('the shuffle part is a pure function of the seed', () => {
    const c = generateCorpus({ numSequences: 1500, numGroups: 30, seed: 21 });
    const { bin } = computeLengthBins(c.docLength, c.tokens, 8);
    const set: SequenceSet = { offsets: c.offsets, group: c.group, bin, tokens: c.tokens, numGroups: 30, numBins: 8 };
    const r = scheduleSync(set, { budget: 600_000 });
    const runs = [5, 5, 6].map((shuffleSeed) => fidelityReport(set, r.order, r.mixture, { shuffleSeed }));
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2].greedy).toEqual(runs[0].greedy);
    expect(runs[2].shuffle.maxGroupDeviation).not.toEqual(runs[0].shuffle.maxGroupDeviation);
    expect(toNumbers(binding().shuffle(1500, 5))).toEqual(toNumbers(binding().shuffle(1500, 5)));
    expect(toNumbers(binding().shuffle(1500, 5))).not.toEqual(toNumbers(binding().shuffle(1500, 6)));
    expect(runs[0].shuffle.seed).toBe(5);
  });
});
