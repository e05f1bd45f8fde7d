/**
 * Time-varying targets (a curriculum's target table) in the scheduler: the fast
 * search, the brute force and the naive BigInt reference must give the same
 * order on 240 seeded instances with random tables (coarse, fine with merged
 * cells, geometric grids; zero-probability groups), mixed lengths, both
 * objectives, lambda in {0, 0.3, 1}, budgets and resume prefixes. Also checks
 * the integer cells the addon builds, and bad tables.
 */
import { binding, type TargetTable } from '../lib/binding';
import type { SequenceSet } from '../lib/io/sequences';
import { fidelityReport } from '../lib/fidelity';
import type { Curriculum } from '../lib/curriculum/curriculum';
import { targetTable } from '../lib/curriculum/targets';
import { schedule, scheduleBruteForceSync, scheduleSync, shiftTable, type ScheduleOptions } from '../lib/scheduler';
import {
  Rng,
  naiveSchedule,
  nativeTargets,
  randomInstance,
  randomMixture,
  sequenceTokens,
  toNumbers,
  totalTokens,
  type NaiveOptions,
} from './reference/naive-scheduler';
import { expectValidation } from './helpers/expect-errors';

type GridKind = 'coarse' | 'fine' | 'geometric';

/**
 * A random table over [0, end]: per interval a random mixture (some groups at
 * zero), so E is exactly piecewise linear on the grid.
 */
function randomTable(K: number, end: number, kind: GridKind, seed: number, maxLen: number): TargetTable {
  const rng = new Rng(seed * 104729 + 3);
  const pts = new Set<number>([0, end]);
  const n = kind === 'coarse' ? rng.int(0, 3) : rng.int(5, 30);
  for (let i = 0; i < n; i++) {
    let x: number;
    if (kind === 'geometric') x = Math.round(end * Math.pow(2, -rng.int(1, 20)));
    else if (kind === 'fine' && rng.next() < 0.5) x = Math.round(rng.next() * Math.min(end, 4 * maxLen)); // narrower than a sequence
    else x = Math.round(rng.next() * end);
    if (x > 0 && x < end) pts.add(x);
  }
  const tokens = Float64Array.from([...pts].sort((a, b) => a - b));
  const G = tokens.length;
  const cumulative = new Float64Array(G * K);
  for (let g = 1; g < G; g++) {
    const p = randomMixture(K, seed * 31 + g);
    const w = tokens[g] - tokens[g - 1];
    for (let k = 0; k < K; k++) cumulative[g * K + k] = cumulative[(g - 1) * K + k] + p[k] * w;
  }
  return { tokens, cumulative };
}

interface Spec {
  id: number;
  M: number;
  K: number;
  B: number;
  seqLength: number;
  grid: GridKind;
  objective: 'sos' | 'norm';
  lambda: number;
  extra: 'none' | 'budget' | 'resume' | 'resume+budget';
  brute: boolean;
}

function makeSpec(id: number): Spec {
  const rng = new Rng(7_000_003 * (id + 1));
  const K = rng.next() < 0.5 ? rng.int(1, 12) : rng.int(13, 64);
  const lr = rng.next();
  return {
    id,
    M: rng.int(20, K > 30 ? 80 : 110),
    K,
    B: rng.int(1, 12),
    seqLength: lr < 0.6 ? 2048 : lr < 0.8 ? 256 : lr < 0.9 ? 12 : 1 << 24,
    grid: (['coarse', 'fine', 'geometric'] as const)[id % 3],
    objective: id % 2 === 0 ? 'sos' : 'norm',
    lambda: [0, 0.3, 1][Math.floor(id / 6) % 3],
    extra: (['none', 'budget', 'resume', 'resume+budget'] as const)[Math.floor(id / 18) % 4],
    brute: id % 5 === 0,
  };
}

function orderTokens(set: SequenceSet, order: number[]): number {
  return order.reduce((a, s) => a + sequenceTokens(set, s), 0);
}

function maxLength(set: SequenceSet): number {
  let m = 0;
  for (let s = 0; s + 1 < set.offsets.length; s++) m = Math.max(m, sequenceTokens(set, s));
  return m;
}

