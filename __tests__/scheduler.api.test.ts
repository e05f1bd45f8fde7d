/**
 * The public scheduling API: async progress and cancellation, and every bad
 * input failing with an error that names the field and the offending value.
 */
import { generateCorpus } from '../bench/generate';
import { AbortError, CurriculaError, ValidationError } from '../lib/errors';
import { computeLengthBins, type SequenceSet } from '../lib/io/sequences';
import { schedule, scheduleSync, type ScheduleProgress } from '../lib/scheduler';
import { randomInstance, toNumbers, totalTokens } from './reference/naive-scheduler';

function packed(M: number, K: number, seed = 1): SequenceSet {
  const c = generateCorpus({ numSequences: M, numGroups: K, seed });
  const { bin } = computeLengthBins(c.docLength, c.tokens, 16);
  return { offsets: c.offsets, group: c.group, bin, tokens: c.tokens, numGroups: K, numBins: 16 };
}

function clone(set: SequenceSet): SequenceSet {
  return {
    ...set,
    offsets: set.offsets.slice(),
    group: set.group.slice(),
    bin: set.bin.slice(),
    tokens: set.tokens.slice(),
  };
}

/** Runs fn and returns the ValidationError it throws (fails if it throws anything else or nothing). */
function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('async schedule', () => {
  const set = packed(3000, 100);

  test('equals the sync order and reports increasing progress ending at the goal', async () => {
    const seen: ScheduleProgress[] = [];
    const r = await schedule(set, { lambda: 0.5, onProgress: (p) => seen.push(p) });
    expect(toNumbers(r.order)).toEqual(toNumbers(scheduleSync(set, { lambda: 0.5 }).order));
    expect(seen.length).toBeGreaterThan(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i].steps).toBeGreaterThanOrEqual(seen[i - 1].steps);
    const last = seen[seen.length - 1];
    expect(last.steps).toBe(3000);
    expect(last.tokens).toBe(last.goal);
    expect(last.goal).toBe(totalTokens(set));
  });

  test('the budget ends the order at the first prefix holding it', async () => {
    const r = await schedule(set, { budget: 100_000 });
    expect(r.tokens).toBeGreaterThanOrEqual(100_000);
    expect(r.tokens - 2048).toBeLessThan(100_000);
  });

  test('an already aborted signal rejects at once', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(schedule(set, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
  });

  test('aborting mid-run rejects with AbortError and the event loop stays free', async () => {
    const big = packed(40_000, 1000, 2);
    const ac = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    let progressCalls = 0;
    const p = schedule(big, {
      signal: ac.signal,
      onProgress: () => {
        if (++progressCalls === 3) ac.abort();
      },
    });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    clearInterval(timer);
    expect(progressCalls).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('bad input names the field and the value', () => {
  const base = randomInstance({ numSequences: 30, numGroups: 6, numBins: 4, seed: 5 });

  test('group id out of range', () => {
    const s = clone(base);
    s.group[7] = 6;
    const e = validationError(() => scheduleSync(s));
    expect(e.field).toBe('group[7]');
    expect(e.message).toMatch(/group\[7\] = 6 is out of range \[0, 6\)/);
  });

  test('bin id out of range', () => {
    const s = clone(base);
    s.bin[3] = 99;
    expect(validationError(() => scheduleSync(s)).message).toMatch(/bin\[3\] = 99 is out of range \[0, 4\)/);
  });

  test('an empty sequence', () => {
    const s = clone(base);
    s.offsets[5] = s.offsets[4];
    // keep offsets monotone: sequence 4 becomes empty
    for (let i = 5; i < s.offsets.length; i++) if (s.offsets[i] < s.offsets[i - 1]) s.offsets[i] = s.offsets[i - 1];
    expect(validationError(() => scheduleSync(s)).message).toMatch(/sequence 4 is empty/);
  });

  test('arrays of mismatched length', () => {
    const s = clone(base);
    s.tokens = s.tokens.slice(0, s.tokens.length - 1);
    expect(validationError(() => scheduleSync(s)).message).toMatch(/tokens/);
  });

  test.each([
    ['negative', -0.1, /mixture\[2\] = -0\.1 must be a finite number >= 0/],
    ['NaN', NaN, /mixture\[2\] = NaN/],
    ['Infinity', Infinity, /mixture\[2\] = Infinity/],
  ])('a %s mixture entry', (_n, v, re) => {
    const m = new Float64Array(6).fill(1 / 6);
    m[2] = v;
    const e = validationError(() => scheduleSync(base, { mixture: m }));
    expect(e.field).toBe('mixture[2]');
    expect(e.message).toMatch(re);
  });

  test('a mixture that does not sum to 1 says the sum and by how much', () => {
    const m = new Float64Array(6).fill(0.15);
    const e = validationError(() => scheduleSync(base, { mixture: m }));
    expect(e.message).toMatch(/sums to 0\.9/);
    expect(e.message).toMatch(/off by -1\.00e-1/);
  });

  test('a mixture of the wrong length', () => {
    expect(validationError(() => scheduleSync(base, { mixture: [0.5, 0.5] })).message).toMatch(/2 entries but there are 6 groups/);
  });

  test('a budget larger than the corpus', () => {
    const total = totalTokens(base);
    const e = validationError(() => scheduleSync(base, { budget: total + 1 }));
    expect(e.field).toBe('budget');
    expect(e.message).toContain(String(total + 1));
    expect(e.message).toContain(String(total));
  });

  test.each([
    ['lambda', { lambda: -1 }],
    ['lambda', { lambda: NaN }],
    ['sigma', { sigma: -0.5 }],
    ['sigma', { sigma: Infinity }],
    ['objective', { objective: 'l1' }],
    ['seed', { seed: -3 }],
  ])('option %s', (field, opts) => {
    const e = validationError(() => scheduleSync(base, opts as never));
    expect(e.field).toBe(field);
    expect(e.message).toContain(`\`${field}\``);
  });

  test('an unknown option is rejected rather than ignored', () => {
    expect(validationError(() => scheduleSync(base, { lamda: 1 } as never)).message).toMatch(/lamda/);
  });

  test('resume index out of range, duplicated, or an offset that disagrees', () => {
    expect(validationError(() => scheduleSync(base, { resume: Uint32Array.from([1, 30]) })).message).toMatch(
      /resume\[1\] = 30 is out of range \[0, 30\)/,
    );
    expect(validationError(() => scheduleSync(base, { resume: Uint32Array.from([4, 2, 4]) })).message).toMatch(
      /resume\[2\] = 4 appears twice/,
    );
    const e = validationError(() => scheduleSync(base, { resume: Uint32Array.from([0]), offset: 1 }));
    expect(e.field).toBe('offset');
  });

  test('more than 64 length bins', () => {
    const s = clone(base);
    s.numBins = 65;
    expect(validationError(() => scheduleSync(s)).field).toBe('numBins');
  });
});

// ---------------------------------------------------------------------------
// Progress and abort in detail

describe('progress in detail', () => {
  const set = packed(2500, 40, 7);
  const total = totalTokens(set);

  async function run(opts: Parameters<typeof schedule>[1]) {
    const seen: ScheduleProgress[] = [];
    const r = await schedule(set, { ...opts, onProgress: (p) => seen.push({ ...p }) });
    return { r, seen };
  }

  function checkMonotone(seen: ScheduleProgress[]): void {
    expect(seen.length).toBeGreaterThan(3);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].steps).toBeGreaterThan(seen[i - 1].steps);
      expect(seen[i].tokens).toBeGreaterThan(seen[i - 1].tokens);
      expect(seen[i].goal).toBe(seen[0].goal);
    }
    for (const p of seen) expect(p.tokens).toBeLessThanOrEqual(Math.max(p.goal, seen[seen.length - 1].tokens));
  }

  test('whole corpus: steps strictly increase, the goal is the corpus, the final call is the result', async () => {
    const { r, seen } = await run({});
    checkMonotone(seen);
    const last = seen[seen.length - 1];
    expect(last).toEqual({ steps: r.order.length, tokens: r.tokens, goal: total });
    expect(last.tokens).toBe(last.goal);
    expect(r.order.length).toBe(2500);
  });

  test('with a budget: the goal is the budget and the final call holds the result tokens', async () => {
    const budget = Math.floor(total / 3);
    const { r, seen } = await run({ budget });
    checkMonotone(seen);
    const last = seen[seen.length - 1];
    expect(last.goal).toBe(budget);
    expect(last.steps).toBe(r.order.length);
    expect(last.tokens).toBe(r.tokens);
    expect(r.tokens).toBeGreaterThanOrEqual(budget);
    expect(r.tokens - budget).toBeLessThan(2048); // stops at the first prefix holding the budget
  });

  test('with resume: the goal is the tokens left and steps count only new sequences', async () => {
    const resume = Uint32Array.from(toNumbers(scheduleSync(set, { budget: 200_000 }).order));
    let resumed = 0;
    for (const s of resume) resumed += seqTokens(set, s);
    const { r, seen } = await run({ resume, offset: resumed });
    checkMonotone(seen);
    const last = seen[seen.length - 1];
    expect(last).toEqual({ steps: 2500 - resume.length, tokens: total - resumed, goal: total - resumed });
    expect(r.order.length).toBe(2500 - resume.length);
  });

  test('AbortError is a typed CurriculaError with code ABORT_ERR, also for an abort reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('user pressed Ctrl-C'));
    const e = await schedule(set, { signal: ac.signal }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AbortError);
    expect(e).toBeInstanceOf(CurriculaError);
    expect((e as AbortError).code).toBe('ABORT_ERR');
    expect((e as AbortError).name).toBe('AbortError');
  });

  test('aborting after completion changes nothing; a signal that never fires changes nothing', async () => {
    const ac = new AbortController();
    const r = await schedule(set, { signal: ac.signal, budget: 50_000 });
    ac.abort();
    expect(toNumbers(r.order)).toEqual(toNumbers(scheduleSync(set, { budget: 50_000 }).order));
  });
});

