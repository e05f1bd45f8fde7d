/**
 * The public scheduling API: async progress and cancellation, and every bad
 * input failing with an error that names the field and the offending value.
 */
import { generateCorpus } from '../bench/generate';
import { AbortError, ValidationError } from '../lib/errors';
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
