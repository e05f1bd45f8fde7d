/**
 * `curricula demo`: the end-to-end demo on the Brown Corpus (lib/demo/run.ts):
 * Baseline, TerRIFIC, TerRIFIC-AVG and Curriculum, the same budget and scheduler.
 * Writes report.html, report.svg, results.json and curriculum.json into --out.
 */
import type { Command } from 'commander';

import { AbortError } from '../errors';
import { createDemoProgress } from '../demo/progress';
import { configurationsByName, runDemo, targetShareConfiguration, type Configuration, type DemoOptions } from '../demo/run';
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
  configurations?: string;
  eta?: string;
  metaIterations?: string;
  metaSamples?: string;
  metaEta?: string;
  perGenre?: string;
  referenceSeed?: string;
  analysis?: boolean;
  mixtureCheck?: boolean;
  quiet?: boolean;
}

/** The entries of `o` that are not undefined (so schema defaults apply to the rest). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
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
    referenceSeed: optional('--reference-seed', flags.referenceSeed, parseCount),
    ...(flags.lr !== undefined && { lr: { peak: parseNumber('--lr', flags.lr), decay: 'cosine', warmupSteps: 10, final: 0.1 } }),
    ...(flags.eta !== undefined && { terrific: { eta: parseNumber('--eta', flags.eta) } }),
    curriculum: defined({
      iterations: optional('--meta-iterations', flags.metaIterations, parseCount),
      samples: optional('--meta-samples', flags.metaSamples, parseCount),
      eta: optional('--meta-eta', flags.metaEta, parseNumber),
    }),
    influence: defined({ perGenre: optional('--per-genre', flags.perGenre, parseCount) }),
    ...(flags.analysis === false && { analysis: { enabled: false } }),
  };
  const configurations: Configuration[] = configurationsByName(
    (flags.configurations ?? 'baseline,terrific,terrific-avg,curriculum').split(','),
    '--configurations',
  );
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
        `${c.name.padEnd(13)} target loss ${c.targetLoss.mean.toFixed(4)} ± ${c.targetLoss.std.toFixed(4)}, ` +
        `held-out ${c.heldOutLoss.mean.toFixed(4)} ± ${c.heldOutLoss.std.toFixed(4)} (nats/token, ${c.runs.length} seeds)`,
    );
    process.stdout.write(
      `${lines.join('\n')}\n` +
        `report:     ${run.files.report} (main charts: ${run.files.summary})\n` +
        `results:    ${run.files.results}\n` +
        `curriculum: ${run.files.curriculum} (${r.curriculumFile})\n` +
        `elapsed:    ${formatDuration(r.totalSeconds)} wall, ${formatDuration(r.cpuSeconds)} CPU\n`,
    );
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('end-to-end demo on the Brown Corpus: Baseline, TerRIFIC, TerRIFIC-AVG and a learned curriculum; train a small LM per configuration and seed, write a report')
    .option('--out <dir>', 'output folder for report.html, report.svg, results.json, curriculum.json', 'demo-out')
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
    .option('--concurrency <n>', 'heavy jobs (trainings, influence steps, analyses) run at once (default: 2)')
    .option('--configurations <list>', 'comma-separated: baseline, terrific, terrific-avg, curriculum (default: all four)')
    .option('--eta <x>', 'TerRIFIC / TerRIFIC-AVG step: mixture = softmax(log baseline + eta * Δℓ) (default: 2)')
    .option('--meta-iterations <n>', 'Curriculum: meta-iterations of Algorithm 1 (default: 2)')
    .option('--meta-samples <n>', 'Curriculum: Δf samples (log-times) per meta-iteration (default: 4)')
    .option('--meta-eta <x>', 'Curriculum: step size per meta-iteration (default: 1)')
    .option('--per-genre <n>', 'influence step: training sequences sampled per genre (default: 32)')
    .option('--reference-seed <n>', 'seed of the reference and meta-iteration runs (default: 0)')
    .option('--no-analysis', 'skip the stable-rank and chunk-cosine analyses')
    .option('--mixture-check', 'also train with 0% and 50% target-genre mixtures (does the mixture matter?)')
    .option('-q, --quiet', 'no progress on stderr')
    .action((flags: DemoFlags) => demoCommand(flags));
}
