/**
 * The native model against the double-precision reference
 * (__tests__/reference/ff-lm.ts): losses, per-example layer gradients, linear
 * inputs and one SGD step; the reference gradient against finite differences.
 */
import {
  batchGradients,
  evalLossSync,
  initModel,
  layerDims,
  paramCount,
  perExampleGradients,
  perExampleLinearInputs,
  sequenceLossesSync,
  trainModelSync,
  type LayerName,
  type ModelShape,
  type TokenSequences,
} from '../lib/demo/model';
import { layerBlock, layout, sequenceGradient, sequenceLoss } from './reference/ff-lm';
import { Rng } from './reference/naive-scheduler';

function randomShape(rng: Rng): ModelShape {
  return { vocab: rng.int(2, 40), context: rng.int(1, 4), embed: rng.int(1, 9), hidden: rng.int(1, 11) };
}

/** Parameters with nonzero biases and a scale that keeps tanh away from saturation. */
function randomParams(s: ModelShape, rng: Rng): Float32Array {
  const p = new Float32Array(paramCount(s));
  for (let i = 0; i < p.length; i++) p[i] = (rng.next() - 0.5) * 1.2;
  return p;
}

function randomSequences(vocab: number, rng: Rng, n: number, maxLen: number): TokenSequences {
  const offsets = [0];
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = rng.int(1, maxLen);
    for (let t = 0; t < len; t++) ids.push(rng.int(0, vocab - 1));
    offsets.push(ids.length);
  }
  return { ids: Uint32Array.from(ids), offsets: Uint32Array.from(offsets) };
}

function seqAt(seqs: TokenSequences, i: number): Uint32Array {
  return seqs.ids.subarray(seqs.offsets[i], seqs.offsets[i + 1]);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = abs + rel * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`entry ${i}: ${actual[i]} vs expected ${expected[i]} (tolerance ${tol})`);
    }
  }
}

describe('reference gradient', () => {
  test('matches central finite differences of the reference loss (double precision)', () => {
    for (let trial = 0; trial < 6; trial++) {
      const rng = new Rng(100 + trial);
      const s = { vocab: rng.int(2, 6), context: rng.int(1, 3), embed: rng.int(1, 3), hidden: rng.int(1, 4) };
      const p = Float64Array.from(randomParams(s, rng));
      const seq = seqAt(randomSequences(s.vocab, rng, 1, 6), 0);
      const { grad } = sequenceGradient(s, p, seq);
      const h = 1e-6;
      for (let i = 0; i < p.length; i++) {
        const keep = p[i];
        p[i] = keep + h;
        const up = sequenceLoss(s, p, seq);
        p[i] = keep - h;
        const down = sequenceLoss(s, p, seq);
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - grad[i])).toBeLessThan(1e-6 + 1e-6 * Math.abs(grad[i]));
      }
    }
  });
});

