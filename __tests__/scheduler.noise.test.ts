/**
 * sigma > 0: the Gaussian noise added to every key at every step.
 *  - the native draw noise(seed, step, index) is a deterministic standard normal, bounded by 8.58;
 *  - orders are reproducible for a seed (repeated runs, thread counts, brute force, async vs sync) and differ between seeds;
 *  - scheduleSync equals the naive reference fed the same native noise;
 *  - the distribution of the first pick over 400 seeds matches an independent
 *    simulation that draws its own Gaussians (JS Box-Muller), by a chi-square test.
 */
import { binding } from '../lib/binding';
import { schedule, scheduleBruteForceSync, scheduleSync, type ScheduleOptions } from '../lib/scheduler';
import type { SequenceSet } from '../lib/io/sequences';
import {
  NaiveState,
  Rng,
  corpusShares,
  naiveSchedule,
  nativeTargets,
  randomInstance,
  randomMixture,
  toNumbers,
  totalTokens,
} from './reference/naive-scheduler';

// ---------------------------------------------------------------------------
// Distribution helpers

/** erfc with fractional error < 1.2e-7 (Numerical Recipes' erfcc, Chebyshev fit). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

/** ln Gamma (Lanczos, g = 7). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series / continued fraction, Numerical Recipes). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 1000; n++) {
      del *= x / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** p-value of a chi-square statistic with df degrees of freedom. */
const chiSquareP = (stat: number, df: number): number => gammaQ(df / 2, stat / 2);

