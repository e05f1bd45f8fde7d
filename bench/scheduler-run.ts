/**
 * One benchmark measurement in a fresh process (so peak RSS belongs to it):
 * generate a realistic packed corpus, bin it, schedule it, print one JSON line.
 *
 *   node dist/bench/scheduler-run.js --size M --groups K --lambda 1 --engine fast|brute|curriculum [--seed 1] [--steps N]
 *
 * `--steps N` schedules only the first N·L tokens (N steps of the packed corpus),
 * to measure the per-step cost and the memory at sizes whose full run is out of reach.
 *
 * `curriculum` schedules the same corpus against a seeded curriculum (logits =
 * log corpus shares plus a N(0, 0.5) walk over knots at 1%, 10% and 100% of
 * the tokens); its target table is built first and timed separately.
 */
import { targetTable } from '../lib/curriculum/targets';
import { computeLengthBins, type SequenceSet } from '../lib/io/sequences';
import { scheduleBruteForceSync, scheduleSync } from '../lib/scheduler';
import { generateCorpus } from './generate';

export type Engine = 'fast' | 'brute' | 'curriculum';

export interface RunResult {
  engine: Engine;
  size: number;
  groups: number;
  lambda: number;
  tokens: number;
  generateSeconds: number;
  scheduleSeconds: number;
  /** steps scheduled (all M unless --steps) */
  steps: number;
  /** curriculum only: building the target table (not in scheduleSeconds) */
  tableSeconds?: number;
  tableGridPoints?: number;
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

/** The bench curriculum: corpus shares tilted by a seeded random walk over three knots. */
export function benchCurriculum(set: SequenceSet, seed: number) {
  const K = set.numGroups;
  const count = new Float64Array(K);
  let total = 0;
  for (let i = 0; i < set.tokens.length; i++) {
    count[set.group[i]] += set.tokens[i];
    total += set.tokens[i];
  }
  let x = (seed * 2654435761) >>> 0 || 1;
  const normal = () => {
    const u = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return (x + 0.5) / 4294967296;
    };
    return Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  };
  const knots = [0.01, 0.1, 1].map((f) => Math.log(f * total));
  const logits = new Float64Array(knots.length * K);
  for (let k = 0; k < K; k++) {
    let walk = 0;
    for (let i = 0; i < knots.length; i++) {
      walk += 0.5 * normal();
      logits[i * K + k] = (count[k] > 0 ? Math.log(count[k] / total) : -700) + walk;
    }
  }
  return { curriculum: { groups: K, s: Float64Array.from(knots), logits }, total };
}

export function runOnce(size: number, groups: number, lambda: number, engine: Engine, seed: number, steps?: number): RunResult {
  let t = process.hrtime.bigint();
  const g = generateCorpus({ numSequences: size, numGroups: groups, seed });
  const { bin } = computeLengthBins(g.docLength, g.tokens, 16);
  const set = { offsets: g.offsets, group: g.group, bin, tokens: g.tokens, numGroups: groups, numBins: 16 };
  const generateSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  let table: ReturnType<typeof targetTable> | undefined;
  let tableSeconds: number | undefined;
  if (engine === 'curriculum') {
    const { curriculum, total } = benchCurriculum(set, seed);
    t = process.hrtime.bigint();
    table = targetTable(curriculum, total);
    tableSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  }
  const budget = steps !== undefined ? { budget: Math.min(steps, size) * 2048 } : {};
  t = process.hrtime.bigint();
  const r =
    engine === 'brute'
      ? scheduleBruteForceSync(set, { lambda, ...budget })
      : scheduleSync(set, { lambda, ...budget, ...(table ? { targets: table } : {}) });
  const scheduleSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  return {
    engine,
    size,
    groups,
    lambda,
    tokens: r.tokens,
    generateSeconds,
    scheduleSeconds,
    steps: r.stats.steps,
    ...(table ? { tableSeconds, tableGridPoints: table.tokens.length } : {}),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    exactScoresPerStep: r.stats.exactScores / Math.max(1, r.stats.steps),
    boundRefreshesPerStep: r.stats.boundRefreshes / Math.max(1, r.stats.steps),
    orderChecksum: checksum(r.order),
  };
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const engine = arg(argv, '--engine', 'fast');
  if (engine !== 'fast' && engine !== 'brute' && engine !== 'curriculum') {
    throw new Error(`--engine must be fast, brute or curriculum, not ${engine}`);
  }
  const res = runOnce(
    Number(arg(argv, '--size')),
    Number(arg(argv, '--groups', '10000')),
    Number(arg(argv, '--lambda', '1')),
    engine as Engine,
    Number(arg(argv, '--seed', '1')),
    argv.includes('--steps') ? Number(arg(argv, '--steps')) : undefined,
  );
  process.stdout.write(JSON.stringify(res) + '\n');
}
