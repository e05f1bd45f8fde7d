/**
 * Seeded train / held-out split of a grouped document collection: the target
 * genre gives up a larger held-out share (the evaluation target set, never
 * trained on) and optionally a second, disjoint share (the influence target
 * set: target-like documents the influence step may read), every other genre
 * a small evaluation slice.
 */
import { ValidationError, describeValue } from '../errors';

export interface SplitOptions {
  /** index of the target group */
  target: number;
  /** share of target-group documents held out as the target set */
  targetFraction: number;
  /** share of every other group's documents held out for evaluation (at least one each) */
  evalFraction: number;
  /** share of target-group documents held out as the influence target set (default 0: none) */
  influenceFraction?: number;
  seed: number;
}

export interface Split {
  /** document indices, ascending, in each part */
  train: number[];
  target: number[];
  /** held-out target-group documents for the influence step (disjoint from `target`) */
  influence: number[];
  /** held-out documents of every non-target group */
  heldOut: number[];
}

/** 32-bit FNV-1a then a murmur finaliser: a fixed, order-independent key per (seed, id). */
export function hashKey(seed: number, id: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function checkFraction(field: string, x: number): void {
  if (typeof x !== 'number' || !(x > 0 && x < 1)) {
    throw new ValidationError(field, `Expected number in (0, 1) for \`${field}\` but received ${describeValue(x)}`);
  }
}

/**
 * Within each group, documents are ranked by hashKey(seed, id); the first
 * round(fraction * n) (at least 1, at most n - 1) are held out. In the target
 * group the next round(influenceFraction * n) (at least 1 when the fraction is
 * positive) form the influence target set; at least one document stays for training.
 */
export function splitDocuments(docs: readonly { id: string; group: number }[], opts: SplitOptions): Split {
  checkFraction('targetFraction', opts.targetFraction);
  checkFraction('evalFraction', opts.evalFraction);
  const influenceFraction = opts.influenceFraction ?? 0;
  if (influenceFraction !== 0) checkFraction('influenceFraction', influenceFraction);
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) {
    throw new ValidationError('seed', `Expected non-negative integer for \`seed\` but received ${describeValue(opts.seed)}`);
  }
  const byGroup = new Map<number, number[]>();
  docs.forEach((d, i) => {
    const list = byGroup.get(d.group) ?? [];
    list.push(i);
    byGroup.set(d.group, list);
  });
  if (!byGroup.has(opts.target)) {
    throw new ValidationError('target', `the target group ${opts.target} has no documents`);
  }
  const held = new Set<number>();
  const target = new Set<number>();
  const influence = new Set<number>();
  for (const [g, list] of byGroup) {
    const n = list.length;
    if (n < 2) {
      throw new ValidationError('docs', `group ${g} has ${n} document; every group needs at least 2 (one to train, one held out)`);
    }
    const ranked = list.slice().sort((a, b) => hashKey(opts.seed, docs[a].id) - hashKey(opts.seed, docs[b].id) || a - b);
    const fraction = g === opts.target ? opts.targetFraction : opts.evalFraction;
    const k = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    for (const i of ranked.slice(0, k)) (g === opts.target ? target : held).add(i);
    if (g === opts.target && influenceFraction > 0) {
      const m = Math.max(1, Math.round(influenceFraction * n));
      if (k + m > n - 1) {
        throw new ValidationError(
          'influenceFraction',
          `the target group has ${n} documents: ${k} for evaluation and ${m} for influence leave none to train on; lower \`targetFraction\` or \`influenceFraction\``,
        );
      }
      for (const i of ranked.slice(k, k + m)) influence.add(i);
    }
  }
  const train: number[] = [];
  docs.forEach((_, i) => {
    if (!held.has(i) && !target.has(i) && !influence.has(i)) train.push(i);
  });
  const asc = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { train, target: asc(target), influence: asc(influence), heldOut: asc(held) };
}
