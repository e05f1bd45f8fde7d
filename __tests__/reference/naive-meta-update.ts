/**
 * The meta-update by definition, pointwise: f_new(s) = f(s) + η·Δf(s), where
 * Δf interpolates the sorted samples linearly and clamps at the ends.
 */
export function refInterp(xs: number[], ys: number[][], s: number): number[] {
  if (s <= xs[0]) return ys[0];
  if (s >= xs[xs.length - 1]) return ys[ys.length - 1];
  let i = 0;
  while (!(xs[i] <= s && s <= xs[i + 1])) i++;
  const t = (s - xs[i]) / (xs[i + 1] - xs[i]);
  return ys[i].map((a, k) => a + t * (ys[i + 1][k] - a));
}

export function refUpdated(
  knots: number[],
  logits: number[][],
  samples: { s: number; delta: number[] }[],
  eta: number,
  s: number,
): number[] {
  const sorted = [...samples].sort((a, b) => a.s - b.s);
  const f = refInterp(knots, logits, s);
  const d = refInterp(sorted.map((x) => x.s), sorted.map((x) => x.delta), s);
  return f.map((v, k) => v + eta * d[k]);
}
