/**
 * Target mixtures: one weight per group, non-negative, summing to 1.
 */
import * as fs from 'fs';

import { FormatError, ValidationError, describeValue, expectPositiveInteger } from '../errors';
import { parseNpy } from './npy';
import type { SequenceSet } from './sequences';

export const MIXTURE_SUM_TOLERANCE = 1e-6;

function label(i: number, groupNames?: readonly string[]): string {
  return groupNames?.[i] !== undefined ? `mixture[${i}] (group ${JSON.stringify(groupNames[i])})` : `mixture[${i}]`;
}

/**
 * Check that `m` is a mixture over K groups and return it as a fresh
 * Float64Array. `groupNames`, if given, only makes messages friendlier.
 */
export function validateMixture(
  m: Float64Array | readonly number[],
  K: number,
  groupNames?: readonly string[],
): Float64Array {
  expectPositiveInteger('numGroups', K);
  if (!(m instanceof Float64Array) && !Array.isArray(m)) {
    throw new ValidationError('mixture', `Expected array of numbers for \`mixture\` but received ${describeValue(m)}`);
  }
  if (m.length !== K) {
    throw new ValidationError('mixture', `\`mixture\` has ${m.length} entries but there are ${K} groups`);
  }
  let sum = 0;
  for (let i = 0; i < K; i++) {
    const p = m[i];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) {
      throw new ValidationError(`mixture[${i}]`, `${label(i, groupNames)} = ${describeValue(p)} must be a finite number >= 0`);
    }
    sum += p;
  }
  if (!(Math.abs(sum - 1) <= MIXTURE_SUM_TOLERANCE)) {
    const off = sum - 1;
    throw new ValidationError(
      'mixture',
      `\`mixture\` sums to ${sum} (off by ${off > 0 ? '+' : ''}${off.toExponential(2)}); it must sum to 1 within ${MIXTURE_SUM_TOLERANCE}`,
    );
  }
  return Float64Array.from(m);
}

/**
 * Read a mixture over K groups from a .npy float vector, or JSON:
 * `[p0, p1, ...]`, `{"mixture": [...]}` or `{"weights": {"<groupName>": p}}`
 * (names need `groupNames`; names left out get 0).
 */
export function readMixture(path: string, K: number, groupNames?: readonly string[]): Float64Array {
  const bytes = fs.readFileSync(path);
  if (bytes.subarray(0, 6).toString('latin1') === '\x93NUMPY') {
    const arr = parseNpy(bytes, path);
    if (arr.dtype !== '<f4' && arr.dtype !== '<f8') {
      throw new FormatError(path, `${path}: a mixture .npy must have dtype <f8 or <f4 but has ${arr.dtype}`);
    }
    if (arr.shape.length !== 1) {
      throw new FormatError(path, `${path}: a mixture .npy must be 1-D but has shape (${arr.shape.join(', ')})`);
    }
    return validateMixture(Float64Array.from(arr.data as Float32Array | Float64Array), K, groupNames);
  }

  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FormatError(path, `${path}: neither a .npy file nor valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (Array.isArray(raw)) return validateMixture(raw, K, groupNames);
  if (raw !== null && typeof raw === 'object' && 'mixture' in raw) {
    return validateMixture(raw.mixture as number[], K, groupNames);
  }
  if (raw !== null && typeof raw === 'object' && 'weights' in raw) {
    const weights = raw.weights;
    if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
      throw new ValidationError('weights', `${path}: Expected object for \`weights\` but received ${describeValue(weights)}`);
    }
    if (groupNames === undefined) {
      throw new ValidationError('groupNames', `${path}: \`weights\` by group name needs group names, but the sequence set has none`);
    }
    const m = new Array<number>(K).fill(0);
    for (const [name, p] of Object.entries(weights)) {
      const i = groupNames.indexOf(name);
      if (i < 0 || i >= K) {
        const known = groupNames.slice(0, 10).map((n) => JSON.stringify(n)).join(', ');
        throw new ValidationError(
          `weights.${name}`,
          `${path}: unknown group name ${JSON.stringify(name)} in \`weights\` (known: ${known}${groupNames.length > 10 ? ', ...' : ''})`,
        );
      }
      m[i] = p as number;
    }
    return validateMixture(m, K, groupNames);
  }
  throw new FormatError(
    path,
    `${path}: expected a JSON array of ${K} numbers, {"mixture": [...]} or {"weights": {"<group name>": p, ...}}`,
  );
}

/** The corpus's own mixture: each group's share of all tokens. */
export function corpusMixture(set: SequenceSet): Float64Array {
  const out = new Float64Array(set.numGroups);
  let total = 0;
  for (let i = 0; i < set.tokens.length; i++) {
    const g = set.group[i];
    // a typed-array write out of range would be silently dropped
    if (g >= out.length) throw new ValidationError(`group[${i}]`, `group[${i}] = ${g} is out of range [0, ${out.length})`);
    out[g] += set.tokens[i];
    total += set.tokens[i];
  }
  if (total === 0) throw new ValidationError('tokens', 'the sequence set has no tokens, so it has no mixture');
  for (let k = 0; k < out.length; k++) out[k] /= total;
  return out;
}
