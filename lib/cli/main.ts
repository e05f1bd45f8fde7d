#!/usr/bin/env node
/**
 * The `curricula` command line: schedule, generate, bench scheduler.
 * Exit codes: 0 success, 1 bad input or failure, 2 usage error, 130 interrupted.
 * See docs/cli.md.
 */
import * as fs from 'fs';
import * as path from 'path';

import { Command, CommanderError, Option } from 'commander';

import { AbortError, CurriculaError } from '../errors';
import { registerAnalyze } from './analyze-command';
import { benchSchedulerCommand, type BenchFlags } from './bench-command';
import { registerDemoCommand } from './demo-command';
import { generateCommand, type GenerateFlags } from './generate-command';
import { registerCurriculumCommands } from './curriculum-command';
import { registerInfluenceCommands } from './influence-command';
import { scheduleCommand, type ScheduleFlags } from './schedule-command';

function packageVersion(): string {
  const file = path.resolve(__dirname, '..', '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('curricula')
    .description('Turn a data curriculum (a target mixture over groups) into an explicit, exact training order.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`curricula: ${text}`) })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('schedule')
    .description('schedule a sequence set into a training order (.npy) and write its fidelity report')
    .requiredOption('--sequences <path>', 'sequences directory (with manifest.json) or JSON Lines file')
    .requiredOption('--out <file.npy>', 'where to write the order (uint32, or uint64 for huge corpora)')
    .option('--mixture <file>', 'target group mixture (.npy or JSON); default: the corpus own token shares')
    .option('--curriculum <file.json>', 'follow a curriculum (from `curricula curriculum init|update`) instead of a fixed mixture')
    .option('--knots <file.json>', 'follow a public-reference knot schedule {"<tokens>": {"dataset0": p, ...}} (its own semantics)')
    .option('--report <file.json>', 'where to write the fidelity report (default: <out without .npy>.report.json)')
    .option('--lambda <x>', 'weight of the document-length-bin family, >= 0 (default: 1)')
    .addOption(new Option('--objective <name>', 'score: sum of squares or norms (default: sos)').choices(['sos', 'norm']))
    .option('--sigma <x>', 'standard deviation of the score noise, >= 0 (default: 0)')
    .option('--seed <n>', 'seed for the score noise (default: 0)')
    .option('--budget <tokens>', 'stop once this many tokens are scheduled, e.g. 1000000 or 1e9 (default: all)')
    .option('--resume <order.npy>', 'continue after this previous order; --out receives only the continuation')
    .option('--offset <tokens>', 'tokens in the resumed prefix; checked against --resume')
    .option('--bins <n>', 'number of document-length bins when bins are computed (default: 16)')
    .option('--groups <k>', 'JSONL only: number of groups (default: largest group id + 1)')
    .option('--shuffle-seed <n>', 'seed of the random shuffle the report compares against (default: 0)')
    .option('-q, --quiet', 'no progress or status on stderr')
    .action((flags: ScheduleFlags) => scheduleCommand(flags));

  program
    .command('generate')
    .description('write a realistic synthetic corpus (Zipf-sized clusters, log-normal documents packed into sequences)')
    .requiredOption('--sequences <n>', 'number of sequences, e.g. 300000 or 3e5')
    .requiredOption('--groups <k>', 'number of groups (clusters)')
    .requiredOption('--out <dir>', 'sequences directory to write (created if missing)')
    .option('--seed <n>', 'random seed (default: 1)')
    .option('--zipf <s>', 'Zipf exponent of the cluster sizes (default: 1)')
    .option('--seq-length <tokens>', 'tokens per packed sequence (default: 2048)')
    .option('--short-fraction <f>', 'fraction of sequences that are a single short document, in [0, 1] (default: 0)')
    .action((flags: GenerateFlags) => generateCommand(flags));

  const bench = program.command('bench').description('benchmarks');
  bench
    .command('scheduler')
    .description('time the scheduler on generated corpora, each size in its own process')
    .option('--sizes <list>', 'comma-separated corpus sizes in sequences', '1e4,1e5,1e6')
    .option('--groups <k>', 'number of groups', '10000')
    .option('--lambda <x>', 'length-bin weight', '1')
    .option('--baseline [list]', 'also time the brute-force baseline (at every size, or at the listed sizes)')
    .option('--curriculum [list]', 'also time a curriculum schedule of the same corpus (at every size, or at the listed sizes)')
    .option('--max-seconds <s>', 'wall-clock limit per run (default: 600)')
    .option('--steps <n>', 'schedule only the first n steps (n·L tokens) of each run: per-step cost and memory at sizes whose full run is out of reach')
    .option('--out <file.json>', 'also write the results as JSON')
    .action((flags: BenchFlags) => benchSchedulerCommand(flags));
  registerInfluenceCommands(program, bench);
  registerDemoCommand(program);

  registerCurriculumCommands(program);
  registerAnalyze(program);
  return program;
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'syscall' in e;
}

/** Prints `e` the way a user should see it and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander has printed its message
  if (e instanceof AbortError) {
    process.stderr.write('curricula: interrupted; nothing was written\n');
    return 130;
  }
  if (e instanceof CurriculaError || isSystemError(e)) {
    process.stderr.write(`curricula: error: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`curricula: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
  return 1;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
