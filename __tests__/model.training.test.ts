/**
 * Training: determinism, checkpoints, async/sync agreement, abort, learning
 * on real data, and argument validation.
 */
import { prepareDemoData, subsetSequences, type DemoData } from '../lib/demo/data';
import {
  evalLossSync,
  initModel,
  learningRates,
  paramCount,
  perExampleGradients,
  perExampleGradientsAsync,
  perExampleLinearInputs,
  perExampleLinearInputsAsync,
  trainModel,
  trainModelSync,
  validateShape,
  type TokenSequences,
} from '../lib/demo/model';
import { AbortError } from '../lib/errors';
import { expectValidation } from './helpers/expect-errors';
import { Rng } from './reference/naive-scheduler';

const shape = { vocab: 64, context: 3, embed: 8, hidden: 16 };

function randomSeqs(rng: Rng, n: number, len: number, vocab = shape.vocab): TokenSequences {
  const ids = Uint32Array.from({ length: n * len }, () => rng.int(0, vocab - 1));
  return { ids, offsets: Uint32Array.from({ length: n + 1 }, (_, i) => i * len) };
}

const seqs = randomSeqs(new Rng(1), 40, 16);
const order = Uint32Array.from({ length: 40 }, (_, i) => (i * 7) % 40);
const opts = { batchSize: 4, lr: { peak: 0.5, warmupSteps: 2 }, checkpoints: [64, 300, 300, 640] };

describe('determinism', () => {
  test('the same seed and order give bit-identical parameters; another seed or order does not', () => {
    const a = trainModelSync(shape, { seed: 5 }, seqs, order, opts);
    const b = trainModelSync(shape, { seed: 5 }, seqs, order, opts);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    expect(a.stepLoss).toEqual(b.stepLoss);
    const c = trainModelSync(shape, { seed: 6 }, seqs, order, opts);
    expect(c.params).not.toEqual(a.params);
    const d = trainModelSync(shape, { seed: 5 }, seqs, order.slice().reverse(), opts);
    expect(d.params).not.toEqual(a.params);
    expect(initModel(shape, 5)).toEqual(initModel(shape, 5));
  });

  test('async training equals sync training and reports progress', async () => {
    const seen: number[] = [];
    const a = await trainModel(shape, { seed: 2 }, seqs, order, { ...opts, onProgress: (p) => seen.push(p.step) });
    const b = trainModelSync(shape, { seed: 2 }, seqs, order, opts);
    expect(a.params).toEqual(b.params);
    expect(a.checkpoints.map((c) => c.tokens)).toEqual(b.checkpoints.map((c) => c.tokens));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(10);
  });

  test('checkpoints are taken after the first step reaching each token count', () => {
    const r = trainModelSync(shape, { seed: 1 }, seqs, order, opts);
    // 4 sequences of 16 tokens per step: 64 tokens per step
    expect(r.checkpoints.map((c) => c.tokens)).toEqual([64, 320, 320, 640]);
    const upTo = (tokens: number) =>
      trainModelSync(shape, { seed: 1 }, seqs, order.subarray(0, tokens / 16), {
        ...opts,
        lr: learningRates(10, opts.lr).subarray(0, tokens / 64),
        checkpoints: [],
      }).params;
    expect(r.checkpoints[0].params).toEqual(upTo(64));
    expect(r.checkpoints[1].params).toEqual(upTo(320));
    expect(r.checkpoints[3].params).toEqual(r.params);
    expect(r.tokens).toBe(640);
  });

  test('evaluation and per-example gradients do not depend on the thread count', () => {
    const p = trainModelSync(shape, { seed: 1 }, seqs, order, opts).params;
    const ex = Uint32Array.from({ length: 40 }, (_, i) => i);
    expect(perExampleGradients(shape, p, seqs, 'output', ex, 1)).toEqual(perExampleGradients(shape, p, seqs, 'output', ex, 3));
    expect(evalLossSync(shape, p, seqs, { threads: 1 })).toEqual(evalLossSync(shape, p, seqs, { threads: 4 }));
  });
});

describe('async gradient entry points', () => {
  test('equal their sync twins and reject bad input with a named field', async () => {
    const p = trainModelSync(shape, { seed: 3 }, seqs, order, opts).params;
    const ex = Uint32Array.of(3, 1, 4, 1, 5);
    expect(await perExampleGradientsAsync(shape, p, seqs, 'hidden', ex, 2)).toEqual(perExampleGradients(shape, p, seqs, 'hidden', ex, 1));
    expect(await perExampleLinearInputsAsync(shape, p, seqs, 'output', ex)).toEqual(perExampleLinearInputs(shape, p, seqs, 'output', ex));
    await expect(perExampleGradientsAsync(shape, p, seqs, 'output', Uint32Array.of(40))).rejects.toMatchObject({ field: 'examples[0]' });
    await expect(perExampleLinearInputsAsync(shape, p, seqs, 'output', ex.subarray(0, 1), )).resolves.toMatchObject({ in: 17, out: 64 });
  });
});

