/**
 * `curricula schedule`: read a sequence set, schedule it, write the order and
 * its fidelity report. Nothing is written unless scheduling succeeds.
 */
import type { TargetTable } from '../binding';
import { assertGroups } from '../curriculum/curriculum';
import { knotScheduleTargetTable, readKnotSchedule } from '../curriculum/interop';
import { readCurriculum } from '../curriculum/serialize';
import { AbortError, ValidationError } from '../errors';
import { fidelityReport } from '../fidelity';
import { writeFileAtomic } from '../io/atomic';
import { readMixture } from '../io/mixture';
import { writeNpyAtomic } from '../io/npy';
import { schedule, type Order } from '../scheduler';
import { checkWritable, concatOrders, readOrder, readSequences } from './inputs';
import { optional, parseCount, parseNumber } from './parse';
import { createProgress, formatDuration } from './progress';

/** Flag values as commander hands them over (strings until parsed here). */
export interface ScheduleFlags {
  sequences: string;
  out: string;
  mixture?: string;
  curriculum?: string;
  knots?: string;
  report?: string;
  lambda?: string;
  sigma?: string;
  seed?: string;
  budget?: string;
  offset?: string;
  resume?: string;
  objective?: 'sos' | 'norm';
  bins?: string;
  groups?: string;
  shuffleSeed?: string;
  quiet?: boolean;
}

function totalTokens(set: { tokens: Uint32Array }): number {
  let t = 0;
  for (let i = 0; i < set.tokens.length; i++) t += set.tokens[i];
  return t;
}

export function defaultReportPath(out: string): string {
  return `${out.replace(/\.npy$/i, '')}.report.json`;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Calls `onFirst` on the first SIGINT; a second one exits at once. Returns the uninstaller. */
function onInterrupt(onFirst: () => void): () => void {
  let count = 0;
  const handler = () => {
    if (++count > 1) process.exit(130);
    process.stderr.write('\ncurricula: interrupted, stopping (Ctrl-C again to quit at once)\n');
    onFirst();
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

export async function scheduleCommand(flags: ScheduleFlags): Promise<void> {
  const start = process.hrtime.bigint();
  const log = (line: string) => flags.quiet || process.stderr.write(`curricula: ${line}\n`);

  // Every flag is checked before anything slow happens.
  const numBins = optional('--bins', flags.bins, parseCount);
  const numGroups = optional('--groups', flags.groups, parseCount);
  const options = {
    lambda: optional('--lambda', flags.lambda, parseNumber),
    sigma: optional('--sigma', flags.sigma, parseNumber),
    seed: optional('--seed', flags.seed, parseCount),
    budget: optional('--budget', flags.budget, parseCount),
    offset: optional('--offset', flags.offset, parseCount),
    objective: flags.objective,
  };
  const shuffleSeed = optional('--shuffle-seed', flags.shuffleSeed, parseCount) ?? 0;
  const reportPath = flags.report ?? defaultReportPath(flags.out);
  checkWritable('--out', flags.out);
  checkWritable('--report', reportPath);

  const given = (['mixture', 'curriculum', 'knots'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 1) {
    throw new ValidationError(`--${given[1]}`, `give one of --mixture, --curriculum or --knots, not ${given.map((k) => `--${k}`).join(' and ')}`);
  }
  const curriculum = flags.curriculum === undefined ? undefined : readCurriculum(flags.curriculum);
  const knots = flags.knots === undefined ? undefined : readKnotSchedule(flags.knots);

  const set = readSequences(flags.sequences, { numBins, numGroups });
  const mixture = flags.mixture === undefined ? undefined : readMixture(flags.mixture, set.numGroups, set.groupNames);
  if (curriculum) assertGroups(curriculum, set.numGroups, '--curriculum');
  let targets: TargetTable | undefined;
  if (knots) {
    if (knots.names.length !== set.numGroups) {
      throw new ValidationError('--knots', `\`--knots\` has ${knots.names.length} datasets but the data has ${set.numGroups} groups`);
    }
    targets = knotScheduleTargetTable(knots, totalTokens(set) + (options.offset ?? 0));
  }
  const resume = flags.resume === undefined ? undefined : readOrder(flags.resume);
  log(
    `read ${set.offsets.length - 1} sequences (${set.numGroups} groups, ${set.numBins} length bins) ` +
      `in ${formatDuration(seconds(start))}`,
  );

  const controller = new AbortController();
  const progress = createProgress(flags.quiet ?? false);
  const uninstall = onInterrupt(() => controller.abort());
  try {
    const result = await schedule(set, {
      ...options,
      mixture,
      curriculum,
      targets,
      resume,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    // From here on everything is synchronous, so a SIGINT cannot land between the two writes.
    if (controller.signal.aborted) throw new AbortError();
    const full: Order = resume ? concatOrders(resume, result.order) : result.order;
    const report = fidelityReport(set, full, result.targets ?? result.mixture, { shuffleSeed });
    writeNpyAtomic(flags.out, result.order);
    writeFileAtomic(reportPath, JSON.stringify(report, null, 2) + '\n');

    const dtype = result.order instanceof Uint32Array ? 'uint32' : 'uint64';
    const resumed = resume ? ` after ${resume.length} resumed` : '';
    process.stdout.write(
      `${report.summary}\n` +
        `order:   ${flags.out} (${result.order.length} sequences${resumed}, ${result.tokens} tokens, ${dtype})\n` +
        `report:  ${reportPath}\n` +
        `elapsed: ${formatDuration(seconds(start))}\n`,
    );
  } finally {
    progress.stop();
    uninstall();
  }
}
