/**
 * `curricula demo`: the end-to-end demo on the Brown Corpus (lib/demo/run.ts).
 * Writes report.html, results.json and curriculum.json into --out.
 */
import type { Command } from 'commander';

import { AbortError } from '../errors';
import { createDemoProgress } from '../demo/progress';
import { baselineConfiguration, runDemo, targetShareConfiguration, type Configuration, type DemoOptions } from '../demo/run';
import { optional, parseCount, parseCountList, parseNumber } from './parse';
import { formatDuration } from './progress';

export interface DemoFlags {
  out: string;
  target?: string;
  budget?: string;
  seeds?: string;
  vocab?: string;
  seqLength?: string;
  hidden?: string;
  embed?: string;
  context?: string;
  batch?: string;
  lr?: string;
  concurrency?: string;
  mixtureCheck?: boolean;
  quiet?: boolean;
}

export async function demoCommand(flags: DemoFlags): Promise<void> {
  const model = {
    context: optional('--context', flags.context, parseCount),
    embed: optional('--embed', flags.embed, parseCount),
    hidden: optional('--hidden', flags.hidden, parseCount),
  };
  const options: DemoOptions = {
    out: flags.out,
    data: {
      ...(flags.target !== undefined && { targetGenre: flags.target }),
      ...(flags.vocab !== undefined && { vocabSize: parseCount('--vocab', flags.vocab) }),
      ...(flags.seqLength !== undefined && { seqLength: parseCount('--seq-length', flags.seqLength) }),
    },
    model: Object.fromEntries(Object.entries(model).filter(([, v]) => v !== undefined)) as DemoOptions['model'],
    budget: optional('--budget', flags.budget, parseCount),
    seeds: optional('--seeds', flags.seeds, parseCountList),
    batchSize: optional('--batch', flags.batch, parseCount),
    concurrency: optional('--concurrency', flags.concurrency, parseCount),
    ...(flags.lr !== undefined && { lr: { peak: parseNumber('--lr', flags.lr), decay: 'cosine', warmupSteps: 10, final: 0.1 } }),
  };
  const configurations: Configuration[] = [baselineConfiguration];
  if (flags.mixtureCheck) configurations.push(targetShareConfiguration(0), targetShareConfiguration(0.5));

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\ncurricula: interrupted, stopping (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = createDemoProgress(flags.quiet ?? false);
  try {
    const run = await runDemo({ ...options, signal: controller.signal }, configurations, progress);
    progress.stop();
    if (controller.signal.aborted) throw new AbortError();
    const r = run.results;
    const lines = r.configurations.map(
      (c) =>
        `${c.name.padEnd(12)} target loss ${c.targetLoss.mean.toFixed(4)} ± ${c.targetLoss.std.toFixed(4)}, ` +
        `held-out ${c.heldOutLoss.mean.toFixed(4)} ± ${c.heldOutLoss.std.toFixed(4)} (nats/token, ${c.runs.length} seeds)`,
    );
    process.stdout.write(
      `${lines.join('\n')}\n` +
        `report:  ${run.files.report}\n` +
        `results: ${run.files.results}\n` +
        `elapsed: ${formatDuration(r.totalSeconds)}\n`,
    );
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('end-to-end demo on the Brown Corpus: schedule, train a small LM per configuration and seed, write a report')
    .option('--out <dir>', 'output folder for report.html, results.json, curriculum.json', 'demo-out')
    .option('--target <genre>', 'target genre, by letter or name (default: J, learned)')
    .option('--budget <tokens>', 'training tokens per run (default: 200000)')
    .option('--seeds <list>', 'comma-separated model seeds (default: 1,2,3)')
    .option('--vocab <n>', 'vocabulary size including <eos> and <unk> (default: 1024)')
    .option('--seq-length <n>', 'tokens per packed sequence (default: 128)')
    .option('--context <k>', 'previous tokens the model sees (default: 3)')
    .option('--embed <n>', 'embedding width (default: 32)')
    .option('--hidden <n>', 'hidden width (default: 64)')
    .option('--batch <n>', 'sequences per SGD step (default: 4)')
    .option('--lr <x>', 'peak learning rate (default: 1)')
    .option('--concurrency <n>', 'trainings run at once (default: 2)')
    .option('--mixture-check', 'also train with 0% and 50% target-genre mixtures (does the mixture matter?)')
    .option('-q, --quiet', 'no progress on stderr')
    .action((flags: DemoFlags) => demoCommand(flags));
}