function runSpec(spec: Spec): void {
  const set = randomInstance({ numSequences: spec.M, numGroups: spec.K, numBins: spec.B, seed: 50_000 + spec.id, seqLength: spec.seqLength });
  const total = totalTokens(set);
  const rng = new Rng(spec.id * 17 + 1);
  // the table ends exactly at the corpus size, or well beyond it
  const end = rng.next() < 0.5 ? total : total + rng.int(1, 3 * maxLength(set));
  const table = randomTable(spec.K, end, spec.grid, spec.id, maxLength(set));
  const base: NaiveOptions = { lambda: spec.lambda, objective: spec.objective };

  const fullRef = naiveSchedule(set, base, nativeTargets(set, table, total)).order;
  const r = spec.extra.startsWith('resume') ? rng.int(1, Math.min(spec.M - 1, 12)) : 0;
  const resume = fullRef.slice(0, r);
  const left = total - orderTokens(set, resume);
  const budget = spec.extra.endsWith('budget') ? rng.int(1, left) : undefined;
  const needed = orderTokens(set, resume) + (budget ?? left);
  const opts: NaiveOptions = { ...base, ...(r ? { resume } : {}), ...(budget !== undefined ? { budget } : {}) };
  const expected = naiveSchedule(set, opts, nativeTargets(set, table, needed));
  if (budget === undefined) expect(expected.order).toEqual(fullRef.slice(r));

  const api: ScheduleOptions = {
    lambda: spec.lambda,
    objective: spec.objective,
    targets: table,
    ...(r ? { resume: Uint32Array.from(resume) } : {}),
    ...(budget !== undefined ? { budget } : {}),
  };
  const fast = scheduleSync(set, api);
  expect(toNumbers(fast.order)).toEqual(expected.order);
  expect(fast.tokens).toBe(expected.tokens);
  expect(fast.targets).toEqual(table);
  expect(toNumbers(scheduleSync(set, { ...api, threads: 1 }).order)).toEqual(expected.order);
  if (spec.brute) expect(toNumbers(scheduleBruteForceSync(set, api).order)).toEqual(expected.order);
}

const SPECS = Array.from({ length: 240 }, (_, i) => makeSpec(i));

describe('scheduleSync with a target table === naive reference (240 seeded instances)', () => {
  test('the plan covers grids, objectives, lambdas and extras', () => {
    for (const g of ['coarse', 'fine', 'geometric']) expect(SPECS.filter((s) => s.grid === g).length).toBeGreaterThanOrEqual(60);
    for (const l of [0, 0.3, 1]) for (const o of ['sos', 'norm']) expect(SPECS.filter((s) => s.lambda === l && s.objective === o).length).toBeGreaterThanOrEqual(30);
    for (const e of ['none', 'budget', 'resume', 'resume+budget']) expect(SPECS.filter((s) => s.extra === e).length).toBeGreaterThanOrEqual(54);
  });
  test.each(SPECS.map((s) => [`#${s.id} M=${s.M} K=${s.K} B=${s.B} L=${s.seqLength} ${s.grid} ${s.objective} lambda=${s.lambda} ${s.extra}`, s] as const))(
    '%s',
    (_label, spec) => runSpec(spec),
  );
});

describe('integer target cells', () => {
  const set = randomInstance({ numSequences: 60, numGroups: 9, numBins: 5, seed: 4242 });
  const total = totalTokens(set);
  const maxLen = maxLength(set);

  test.each([0, 1, 2, 3, 4, 5])('rates sum to 2^bits, cells are wide enough, bases track the table (seed %i)', (seed) => {
    const table = randomTable(9, total, (['coarse', 'fine', 'geometric'] as const)[seed % 3], 900 + seed, maxLen);
    const t = binding().targets(set, table);
    const P = 2n ** BigInt(t.bits);
    const cells = t.cellStart.length;
    expect(t.cellStart[0]).toBe(0);
    for (let g = 0; g < cells; g++) {
      let sg = 0n;
      let sb = 0n;
      for (let k = 0; k < 9; k++) {
        expect(t.group[g * 9 + k]).toBeGreaterThanOrEqual(0n);
        sg += t.group[g * 9 + k];
      }
      for (let b = 0; b < 5; b++) sb += t.bin[g * 5 + b];
      expect(sg).toBe(P);
      expect(sb).toBe(P);
      if (g + 1 < cells) expect(t.cellStart[g + 1] - t.cellStart[g]).toBeGreaterThanOrEqual(maxLen);
      if (g > 0) {
        // every cell start is a grid point; the integer base is within one rate unit per token of the table
        const gi = Array.from(table.tokens).indexOf(t.cellStart[g]);
        expect(gi).toBeGreaterThan(0);
        const width = t.cellStart[g] - t.cellStart[g - 1];
        for (let k = 0; k < 9; k++) {
          const base = Number(t.groupBase[g * 9 + k]) / Number(P);
          expect(Math.abs(base - table.cumulative[gi * 9 + k])).toBeLessThanOrEqual(width / Number(P) + 1e-6 * t.cellStart[g]);
        }
      }
    }
  });

  test('a fixed mixture is one cell starting at 0 with zero bases', () => {
    const t = binding().targets(set, randomMixture(9, 3));
    expect(Array.from(t.cellStart)).toEqual([0]);
    expect(Array.from(t.groupBase).every((x) => x === 0n)).toBe(true);
  });
});