describe('abort', () => {
  test('an aborted signal rejects with AbortError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(trainModel(shape, { seed: 1 }, seqs, order, { ...opts, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
  });

  test('aborting mid-run rejects with AbortError', async () => {
    const big = randomSeqs(new Rng(2), 400, 64);
    const ac = new AbortController();
    const run = trainModel(shape, { seed: 1 }, big, Uint32Array.from({ length: 400 }, (_, i) => i), {
      batchSize: 1,
      lr: { peak: 0.1 },
      signal: ac.signal,
      onProgress: (p) => p.step >= 3 && ac.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(AbortError);
  });
});

describe('on the Brown Corpus', () => {
  let data: DemoData;
  beforeAll(() => {
    data = prepareDemoData({ vocabSize: 256 });
  });

  test('one pass lowers the held-out loss well below the initial model and the uniform baseline', () => {
    const s = { vocab: 256, context: 3, embed: 16, hidden: 32 };
    const n = 300;
    const train = Uint32Array.from({ length: n }, (_, i) => (i * 13) % (data.train.tokens.offsets.length - 1));
    const evalSet = subsetSequences(data.heldOut.tokens, Uint32Array.from({ length: 40 }, (_, i) => i * 3));
    const before = evalLossSync(s, initModel(s, 1), evalSet).mean;
    const r = trainModelSync(s, { seed: 1 }, data.train.tokens, train, { batchSize: 4, lr: { peak: 1, warmupSteps: 5 } });
    const after = evalLossSync(s, r.params, evalSet).mean;
    expect(after).toBeLessThan(Math.log(256) - 0.5);
    expect(after).toBeLessThan(before - 0.5);
    // the training loss of the last steps is below that of the first ones
    const mean = (a: Float32Array) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(r.stepLoss.subarray(-10))).toBeLessThan(mean(r.stepLoss.subarray(0, 10)) - 0.5);
  });
});

describe('validation', () => {
  test('shape fields are named', () => {
    expectValidation(() => validateShape({ ...shape, vocab: 1 }), 'vocab', /vocab/);
    expectValidation(() => validateShape({ ...shape, hidden: 2.5 }), 'hidden', /hidden/);
    expectValidation(() => initModel(shape, -1), 'seed', /non-negative integer for `seed`/);
  });

  test('training arguments are named', () => {
    const p = initModel(shape, 1);
    expectValidation(() => trainModelSync(shape, p.subarray(1), seqs, order, opts), 'init', /needs/);
    const bad = p.slice();
    bad[3] = NaN;
    expectValidation(() => trainModelSync(shape, bad, seqs, order, opts), 'init[3]', /not finite/);
    expectValidation(() => trainModelSync(shape, p, seqs, Uint32Array.of(0, 40), opts), 'order[1]', /out of range/);
    expectValidation(() => trainModelSync(shape, p, seqs, order, { ...opts, batchSize: 0 }), 'batchSize', /batchSize/);
    expectValidation(() => trainModelSync(shape, p, seqs, order, { ...opts, lr: new Float32Array(3) }), 'lr', /10 steps/);
    expectValidation(() => trainModelSync(shape, p, seqs, order, { ...opts, lr: Float32Array.of(1, 1, 1, 1, 1, 1, 1, 1, 1, -1) }), 'lr[9]', /finite/);
    expectValidation(() => trainModelSync(shape, p, seqs, order, { ...opts, lr: { peak: -1 } }), 'lr.peak', /peak/);
    expectValidation(() => trainModelSync(shape, p, seqs, order, { ...opts, checkpoints: [5, 3] }), 'checkpoints[1]', /nondecreasing/);
    const badIds = { ids: seqs.ids.slice(), offsets: seqs.offsets };
    badIds.ids[17] = 64;
    expectValidation(() => trainModelSync(shape, p, badIds, order, opts), 'ids[17]', /out of range \[0, 64\)/);
    const badOffsets = { ids: seqs.ids, offsets: seqs.offsets.slice() };
    badOffsets.offsets[2] = badOffsets.offsets[1];
    expectValidation(() => trainModelSync(shape, p, badOffsets, order, opts), 'offsets[2]', /nonempty/);
    expectValidation(() => evalLossSync(shape, p, seqs, { groups: new Uint32Array(3) }), 'groups', /one per sequence/);
    expectValidation(() => perExampleGradients(shape, p, seqs, 'embedding' as never), 'layer', /'hidden' or 'output'/);
    expect(paramCount(shape)).toBe(p.length);
  });

  test('a diverging run fails with a clear error instead of returning non-finite parameters', () => {
    const p = initModel(shape, 1);
    expect(() => trainModelSync(shape, p, seqs, order, { batchSize: 1, lr: { peak: 1e30, decay: 'constant' } })).toThrow(/non-finite|not finite/);
  });
});
