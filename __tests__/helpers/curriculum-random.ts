/** Seeded random curricula for the curriculum tests. */
import type { Curriculum } from '../../lib/curriculum/curriculum';

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 1;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** K groups, n knots between minTokens and maxTokens (random spacing in log), logits in ±scale. */
export function randomCurriculum(r: () => number, K: number, n: number, minTokens: number, maxTokens: number, scale = 4): Curriculum {
  const lo = Math.log(minTokens);
  const hi = Math.log(maxTokens);
  const pts = Array.from({ length: n }, () => lo + (hi - lo) * r()).sort((a, b) => a - b);
  for (let i = 1; i < n; i++) if (!(pts[i] > pts[i - 1])) pts[i] = pts[i - 1] + 1e-3;
  const logits = new Float64Array(n * K);
  for (let i = 0; i < logits.length; i++) logits[i] = scale * (2 * r() - 1);
  return { groups: K, s: Float64Array.from(pts), logits };
}
