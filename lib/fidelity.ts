/**
 * Fidelity report: how closely the prefixes of an order follow the target
 * mixture, side by side with a seeded random shuffle of the same corpus.
 */
import { binding, nativeError, type NativeFidelity, type TargetTable } from './binding';
import { ValidationError } from './errors';
import type { SequenceSet } from './io/sequences';
import { nativeCorpus, type Order } from './scheduler';

export interface OrderFidelity {
  sequences: number;
  tokens: number;
  /** per group: max over prefixes of |T_j - E_j(S)|, in tokens (E_j(S) = tau_j S for a fixed mixture) */
  maxGroupDeviation: number[];
  /** per length bin: max over prefixes of |U_b - U*_b(S)|, in tokens */
  maxBinDeviation: number[];
  worstGroup: { group: number; name?: string; deviation: number };
  /** prefix lengths (tokens) and L1 mixture error sum_j |T_j - E_j(S)| / S at the checkpoints */
  checkpointTokens: number[];
  checkpointL1: number[];
  /** T_j / E_j(S) at the end (null where E_j(S) = 0) */
  finalRatio: (number | null)[];
}

export interface FidelityReport {
  format: 'curricula.fidelity';
  version: 1;
  checkpoints: number;
  greedy: OrderFidelity;
  shuffle: OrderFidelity & { seed: number };
  summary: string;
}

function summarize(f: NativeFidelity, names?: string[]): OrderFidelity {
  let worst = 0;
  for (let j = 1; j < f.groupMaxDeviation.length; j++) if (f.groupMaxDeviation[j] > f.groupMaxDeviation[worst]) worst = j;
  return {
    sequences: f.sequences,
    tokens: f.tokens,
    maxGroupDeviation: Array.from(f.groupMaxDeviation),
    maxBinDeviation: Array.from(f.binMaxDeviation),
    worstGroup: { group: worst, ...(names ? { name: names[worst] } : {}), deviation: f.groupMaxDeviation[worst] ?? 0 },
    checkpointTokens: Array.from(f.checkpointTokens),
    checkpointL1: Array.from(f.checkpointL1),
    finalRatio: Array.from(f.finalRatio, (x) => (Number.isFinite(x) ? x : null)),
  };
}

function orderTokens(set: SequenceSet, order: Order): number {
  let t = 0;
  for (let n = 0; n < order.length; n++) {
    const s = Number(order[n]);
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) t += set.tokens[i];
  }
  return t;
}

/** The shortest prefix of `perm` holding at least `tokens` tokens. */
function prefixWithTokens(set: SequenceSet, perm: Order, tokens: number): Order {
  let t = 0;
  let n = 0;
  while (n < perm.length && t < tokens) {
    const s = Number(perm[n++]);
    for (let i = Number(set.offsets[s]); i < Number(set.offsets[s + 1]); i++) t += set.tokens[i];
  }
  return perm.subarray(0, n);
}

/**
 * Prefix fidelity of `order` against its targets (a fixed mixture or a
 * curriculum's target table), beside a seeded shuffle cut at the same tokens.
 */
export function fidelityReport(
  set: SequenceSet,
  order: Order,
  targets: Float64Array | TargetTable,
  opts: { shuffleSeed?: number; checkpoints?: number } = {},
): FidelityReport {
  const checkpoints = opts.checkpoints ?? 10;
  const shuffleSeed = opts.shuffleSeed ?? 0;
  if (!Number.isInteger(checkpoints) || checkpoints < 1 || checkpoints > 1000) {
    throw new ValidationError('checkpoints', `Expected integer in [1, 1000] for \`checkpoints\` but received ${checkpoints}`);
  }
  const corpus = nativeCorpus(set);
  const b = binding();
  try {
    const greedy = summarize(b.fidelity(corpus, order, targets, checkpoints, orderTokens(set, order)), set.groupNames);
    const perm = prefixWithTokens(set, b.shuffle(set.offsets.length - 1, shuffleSeed), greedy.tokens);
    const shuffle = summarize(b.fidelity(corpus, perm, targets, checkpoints, greedy.tokens), set.groupNames);
    return {
      format: 'curricula.fidelity',
      version: 1,
      checkpoints,
      greedy,
      shuffle: { ...shuffle, seed: shuffleSeed },
      summary: summaryLine(greedy, shuffle),
    };
  } catch (e) {
    throw nativeError(e);
  }
}

function ratioRange(r: (number | null)[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of r) if (x !== null) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  return [lo, hi];
}

export function summaryLine(greedy: OrderFidelity, shuffle: OrderFidelity): string {
  const [lo, hi] = ratioRange(greedy.finalRatio);
  const [slo, shi] = ratioRange(shuffle.finalRatio);
  const l1 = greedy.checkpointL1[greedy.checkpointL1.length - 1] ?? 0;
  const sl1 = shuffle.checkpointL1[shuffle.checkpointL1.length - 1] ?? 0;
  const name = greedy.worstGroup.name ? ` (${greedy.worstGroup.name})` : '';
  return (
    `${greedy.sequences} sequences, ${greedy.tokens} tokens; final group/target ratios ${lo.toFixed(4)}..${hi.toFixed(4)} ` +
    `(shuffle ${slo.toFixed(4)}..${shi.toFixed(4)}); final L1 ${l1.toExponential(2)} (shuffle ${sl1.toExponential(2)}); ` +
    `worst prefix deviation ${greedy.worstGroup.deviation.toFixed(0)} tokens in group ${greedy.worstGroup.group}${name} ` +
    `(shuffle ${shuffle.worstGroup.deviation.toFixed(0)})`
  );
}
