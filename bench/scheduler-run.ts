/**
 * One benchmark measurement in a fresh process (so peak RSS belongs to it):
 * generate a realistic packed corpus, bin it, schedule it, print one JSON line.
 *
 *   node dist/bench/scheduler-run.js --size M --groups K --lambda 1 --engine lazy|brute [--seed 1]
 */
import { computeLengthBins } from '../lib/io/sequences';
import { scheduleBruteForceSync, scheduleSync } from '../lib/scheduler';
import { generateCorpus } from './generate';

export interface RunResult {
  engine: 'lazy' | 'brute';
  size: number;
  groups: number;
  lambda: number;
  tokens: number;
  generateSeconds: number;
  scheduleSeconds: number;
  peakRssBytes: number;
  exactScoresPerStep: number;
  boundRefreshesPerStep: number;
  orderChecksum: string;
}

function arg(argv: string[], name: string, def?: string): string {
  const i = argv.indexOf(name);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  if (def === undefined) throw new Error(`missing ${name}`);
  return def;
}

/** FNV-1a over the order, to compare engines across processes. */
function checksum(order: ArrayLike<number | bigint>): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < order.length; i++) h = ((h ^ BigInt(order[i])) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16);
}

export function runOnce(size: number, groups: number, lambda: number, engine: 'lazy' | 'brute', seed: number): RunResult {
  let t = process.hrtime.bigint();
  const g = generateCorpus({ numSequences: size, numGroups: groups, seed });
  const { bin } = computeLengthBins(g.docLength, g.tokens, 16);
  const set = { offsets: g.offsets, group: g.group, bin, tokens: g.tokens, numGroups: groups, numBins: 16 };
  const generateSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  t = process.hrtime.bigint();
  const r = engine === 'lazy' ? scheduleSync(set, { lambda }) : scheduleBruteForceSync(set, { lambda });
  const scheduleSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  return {
    engine,
    size,
    groups,
    lambda,
    tokens: r.tokens,
    generateSeconds,
    scheduleSeconds,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    exactScoresPerStep: r.stats.exactScores / Math.max(1, r.stats.steps),
    boundRefreshesPerStep: r.stats.boundRefreshes / Math.max(1, r.stats.steps),
    orderChecksum: checksum(r.order),
  };
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const engine = arg(argv, '--engine', 'lazy');
  if (engine !== 'lazy' && engine !== 'brute') throw new Error(`--engine must be lazy or brute, not ${engine}`);
  const res = runOnce(
    Number(arg(argv, '--size')),
    Number(arg(argv, '--groups', '10000')),
    Number(arg(argv, '--lambda', '1')),
    engine,
    Number(arg(argv, '--seed', '1')),
  );
  process.stdout.write(JSON.stringify(res) + '\n');
}
