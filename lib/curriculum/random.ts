/**
 * Seeded uniform draws for Algorithm 1 (SplitMix64 over BigInt: a draw depends
 * only on the seed and its index, the same on every platform).
 */
import { ValidationError, describeValue } from '../errors';

const MASK = (1n << 64n) - 1n;

function mix(z: bigint): bigint {
  z = (z + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

export type Seed = number | bigint;

export function seedToBigInt(seed: Seed, field = 'seed'): bigint {
  if (typeof seed === 'bigint' && seed >= 0n && seed <= MASK) return seed;
  if (typeof seed === 'number' && Number.isSafeInteger(seed) && seed >= 0) return BigInt(seed);
  throw new ValidationError(field, `Expected integer in [0, 2^64) for \`${field}\` but received ${describeValue(seed)}`);
}

/** The i-th uniform in [0, 1) (53 bits) of stream `seed`. */
export function uniformAt(seed: Seed, i: number): number {
  const z = mix((seedToBigInt(seed) * 0x2545f4914f6cdd1dn + mix(BigInt(i))) & MASK);
  return Number(z >> 11n) / 2 ** 53;
}

/** `n` uniforms in [0, 1). */
export function uniforms(seed: Seed, n: number): Float64Array {
  const s = seedToBigInt(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = uniformAt(s, i);
  return out;
}
