/**
 * `curricula bench scheduler`: loads bench/scheduler-bench (compiled to
 * dist/bench/scheduler-bench.js) only when asked, so the CLI works without it.
 */
import * as path from 'path';

import { CurriculaError } from '../errors';
import type { BenchOptions } from '../../bench/scheduler-bench';
import { optional, parseCount, parseCountList, parseNumber, parsePositiveCount } from './parse';

export interface BenchFlags {
  sizes: string;
  groups: string;
  lambda: string;
  /** true (bare flag: every size) or a list of sizes */
  baseline?: boolean | string;
  /** true (bare flag: every size) or a list of sizes */
  curriculum?: boolean | string;
  maxSeconds?: string;
  steps?: string;
  out?: string;
}

interface SchedulerBench {
  main(opts: BenchOptions): Promise<unknown>;
}

function loadBench(): SchedulerBench {
  const file = path.resolve(__dirname, '..', '..', 'bench', 'scheduler-bench.js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as SchedulerBench;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(file)) {
      throw new CurriculaError(
        `the scheduler benchmark is not available: ${file} is missing (it ships with the source tree; build it with \`npm run build:ts\`)`,
        'ERR_CURRICULA_NO_BENCH',
      );
    }
    throw e;
  }
}

export async function benchSchedulerCommand(flags: BenchFlags): Promise<void> {
  const sizes = parseCountList('--sizes', flags.sizes);
  const baselineSizes =
    flags.baseline === true ? sizes : typeof flags.baseline === 'string' ? parseCountList('--baseline', flags.baseline) : undefined;
  await loadBench().main({
    sizes,
    groups: parseCount('--groups', flags.groups),
    lambda: parseNumber('--lambda', flags.lambda),
    baselineSizes,
    curriculumSizes:
      flags.curriculum === true ? sizes : typeof flags.curriculum === 'string' ? parseCountList('--curriculum', flags.curriculum) : undefined,
    maxSeconds: optional('--max-seconds', flags.maxSeconds, parseNumber),
    steps: optional('--steps', flags.steps, parsePositiveCount),
    out: flags.out,
  });
}
