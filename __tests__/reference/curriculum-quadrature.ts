/**
 * Slow, obviously-correct references for curriculum targets: p(n) evaluated
 * directly from the knots (linear scan), and E_k(S) = ∫_0^S p_k(n) dn by
 * adaptive Gauss–Kronrod (7/15) in n itself (not in log n), split at the knots.
 */

export interface RefCurriculum {
  groups: number;
  s: ArrayLike<number>;
  logits: ArrayLike<number>;
}

/** p(n) by the definition: interpolate logits linearly in log n, clamp, softmax. */
export function refMixture(c: RefCurriculum, n: number): number[] {
  const K = c.groups;
  const m = c.s.length;
  const s = Math.log(n);
  const f: number[] = [];
  if (s <= c.s[0]) for (let k = 0; k < K; k++) f.push(c.logits[k]);
  else if (s >= c.s[m - 1]) for (let k = 0; k < K; k++) f.push(c.logits[(m - 1) * K + k]);
  else {
    let i = 0;
    while (!(s >= c.s[i] && s <= c.s[i + 1])) i++;
    const t = (s - c.s[i]) / (c.s[i + 1] - c.s[i]);
    for (let k = 0; k < K; k++) f.push(c.logits[i * K + k] + t * (c.logits[(i + 1) * K + k] - c.logits[i * K + k]));
  }
  const mx = Math.max(...f);
  const e = f.map((x) => Math.exp(x - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

// Gauss–Kronrod 7/15 nodes and weights on [-1, 1] (classical tabulated values).
const XGK = [
  0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
  0.741531185599394439863864773280788, 0.58608723546769113029414483825873, 0.405845151377397166906606412076961,
  0.207784955007898467600689403773245, 0.0,
];
const WGK = [
  0.02293532201052922496373200805897, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
  0.140653259715525918745189590510238, 0.16900472663926790282658342659855, 0.190350578064785409913256402421014,
  0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
];
const WG = [0.129484966168869693270611432679082, 0.27970539148927666790146777142378, 0.381830050505118944950369775488975, 0.417959183673469387755102040816327];

function gk15(f: (x: number) => number[], a: number, b: number, K: number): { value: number[]; error: number[] } {
  const c = 0.5 * (a + b);
  const h = 0.5 * (b - a);
  const kr = new Array<number>(K).fill(0);
  const ga = new Array<number>(K).fill(0);
  for (let i = 0; i < 8; i++) {
    const xs = i === 7 ? [c] : [c - h * XGK[i], c + h * XGK[i]];
    for (const x of xs) {
      const v = f(x);
      for (let k = 0; k < K; k++) {
        kr[k] += WGK[i] * v[k];
        if (i % 2 === 1) ga[k] += WG[(i - 1) / 2] * v[k];
      }
    }
  }
  return { value: kr.map((x) => x * h), error: kr.map((x, k) => Math.abs(x - ga[k]) * h) };
}

/** Adaptive GK15 on [a, b]: bisect until every component's error estimate is below rel·|value| (+ tiny abs). */
function adaptive(f: (x: number) => number[], a: number, b: number, K: number, rel: number, depth = 0): number[] {
  const r = gk15(f, a, b, K);
  const ok = r.error.every((e, k) => e <= rel * Math.abs(r.value[k]) + 1e-300);
  if (ok || depth > 50) return r.value;
  const m = 0.5 * (a + b);
  const left = adaptive(f, a, m, K, rel, depth + 1);
  const right = adaptive(f, m, b, K, rel, depth + 1);
  return left.map((x, k) => x + right[k]);
}

/** E_k(S) for every k, to roughly `rel` relative accuracy (default 1e-14). */
export function refCumulative(c: RefCurriculum, S: number, rel = 1e-14): number[] {
  const K = c.groups;
  const breaks = [0];
  for (let i = 0; i < c.s.length; i++) {
    const n = Math.exp(c.s[i]);
    if (n > 0 && n < S) breaks.push(n);
  }
  breaks.push(S);
  const total = new Array<number>(K).fill(0);
  for (let i = 0; i + 1 < breaks.length; i++) {
    const a = breaks[i];
    const b = breaks[i + 1];
    if (!(b > a)) continue;
    // Within a knot interval p(n) is smooth in n; near n = a the log makes it steep, so
    // start from geometric pieces [a, 2a, 4a, ...] (a > 0) to help the bisection.
    const pieces: number[] = [a];
    if (a > 0) for (let x = 2 * a; x < b; x *= 2) pieces.push(x);
    pieces.push(b);
    for (let j = 0; j + 1 < pieces.length; j++) {
      const v = adaptive((n) => refMixture(c, n), pieces[j], pieces[j + 1], K, rel);
      for (let k = 0; k < K; k++) total[k] += v[k];
    }
  }
  return total;
}