function seqTokens(set: SequenceSet, s: number): number {
  let l = 0;
  for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) l += set.tokens[i];
  return l;
}

// ---------------------------------------------------------------------------
// Every bad input, through both the sync and the async entry point

describe('bad input: field and offending index/value, sync and async alike', () => {
  const base = randomInstance({ numSequences: 30, numGroups: 6, numBins: 4, seed: 5 });
  const total = totalTokens(base);
  const uniform = () => new Array<number>(6).fill(1 / 6);

  type Case = [name: string, set: () => SequenceSet, opts: Record<string, unknown>, field: string, message: RegExp];
  const withSet = (f: (s: SequenceSet) => void) => () => {
    const s = clone(base);
    f(s);
    return s;
  };
  const same = () => base;
  const nnz = base.tokens.length;

  const cases: Case[] = [
    ['group id out of range', withSet((s) => (s.group[7] = 6)), {}, 'group[7]', /group\[7\] = 6 is out of range \[0, 6\)/],
    ['bin id out of range', withSet((s) => (s.bin[3] = 99)), {}, 'bin[3]', /bin\[3\] = 99 is out of range \[0, 4\)/],
    ['a zero-token segment', withSet((s) => (s.tokens[11] = 0)), {}, 'tokens[11]', /tokens\[11\] must be at least 1 but is 0/],
    [
      'an empty sequence',
      withSet((s) => (s.offsets = BigUint64Array.from([0n, ...Array.from(s.offsets.subarray(1, 5)), s.offsets[4], ...Array.from(s.offsets.subarray(5))]))),
      {},
      'offsets[5]',
      /sequence 4 is empty/,
    ],
    ['group shorter than offsets', withSet((s) => (s.group = s.group.slice(1))), {}, 'group', new RegExp(`\`group\` has ${nnz - 1} entries but \`offsets\` ends at ${nnz}`)],
    ['bin longer than offsets', withSet((s) => (s.bin = new Uint32Array(nnz + 2))), {}, 'bin', new RegExp(`\`bin\` has ${nnz + 2} entries but \`offsets\` ends at ${nnz}`)],
    ['tokens shorter than offsets', withSet((s) => (s.tokens = s.tokens.slice(0, 5))), {}, 'tokens', new RegExp(`\`tokens\` has 5 entries but \`offsets\` ends at ${nnz}`)],
    ['a negative mixture entry (array)', same, { mixture: Object.assign(uniform(), { 2: -0.1 }) }, 'mixture[2]', /mixture\[2\] = -0\.1 must be a finite number >= 0/],
    ['a NaN mixture entry (Float64Array)', same, { mixture: Float64Array.from(Object.assign(uniform(), { 4: NaN })) }, 'mixture[4]', /mixture\[4\] = NaN/],
    ['an Infinity mixture entry (Float64Array)', same, { mixture: Float64Array.from(Object.assign(uniform(), { 0: Infinity })) }, 'mixture[0]', /mixture\[0\] = Infinity/],
    ['a -Infinity mixture entry (Float64Array)', same, { mixture: Float64Array.from(Object.assign(uniform(), { 5: -Infinity })) }, 'mixture[5]', /mixture\[5\] = -Infinity/],
    ['a mixture summing to 1.1', same, { mixture: [0.5, 0.3, 0.3, 0, 0, 0] }, 'mixture', /sums to 1\.1.*off by \+1\.00e-1/],
    ['a mixture summing to 0.9', same, { mixture: new Float64Array(6).fill(0.15) }, 'mixture', /sums to 0\.9.*off by -1\.00e-1/],
    ['a mixture off by 1e-5', same, { mixture: [0.5, 0.5 + 1e-5, 0, 0, 0, 0] }, 'mixture', /off by \+1\.00e-5/],
    ['a mixture of the wrong length', same, { mixture: [0.5, 0.5] }, 'mixture', /2 entries but there are 6 groups/],
    ['a mixture of the wrong type', same, { mixture: new Float32Array(6).fill(1 / 6) }, 'mixture', /Float32Array/],
    ['a budget larger than the corpus', same, { budget: total + 1 }, 'budget', new RegExp(`<= ${total} .*received ${total + 1}`)],
    ['a budget larger than what resume leaves', same, { budget: total, resume: Uint32Array.of(0) }, 'budget', new RegExp(`<= ${total - seqTokens(base, 0)} .*received ${total}`)],
    ['a zero budget', same, { budget: 0 }, 'budget', /received 0/],
    ['a fractional budget', same, { budget: 10.5 }, 'budget', /received 10\.5/],
    ['a negative lambda', same, { lambda: -1 }, 'lambda', /`lambda`.*received -1\)/],
    ['a NaN lambda', same, { lambda: NaN }, 'lambda', /`lambda`.*received NaN\)/],
    ['an infinite lambda', same, { lambda: Infinity }, 'lambda', /`lambda`.*received Infinity\)/],
    ['a negative sigma', same, { sigma: -0.5 }, 'sigma', /`sigma`.*received -0\.5\)/],
    ['a NaN sigma', same, { sigma: NaN }, 'sigma', /`sigma`.*received NaN\)/],
    ['an infinite sigma', same, { sigma: -Infinity }, 'sigma', /`sigma`.*received -Infinity\)/],
    ['a bad objective', same, { objective: 'l1' }, 'objective', /`objective`.*"sos"\|"norm".*received "l1"/],
    ['a negative seed', same, { seed: -3 }, 'seed', /`seed`.*received -3\)/],
    ['a resume index out of range', same, { resume: Uint32Array.of(1, 30) }, 'resume[1]', /resume\[1\] = 30 is out of range \[0, 30\)/],
    ['a BigUint64 resume index out of range', same, { resume: BigUint64Array.of(2n ** 40n) }, 'resume[0]', /resume\[0\] = 1099511627776 is out of range/],
    ['a duplicated resume index', same, { resume: Uint32Array.of(4, 2, 4) }, 'resume[2]', /resume\[2\] = 4 appears twice/],
    ['a resume that is not a typed array', same, { resume: [1, 2] }, 'resume', /Uint32Array or BigUint64Array.*received array of length 2/],
    ['an offset disagreeing with resume', same, { resume: Uint32Array.of(0), offset: 1 }, 'offset', new RegExp(`\`offset\` is 1 but the resume order holds ${seqTokens(base, 0)} tokens`)],
    ['threads out of range', same, { threads: 3 }, 'threads', /received 3\)/],
    ['an unknown option', same, { fanout: 16 }, 'options', /Unrecognized key: "fanout"/],
  ];

  test.each(cases)('%s', async (_name, set, opts, field, message) => {
    let e: unknown;
    try {
      scheduleSync(set(), opts as never);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).field).toBe(field);
    expect((e as Error).message).toMatch(message);
    expect((e as ValidationError).code).toBe('ERR_CURRICULA_VALIDATION');
    // the async entry point rejects (never throws synchronously) with the same error
    let p: Promise<unknown> | undefined;
    expect(() => (p = schedule(set(), opts as never))).not.toThrow();
    const a = await p!.catch((x: unknown) => x);
    expect(a).toBeInstanceOf(ValidationError);
    expect((a as ValidationError).field).toBe(field);
    expect((a as Error).message).toBe((e as Error).message);
  });

  test('the same options succeed once the bad value is fixed (the cases above are not failing for another reason)', () => {
    expect(scheduleSync(base, { mixture: uniform(), budget: total, lambda: 0, sigma: 1, objective: 'norm', seed: 3 }).tokens).toBe(total);
    const r = scheduleSync(base, { resume: Uint32Array.of(4, 2), offset: seqTokens(base, 4) + seqTokens(base, 2), threads: 1 });
    expect(r.order.length).toBe(28);
  });

  // Plain arrays reach validateMixture, so non-finite entries are reported by index.
  test.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('a %s entry in a plain-array mixture names the index and value', (label, v) => {
    const e = validationError(() => scheduleSync(base, { mixture: Object.assign(uniform(), { 2: v }) }));
    expect(e.field).toBe('mixture[2]');
    expect(e.message).toContain(`mixture[2] = ${label}`);
  });

  // The seed must fit in 64 bits; the schema rejects larger values by name.
  test('a seed of 2^64 is rejected with field "seed" and the value', () => {
    const e = validationError(() => scheduleSync(base, { seed: 2n ** 64n }));
    expect(e.field).toBe('seed');
    expect(e.message).toContain('18446744073709551616');
  });
});
