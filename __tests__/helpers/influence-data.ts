/** Seeded random inputs for the influence tests. */

/** mulberry32 in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Random float16 bits with exponents in a safe normal range. */
export function randomF16Bits(n: number, seed: number): Uint16Array {
  const r = rng(seed);
  return Uint16Array.from({ length: n }, () => (r() < 0.5 ? 0x8000 : 0) | ((8 + Math.floor(r() * 8)) << 10) | Math.floor(r() * 1024));
}

/** Random bfloat16 bits (the top half of random floats). */
export function randomBf16Bits(n: number, seed: number): Uint16Array {
  const u = new Uint32Array(randomF32(n, seed).buffer);
  return Uint16Array.from(u, (x) => x >>> 16);
}

export function randomClusters(n: number, K: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * K));
}

export function randomTargets(n: number, p: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() < p ? 1 : 0));
}

export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Max |a - b| / (|b| max + tiny), over equal-length arrays. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / (scale + 1e-300);
}

/** Same length and the same bytes (NaN payloads and -0 included). */
export function expectBitIdentical(a: ArrayBufferView, b: ArrayBufferView): void {
  expect(a.byteLength).toBe(b.byteLength);
  expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
}