describe('bad target tables', () => {
  const set = randomInstance({ numSequences: 30, numGroups: 4, numBins: 3, seed: 77 });
  const total = totalTokens(set);
  const good = (): TargetTable => randomTable(4, total, 'coarse', 5, maxLength(set));
  const run = (targets: TargetTable, extra: Partial<ScheduleOptions> = {}) => () => scheduleSync(set, { targets, ...extra });

  test('a good table schedules the whole corpus', () => {
    expect(scheduleSync(set, { targets: good() }).order.length).toBe(30);
  });
  test('both a mixture and a table', () => {
    expectValidation(run(good(), { mixture: randomMixture(4, 1) }), 'targets', /one of `mixture`, `curriculum` or `targets`/);
  });
  test('fewer than two grid points', () => {
    expectValidation(run({ tokens: new Float64Array([0]), cumulative: new Float64Array(4) }), 'targets.tokens', /at least 2 grid points/);
  });
  test('cumulative of the wrong length', () => {
    const t = good();
    expectValidation(run({ tokens: t.tokens, cumulative: t.cumulative.subarray(1) }), 'targets.cumulative', /grid points x groups/);
  });
  test('a grid not starting at 0', () => {
    const t = good();
    t.tokens[0] = 5;
    expectValidation(run(t), 'targets', /targets\.tokens\[0\] must be 0 but is 5/);
  });
  test('a grid that is not strictly increasing', () => {
    const t = { tokens: new Float64Array([0, 10, 10, total]), cumulative: new Float64Array(16) };
    expectValidation(run(t), 'targets', /strictly increasing but tokens\[2\] = 10/);
  });
  test('a fractional grid point', () => {
    const t = good();
    t.tokens[t.tokens.length - 1] += 0.5;
    expectValidation(run(t), 'targets', /targets\.tokens\[\d+\] must be a non-negative integer but is \d+\.5/);
  });
  test('NaN and negative cumulative targets', () => {
    const t = good();
    t.cumulative[5] = NaN;
    expectValidation(run(t), 'targets', /targets\.cumulative\[5\] must be finite and >= 0 but is nan/i);
    const u = good();
    u.cumulative[6] = -1;
    expectValidation(run(u), 'targets', /targets\.cumulative\[6\] must be finite and >= 0 but is -1/);
  });
  test('a decreasing cumulative target', () => {
    const t = { tokens: new Float64Array([0, total / 2, total]).map(Math.round), cumulative: new Float64Array(12) };
    const [a, b] = [t.tokens[1], t.tokens[2]];
    t.cumulative.set([a, 0, 0, 0], 4);
    t.cumulative.set([a - 1, b - a + 1, 0, 0], 8);
    expectValidation(run(t), 'targets', /non-decreasing in tokens, but group 0 falls/);
  });
  test('rows that do not sum to the grid point', () => {
    const t = good();
    t.cumulative[t.cumulative.length - 1] += 10;
    expectValidation(run(t), 'targets', /targets\.cumulative row \d+ sums to/);
  });
  test('a table that ends before the schedule does', () => {
    const short = randomTable(4, Math.floor(total / 2), 'coarse', 9, maxLength(set));
    expectValidation(run(short), 'targets', /targets\.tokens ends at \d+ tokens but the schedule reaches \d+ tokens/);
  });
});