describe('native model vs reference', () => {
  test('per-sequence losses and the mean loss', () => {
    for (let trial = 0; trial < 8; trial++) {
      const rng = new Rng(200 + trial);
      const s = randomShape(rng);
      const p = randomParams(s, rng);
      const seqs = randomSequences(s.vocab, rng, rng.int(1, 6), 12);
      const n = seqs.offsets.length - 1;
      const expected = Array.from({ length: n }, (_, i) => sequenceLoss(s, p, seqAt(seqs, i)));
      expectClose(sequenceLossesSync(s, p, seqs, 1), expected, 1e-4, 1e-4);
      expectClose(sequenceLossesSync(s, p, seqs, 3), sequenceLossesSync(s, p, seqs, 1), 0, 0);
      const mean = expected.reduce((a, b) => a + b, 0) / seqs.ids.length;
      expect(evalLossSync(s, p, seqs).mean).toBeCloseTo(mean, 4);
    }
  });

  test('per-example layer gradients equal the reference blocks, and sum_t a_t g_t^T of the linear inputs', () => {
    for (let trial = 0; trial < 8; trial++) {
      const rng = new Rng(300 + trial);
      const s = randomShape(rng);
      const p = randomParams(s, rng);
      const seqs = randomSequences(s.vocab, rng, rng.int(1, 5), 10);
      const n = seqs.offsets.length - 1;
      const examples = Uint32Array.from({ length: rng.int(1, 2 * n) }, () => rng.int(0, n - 1));
      for (const layer of ['hidden', 'output'] as LayerName[]) {
        const d = layerDims(s, layer);
        const size = (d.in + 1) * d.out;
        const grads = perExampleGradients(s, p, seqs, layer, examples, 2);
        const li = perExampleLinearInputs(s, p, seqs, layer, examples);
        expect(li.in).toBe(d.in + 1);
        expect(li.out).toBe(d.out);
        examples.forEach((e, k) => {
          const ref = sequenceGradient(s, p, seqAt(seqs, e));
          expectClose(grads.subarray(k * size, (k + 1) * size), layerBlock(s, ref.grad, layer), 1e-3, 1e-4);
          // linear inputs: rows of this example, and their outer-product sum
          const r0 = li.exampleOffsets[k];
          expect(li.exampleOffsets[k + 1] - r0).toBe(seqs.offsets[e + 1] - seqs.offsets[e]);
          const sum = new Float64Array(size);
          ref.tokens.forEach((tok, t) => {
            const a = li.acts.subarray((r0 + t) * li.in, (r0 + t + 1) * li.in);
            const g = li.grads.subarray((r0 + t) * li.out, (r0 + t + 1) * li.out);
            expectClose(a, [...(layer === 'hidden' ? tok.hiddenAct : tok.outputAct), 1], 1e-5, 1e-6);
            expectClose(g, layer === 'hidden' ? tok.hiddenGrad : tok.outputGrad, 1e-3, 1e-5);
            for (let i = 0; i < li.in; i++) for (let o = 0; o < li.out; o++) sum[i * li.out + o] += a[i] * g[o];
          });
          expectClose(grads.subarray(k * size, (k + 1) * size), sum, 1e-4, 1e-5);
        });
      }
    }
  });

  test('batchGradients lays out per-example rows batch by batch', () => {
    const rng = new Rng(7);
    const s = randomShape(rng);
    const p = randomParams(s, rng);
    const seqs = randomSequences(s.vocab, rng, 6, 8);
    const batches = [Uint32Array.of(0, 5), Uint32Array.of(2, 2), Uint32Array.of(4, 1)];
    const bg = batchGradients(s, p, seqs, batches, 'output');
    expect([bg.numBatches, bg.rows, bg.cols]).toEqual([3, 2, (s.hidden + 1) * s.vocab]);
    const flat = perExampleGradients(s, p, seqs, 'output', Uint32Array.of(0, 5, 2, 2, 4, 1));
    expect(bg.data).toEqual(flat);
  });

  test('one SGD step over every sequence moves the parameters by -lr times the mean reference gradient', () => {
    for (let trial = 0; trial < 5; trial++) {
      const rng = new Rng(400 + trial);
      const s = randomShape(rng);
      const p = randomParams(s, rng);
      const seqs = randomSequences(s.vocab, rng, rng.int(1, 4), 8);
      const n = seqs.offsets.length - 1;
      const order = Uint32Array.from({ length: n }, (_, i) => i);
      const lr = 0.5;
      const r = trainModelSync(s, p, seqs, order, { batchSize: n, lr: Float32Array.of(lr) });
      const g = new Float64Array(layout(s).total);
      for (let i = 0; i < n; i++) sequenceGradient(s, p, seqAt(seqs, i)).grad.forEach((x, j) => (g[j] += x));
      const expected = Array.from(p, (x, j) => x - (lr * g[j]) / seqs.ids.length);
      expectClose(r.params, expected, 1e-4, 2e-5);
      expect(r.tokens).toBe(seqs.ids.length);
      expect(r.stepLoss[0]).toBeCloseTo(
        Array.from({ length: n }, (_, i) => sequenceLoss(s, p, seqAt(seqs, i))).reduce((a, b) => a + b) / seqs.ids.length,
        4,
      );
    }
  });

  test('clipNorm scales the step to the clip norm when the gradient is longer', () => {
    const rng = new Rng(9);
    const s = randomShape(rng);
    const p = randomParams(s, rng);
    const seqs = randomSequences(s.vocab, rng, 2, 8);
    const order = Uint32Array.of(0, 1);
    const free = trainModelSync(s, p, seqs, order, { batchSize: 2, lr: Float32Array.of(1) }).params;
    let norm = 0;
    for (let i = 0; i < p.length; i++) norm += (p[i] - free[i]) ** 2;
    norm = Math.sqrt(norm);
    const clip = norm / 4;
    const clipped = trainModelSync(s, p, seqs, order, { batchSize: 2, lr: Float32Array.of(1), clipNorm: clip }).params;
    expectClose(
      Array.from(clipped, (x, i) => p[i] - x),
      Array.from(free, (x, i) => (p[i] - x) / 4),
      1e-3,
      1e-6,
    );
  });

  test('initModel gives zero biases and the documented scales', () => {
    const s = { vocab: 50, context: 3, embed: 8, hidden: 16 };
    const p = initModel(s, 3);
    const L = layout(s);
    expect(p.subarray(L.b1, L.w2).every((x) => x === 0)).toBe(true);
    expect(p.subarray(L.b2).every((x) => x === 0)).toBe(true);
    const std = (a: Float32Array) => Math.sqrt(a.reduce((t, x) => t + x * x, 0) / a.length);
    expect(std(p.subarray(L.emb, L.w1))).toBeCloseTo(0.1, 1);
    expect(std(p.subarray(L.w2, L.b2)) * Math.sqrt(s.hidden)).toBeCloseTo(1, 1);
  });
});