/** Asymptotic Kolmogorov-Smirnov p-value for statistic D on n samples. */
function ksP(D: number, n: number): number {
  const lam = (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * D;
  let sum = 0;
  for (let j = 1; j <= 100; j++) sum += 2 * (j % 2 ? 1 : -1) * Math.exp(-2 * j * j * lam * lam);
  return Math.min(1, Math.max(0, sum));
}

/**
 * Chi-square goodness of fit of `observed` counts against probabilities `p`.
 * Cells with expected count < 5 are pooled (and the pool joined to the smallest
 * cell while it is still below 5), the usual rule for the approximation.
 */
function chiSquare(observed: number[], p: number[]): { stat: number; df: number; p: number; cells: number } {
  const n = observed.reduce((a, b) => a + b, 0);
  const cells: { o: number; e: number }[] = [];
  const pool = { o: 0, e: 0 };
  observed.forEach((o, i) => {
    if (n * p[i] >= 5) cells.push({ o, e: n * p[i] });
    else {
      pool.o += o;
      pool.e += n * p[i];
    }
  });
  if (pool.e >= 5) cells.push(pool);
  else if (pool.o > 0 || pool.e > 0) {
    if (cells.length === 0) cells.push(pool);
    else {
      cells.sort((a, b) => a.e - b.e);
      cells[0].o += pool.o;
      cells[0].e += pool.e;
    }
  }
  let stat = 0;
  for (const c of cells) stat += c.e > 0 ? (c.o - c.e) ** 2 / c.e : c.o > 0 ? Infinity : 0;
  const df = cells.length - 1;
  return { stat, df, p: df > 0 ? chiSquareP(stat, df) : stat === 0 ? 1 : 0, cells: cells.length };
}

describe('distribution helpers (sanity, so the statistical tests below mean something)', () => {
  test('normalCdf, chi-square and KS p-values match known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980, 7);
    expect(chiSquareP(3.841458821, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquareP(18.46682695, 4)).toBeCloseTo(0.001, 6);
    expect(chiSquareP(10, 10)).toBeCloseTo(0.4404932851, 6);
    expect(ksP(1.358 / Math.sqrt(10000), 10000)).toBeCloseTo(0.05, 2);
    expect(chiSquare([50, 50], [0.5, 0.5]).p).toBeCloseTo(1, 9);
    expect(chiSquare([90, 10], [0.5, 0.5]).p).toBeLessThan(1e-10);
  });
});

// ---------------------------------------------------------------------------
// The native noise

describe('native noise(seed, step, index)', () => {
  const b = binding();

  test('is deterministic and accepts numbers and bigints alike', () => {
    for (let i = 0; i < 50; i++) {
      const x = b.noise(7, i, 3 * i);
      expect(b.noise(7, i, 3 * i)).toBe(x);
      expect(b.noise(7n, BigInt(i), BigInt(3 * i))).toBe(x);
      expect(Number.isFinite(x)).toBe(true);
    }
    // full 64-bit arguments are accepted and matter
    const big = b.noise(2n ** 64n - 1n, 2n ** 63n, 2n ** 64n - 2n);
    expect(Number.isFinite(big)).toBe(true);
    expect(b.noise(2n ** 64n - 2n, 2n ** 63n, 2n ** 64n - 2n)).not.toBe(big);
  });

  test('each argument changes the draw', () => {
    const x = b.noise(1, 2, 3);
    expect(b.noise(2, 2, 3)).not.toBe(x);
    expect(b.noise(1, 3, 3)).not.toBe(x);
    expect(b.noise(1, 2, 4)).not.toBe(x);
    expect(b.noise(1, 3, 2)).not.toBe(x); // step and index are not interchangeable
  });

  test('looks standard normal: mean, variance, skewness, kurtosis, KS (p > 1e-3), tails', () => {
    // 60,000 draws spread over seeds, steps and indices
    const xs: number[] = [];
    for (let seed = 0; seed < 6; seed++)
      for (let step = 0; step < 100; step++) for (let index = 0; index < 100; index++) xs.push(b.noise(seed, step, index));
    const n = xs.length;
    const mean = xs.reduce((a, x) => a + x, 0) / n;
    const m2 = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n;
    const m3 = xs.reduce((a, x) => a + (x - mean) ** 3, 0) / n;
    const m4 = xs.reduce((a, x) => a + (x - mean) ** 4, 0) / n;
    // standard errors: mean 1/sqrt(n) = 0.0041, var sqrt(2/n) = 0.0058, skew sqrt(6/n) = 0.01, kurt sqrt(24/n) = 0.02
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(4 * Math.sqrt(6 / n));
    expect(Math.abs(m4 / m2 ** 2 - 3)).toBeLessThan(4 * Math.sqrt(24 / n));

    const sorted = [...xs].sort((a, c) => a - c);
    let D = 0;
    sorted.forEach((x, i) => {
      const F = normalCdf(x);
      D = Math.max(D, (i + 1) / n - F, F - i / n);
    });
    expect(ksP(D, n)).toBeGreaterThan(1e-3);

    // tail frequencies: P(|Z| > 2) = 0.0455, P(|Z| > 3) = 0.0027
    const over = (t: number) => xs.filter((x) => Math.abs(x) > t).length;
    expect(Math.abs(over(2) - 0.0455 * n)).toBeLessThan(5 * Math.sqrt(0.0455 * n));
    expect(Math.abs(over(3) - 0.0027 * n)).toBeLessThan(5 * Math.sqrt(0.0027 * n));
  });

  test('draws for neighbouring indices, steps and seeds are uncorrelated', () => {
    const n = 20000;
    const corr = (f: (i: number) => [number, number]) => {
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      for (let i = 0; i < n; i++) {
        const [x, y] = f(i);
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
      }
      return sxy / Math.sqrt(sxx * syy);
    };
    const lim = 4 / Math.sqrt(n);
    expect(Math.abs(corr((i) => [b.noise(3, 5, i), b.noise(3, 5, i + 1)]))).toBeLessThan(lim);
    expect(Math.abs(corr((i) => [b.noise(3, i, 5), b.noise(3, i + 1, 5)]))).toBeLessThan(lim);
    expect(Math.abs(corr((i) => [b.noise(i, 4, 5), b.noise(i + 1, 4, 5)]))).toBeLessThan(lim);
    expect(Math.abs(corr((i) => [b.noise(3, i, i), b.noise(3, i, i + 1)]))).toBeLessThan(lim);
  });

  test('|noise| < 8.58 (the bound the fast search prunes with) over 2,000,000 draws', () => {
    // Box-Muller from a uniform >= 2^-53 can reach at most sqrt(-2 ln 2^-53) = 8.5717...
    expect(Math.sqrt(-2 * Math.log(2 ** -53))).toBeLessThan(8.58);
    let max = 0;
    for (let seed = 0; seed < 20; seed++)
      for (let i = 0; i < 100000; i++) max = Math.max(max, Math.abs(b.noise(seed, i >>> 7, i)));
    expect(max).toBeLessThan(8.58);
    expect(max).toBeGreaterThan(4); // 2e6 normal draws reach about 5; a much smaller max means a wrong scale
  });
});

// ---------------------------------------------------------------------------
// Orders with noise

/** A sigma comparable to the gaps between the smallest first-step keys. */
function gapSigma(set: SequenceSet, objective: 'sos' | 'norm', lambda: number, mixture: Float64Array, mult: number): number {
  const st = new NaiveState(set, nativeTargets(set, mixture), { objective, lambda });
  const keys = Array.from({ length: set.offsets.length - 1 }, (_, s) => st.baseKey(s)).sort((a, b) => a - b);
  const spread = keys[Math.min(keys.length - 1, 5)] - keys[0];
  return mult * (spread > 0 ? spread : Math.max(1, keys[0]));
}

describe('reproducibility', () => {
  const set = randomInstance({ numSequences: 150, numGroups: 20, numBins: 6, seed: 31337 });
  const mixture = randomMixture(20, 5);
  const sigma = gapSigma(set, 'sos', 1, mixture, 1);

  test('same seed: same order across repeated runs, thread counts, brute force, and async vs sync', async () => {
    const opts: ScheduleOptions = { mixture, sigma, seed: 12345 };
    const first = toNumbers(scheduleSync(set, opts).order);
    expect(toNumbers(scheduleSync(set, opts).order)).toEqual(first);
    for (let i = 0; i < 3; i++) expect(toNumbers(scheduleSync(set, opts).order)).toEqual(first);
    expect(toNumbers(scheduleSync(set, { ...opts, threads: 1 }).order)).toEqual(first);
    expect(toNumbers(scheduleBruteForceSync(set, opts).order)).toEqual(first);
    expect(toNumbers((await schedule(set, opts)).order)).toEqual(first);
    expect(toNumbers((await schedule(set, { ...opts, threads: 1 })).order)).toEqual(first);
    expect(toNumbers(scheduleSync(set, { ...opts, seed: 12345n }).order)).toEqual(first);
    // and the noise is actually doing something here
    expect(toNumbers(scheduleSync(set, { mixture }).order)).not.toEqual(first);
  });

  test('different seeds give different orders', () => {
    const orders = new Set<string>();
    for (let seed = 0; seed < 12; seed++) orders.add(toNumbers(scheduleSync(set, { mixture, sigma, seed }).order).join(','));
    expect(orders.size).toBe(12);
  });

  test('seed has no effect when sigma = 0', () => {
    const a = toNumbers(scheduleSync(set, { mixture, seed: 1 }).order);
    const b = toNumbers(scheduleSync(set, { mixture, seed: 999 }).order);
    expect(b).toEqual(a);
  });
});

describe('scheduleSync === naive reference with the same native noise', () => {
  const cases = Array.from({ length: 48 }, (_, i) => {
    const rng = new Rng(424242 + i);
    const K = rng.pick([1, 3, 8, 20, 40, 64]);
    const B = rng.int(1, 12);
    return {
      i,
      M: rng.int(20, 90),
      K,
      B,
      objective: (i % 2 ? 'norm' : 'sos') as 'sos' | 'norm',
      lambda: [0, 0.3, 1][i % 3],
      random: i % 4 >= 2,
      mult: [0.01, 0.3, 1, 3, 1e6][i % 5],
      seed: rng.int(0, 2 ** 40),
      extra: (['none', 'budget', 'resume', 'resume+budget'] as const)[Math.floor(i / 12)],
    };
  });
  test.each(cases)(
    '#$i M=$M K=$K B=$B $objective lambda=$lambda sigma=$mult x gap random=$random $extra',
    ({ i, M, K, B, objective, lambda, random, mult, seed, extra }) => {
      const set = randomInstance({ numSequences: M, numGroups: K, numBins: B, seed: 5000 + i });
      const mixture = random ? randomMixture(K, i) : corpusShares(set);
      const sigma = gapSigma(set, objective, lambda, mixture, mult);
      const targets = nativeTargets(set, mixture);
      const full = naiveSchedule(set, { objective, lambda, sigma, seed }, targets).order;

      const rng = new Rng(i);
      const r = extra.startsWith('resume') ? rng.int(1, 10) : 0;
      const resume = full.slice(0, r);
      let budget: number | undefined;
      if (extra.endsWith('budget')) {
        let left = totalTokens(set);
        for (const s of resume) left -= sumTokens(set, s);
        budget = rng.int(1, left);
      }
      // with resume, the step index counts the replayed sequences, so the continuation is the rest of `full`
      const ref = naiveSchedule(set, { objective, lambda, sigma, seed, resume, budget }, targets).order;
      expect(ref).toEqual(full.slice(r, r + ref.length));
      if (budget === undefined) expect(ref.length).toBe(M - r);

      const opts: ScheduleOptions = {
        objective,
        lambda,
        sigma,
        seed,
        ...(random ? { mixture } : {}),
        ...(r ? { resume: Uint32Array.from(resume) } : {}),
        ...(budget !== undefined ? { budget } : {}),
      };
      expect(toNumbers(scheduleSync(set, opts).order)).toEqual(ref);
      expect(toNumbers(scheduleSync(set, { ...opts, threads: 1 }).order)).toEqual(ref);
      if (i % 3 === 0) expect(toNumbers(scheduleBruteForceSync(set, opts).order)).toEqual(ref);
    },
  );
});

function sumTokens(set: SequenceSet, s: number): number {
  let l = 0;
  for (let j = Number(set.offsets[s]); j < Number(set.offsets[s + 1]); j++) l += set.tokens[j];
  return l;
}

// ---------------------------------------------------------------------------
// The first pick, statistically

describe('first pick over 400 seeds matches an independent Box-Muller simulation', () => {
  // 8 one-segment sequences over 4 groups and 2 bins, lengths 300..1100: the
  // first-step keys are distinct and a handful are within a few sigma of the best.
  const set: SequenceSet = {
    offsets: BigUint64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]),
    group: Uint32Array.of(0, 1, 2, 3, 0, 1, 2, 3),
    bin: Uint32Array.of(0, 1, 0, 1, 1, 0, 1, 0),
    tokens: Uint32Array.of(700, 900, 500, 1100, 1000, 600, 800, 300),
    numGroups: 4,
    numBins: 2,
  };
  const mixture = Float64Array.of(0.3, 0.3, 0.25, 0.15);
  const lambda = 0.3;
  const SEEDS = 400; // seeds 0..399: deterministic, so the test cannot flake
  const TRIALS = 200000;
  const SIM_SEED = 20240607;
  const P_THRESHOLD = 1e-3; // reject "same distribution" only below this p-value

  const st = new NaiveState(set, nativeTargets(set, mixture), { lambda });
  const keys = Array.from({ length: 8 }, (_, s) => st.baseKey(s));
  const sortedKeys = [...keys].sort((a, b) => a - b);
  // sigma about the gap between the best and the third-best key
  const sigma = sortedKeys[2] - sortedKeys[0];

  /** P(first pick = s) when every key gets sigma * N(0,1), from our own Gaussians. */
  function simulate(sig: number, seed: number): number[] {
    const rng = new Rng(seed);
    const counts = new Array<number>(8).fill(0);
    const k0 = keys.slice();
    for (let t = 0; t < TRIALS; t++) {
      let best = 0;
      let bestKey = k0[0] + sig * rng.normal();
      for (let s = 1; s < 8; s++) {
        const k = k0[s] + sig * rng.normal();
        if (k < bestKey) {
          bestKey = k;
          best = s;
        }
      }
      counts[best]++;
    }
    return counts.map((c) => c / TRIALS);
  }

  const observed = new Array<number>(8).fill(0);
  beforeAll(() => {
    for (let seed = 0; seed < SEEDS; seed++) {
      const r = scheduleSync(set, { mixture, lambda, sigma, seed, budget: 1 });
      expect(r.order.length).toBe(1);
      observed[Number(r.order[0])]++;
    }
  });

  test('the instance is informative: distinct keys, several plausible first picks', () => {
    expect(new Set(keys).size).toBe(8);
    expect(sigma).toBeGreaterThan(0);
    const p = simulate(sigma, SIM_SEED);
    expect(p.filter((x) => x * SEEDS >= 5).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...p)).toBeLessThan(0.8);
  });

  test('the native first picks are the naive reference first picks with the native noise', () => {
    const refCounts = new Array<number>(8).fill(0);
    for (let seed = 0; seed < SEEDS; seed++) {
      const noisy = new NaiveState(set, nativeTargets(set, mixture), { lambda, sigma, seed });
      let best = 0;
      for (let s = 1; s < 8; s++) if (noisy.key(s) < noisy.key(best)) best = s;
      refCounts[best]++;
    }
    expect(observed).toEqual(refCounts);
  });

  test(`chi-square against the simulation: p > ${P_THRESHOLD}`, () => {
    const p = simulate(sigma, SIM_SEED);
    const fit = chiSquare(observed, p);
    expect(fit.cells).toBeGreaterThanOrEqual(3);
    expect(fit.p).toBeGreaterThan(P_THRESHOLD);
  });

  test('power: the same test rejects a wrong noise scale or no noise', () => {
    // the same 400 observations must be inconsistent with sigma / 4, 4 sigma, and the noise-free argmin
    for (const wrong of [sigma / 4, sigma * 4]) expect(chiSquare(observed, simulate(wrong, SIM_SEED + 1)).p).toBeLessThan(P_THRESHOLD);
    const argmin = keys.indexOf(sortedKeys[0]);
    expect(observed[argmin]).toBeLessThan(SEEDS * 0.9);
  });
});