describe('fidelity report against a target table', () => {
  /** E_k(S) by linear interpolation of the table (clamped slope past the end). */
  function tableE(t: TargetTable, K: number, k: number, S: number): number {
    const G = t.tokens.length;
    let g = 0;
    while (g + 2 < G && t.tokens[g + 1] <= S) g++;
    const x0 = t.tokens[g];
    const x1 = t.tokens[g + 1];
    const e0 = t.cumulative[g * K + k];
    const e1 = t.cumulative[(g + 1) * K + k];
    return e0 + ((e1 - e0) * (S - x0)) / (x1 - x0);
  }

  test.each([1, 2, 3, 4])('max |T_j - E_j(S)| and L1 match a direct computation (seed %i)', (seed) => {
    const K = 6;
    const set = randomInstance({ numSequences: 70, numGroups: K, numBins: 4, seed: 8800 + seed });
    const total = totalTokens(set);
    const maxLen = maxLength(set);
    // grid spacing at least the longest sequence, so no cells are merged
    const n = Math.max(1, Math.min(5, Math.floor(total / maxLen) - 1));
    const tokens = Float64Array.from({ length: n + 1 }, (_, g) => (g === n ? total : g * maxLen * Math.floor(total / maxLen / n)));
    const cumulative = new Float64Array((n + 1) * K);
    for (let g = 1; g <= n; g++) {
      const p = randomMixture(K, seed * 13 + g);
      for (let k = 0; k < K; k++) cumulative[g * K + k] = cumulative[(g - 1) * K + k] + p[k] * (tokens[g] - tokens[g - 1]);
    }
    const table = { tokens, cumulative };
    const r = scheduleSync(set, { targets: table });
    const rep = fidelityReport(set, r.order, table, { checkpoints: 4 });
    const T = new Array<number>(K).fill(0);
    const maxDev = new Array<number>(K).fill(0);
    let S = 0;
    const l1: number[] = [];
    let next = 1;
    for (const s of toNumbers(r.order)) {
      for (let k = 0; k < K; k++) maxDev[k] = Math.max(maxDev[k], Math.abs(T[k] - tableE(table, K, k, S)));
      for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) T[set.group[i]] += set.tokens[i];
      S += sequenceTokens(set, s);
      for (let k = 0; k < K; k++) maxDev[k] = Math.max(maxDev[k], Math.abs(T[k] - tableE(table, K, k, S)));
      while (next <= 4 && S * 4 >= total * next) {
        l1.push(T.reduce((a, t, k) => a + Math.abs(t - tableE(table, K, k, S)), 0) / S);
        next++;
      }
    }
    rep.greedy.maxGroupDeviation.forEach((v, k) => expect(Math.abs(v - maxDev[k])).toBeLessThan(1e-3));
    rep.greedy.checkpointL1.forEach((v, i) => expect(Math.abs(v - l1[i])).toBeLessThan(1e-9));
    // early on the greedy order follows the table better than a shuffle (at the end both hold the whole corpus)
    expect(rep.greedy.checkpointL1[0]).toBeLessThan(rep.shuffle.checkpointL1[0]);
  });
});

describe('offset without a resume order continues a curriculum', () => {
  const K = 3;
  const set = randomInstance({ numSequences: 40, numGroups: K, numBins: 2, seed: 5150 });
  const total = totalTokens(set);
  // first `total` tokens all group 0, then all group 1 (never group 2)
  const table: TargetTable = {
    tokens: Float64Array.of(0, total, 3 * total),
    cumulative: Float64Array.of(0, 0, 0, total, 0, 0, total, 2 * total, 0),
  };

  test('shiftTable cuts the table at the offset and rebases it', () => {
    const s = shiftTable(table, K, total / 2);
    expect(Array.from(s.tokens)).toEqual([0, total / 2, 2.5 * total]);
    expect(Array.from(s.cumulative)).toEqual([0, 0, 0, total / 2, 0, 0, total / 2, 2 * total, 0]);
  });

  test('the order equals the reference run on the shifted table', () => {
    const offset = Math.round(total * 1.5);
    const r = scheduleSync(set, { targets: table, offset });
    const ref = naiveSchedule(set, {}, nativeTargets(set, shiftTable(table, K, offset)));
    expect(toNumbers(r.order)).toEqual(ref.order);
    // past the switch, the first half of the order leans to group 1 over group 0
    const tokensOf = (g: number, seqs: number[]) =>
      seqs.reduce((a, s) => {
        for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) if (set.group[i] === g) a += set.tokens[i];
        return a;
      }, 0);
    const half = toNumbers(r.order).slice(0, 20);
    expect(tokensOf(1, half)).toBeGreaterThan(tokensOf(0, half));
  });

  test('an offset at or past the end of the table is an error naming offset', () => {
    expectValidation(() => scheduleSync(set, { targets: table, offset: 3 * total }), 'offset', /`offset` < \d+/);
  });
});

describe('a curriculum as the scheduler input', () => {
  const K = 5;
  const set = randomInstance({ numSequences: 50, numGroups: K, numBins: 3, seed: 6161 });
  const total = totalTokens(set);
  const logits = new Float64Array(2 * K);
  for (let k = 0; k < K; k++) {
    logits[k] = k % 2 ? 1 : -1;
    logits[K + k] = k % 2 ? -1 : 1;
  }
  const curriculum: Curriculum = { groups: K, s: Float64Array.of(Math.log(total / 10), Math.log(total)), logits };

  test('scheduleSync and schedule build its table and follow it exactly', async () => {
    const table = targetTable(curriculum, total);
    const expected = naiveSchedule(set, {}, nativeTargets(set, table)).order;
    expect(toNumbers(scheduleSync(set, { curriculum }).order)).toEqual(expected);
    expect(toNumbers((await schedule(set, { curriculum })).order)).toEqual(expected);
  });

  test('a curriculum with the wrong number of groups, or with a mixture too, is rejected by name', () => {
    const wrong: Curriculum = { groups: 4, s: Float64Array.of(1), logits: new Float64Array(4) };
    expect(() => scheduleSync(set, { curriculum: wrong })).toThrow(/curriculum/);
    expectValidation(() => scheduleSync(set, { curriculum, mixture: randomMixture(K, 1) }), 'targets', /one of `mixture`, `curriculum` or `targets`/);
  });
});
