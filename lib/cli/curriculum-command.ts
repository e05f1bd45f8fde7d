/**
 * `curricula curriculum init|update|targets|import|export|plot|knob`: create,
 * update (Algorithm 1 from Δf samples, or static TerRIFIC), tabulate targets for
 * the scheduler, convert from/to the public reference's knot JSON, plot, and
 * tabulate knob schedules. Outputs are written atomically. See docs/cli.md.
 */
import * as fs from 'fs';
import * as path from 'path';

import { Command } from 'commander';

import { FormatError, ValidationError, describeValue } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { readNpy, writeNpyAtomic } from '../io/npy';
import { metaUpdateFromSamples, stepSchedule, terrificAverage, type DeltaSample } from '../curriculum/algorithm1';
import { assertGroups, createCurriculum, type Curriculum } from '../curriculum/curriculum';
import {
  curriculumToKnotSchedule,
  knotScheduleTargetTable,
  knotScheduleToCurriculum,
  readKnotSchedule,
  writeKnotSchedule,
} from '../curriculum/interop';
import { knobSchedule, knobTable, knobTableToCsv } from '../curriculum/knobs';
import { curriculumPlotSvg } from '../curriculum/plot';
import { readCurriculum, writeCurriculum } from '../curriculum/serialize';
import { binShares, binTargetTable, targetTableAsync, type TargetTable } from '../curriculum/targets';
import { checkWritable, readSequences } from './inputs';
import { optional, parseCount, parseNumber } from './parse';

function readJson(file: string, flag: string): unknown {
  if (!fs.existsSync(file)) throw new ValidationError(flag, `\`${flag}\`: ${file} does not exist`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, `${file}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function parseNumberList(flag: string, raw: string): number[] {
  return raw.split(',').map((p) => parseNumber(flag, p));
}

/** A mixture from .npy or JSON ([p...] or {"mixture": [...]}), any length. */
function readMixtureAnyLength(file: string): number[] {
  if (file.endsWith('.npy')) return Array.from(readNpy(file).data as Float64Array, Number);
  const raw = readJson(file, '--mixture');
  const arr = Array.isArray(raw) ? raw : (raw as { mixture?: unknown })?.mixture;
  if (!Array.isArray(arr)) throw new FormatError(file, `${file}: expected a JSON array of probabilities or {"mixture": [...]}`);
  return arr as number[];
}

function log(quiet: boolean | undefined, line: string): void {
  if (!quiet) process.stderr.write(`curricula: ${line}\n`);
}

interface InitFlags { groups?: string; mixture?: string; knots?: string; names?: string; out: string; quiet?: boolean }
function initCommand(f: InitFlags): void {
  if ((f.groups === undefined) === (f.mixture === undefined)) throw new ValidationError('--groups', 'give exactly one of `--groups` or `--mixture`');
  checkWritable('--out', f.out);
  const names = f.names?.split(',');
  const c = createCurriculum({
    groups: optional('--groups', f.groups, parseCount),
    mixture: f.mixture === undefined ? undefined : readMixtureAnyLength(f.mixture),
    knotTokens: f.knots === undefined ? undefined : parseNumberList('--knots', f.knots),
    names,
  });
  writeCurriculum(f.out, c);
  log(f.quiet, `wrote ${f.out} (${c.groups} groups, ${c.s.length} knots)`);
}

interface UpdateFlags {
  curriculum: string; out: string; deltas?: string; static?: string; eta: string; etaSchedule?: string; etaRate?: string;
  iteration?: string; maxKnots?: string; quiet?: boolean;
}
function updateCommand(f: UpdateFlags): void {
  if ((f.deltas === undefined) === (f.static === undefined)) throw new ValidationError('--deltas', 'give exactly one of `--deltas` (Δf samples) or `--static` (Δℓ vectors)');
  checkWritable('--out', f.out);
  const c = readCurriculum(f.curriculum);
  const eta0 = parseNumber('--eta', f.eta);
  const iteration = optional('--iteration', f.iteration, parseCount) ?? 0;
  const kind = (f.etaSchedule ?? 'constant') as 'constant' | 'inverse-sqrt' | 'exponential';
  const eta = stepSchedule(kind, eta0, optional('--eta-rate', f.etaRate, parseNumber) ?? 1);
  let next: Curriculum;
  if (f.deltas !== undefined) {
    const raw = readJson(f.deltas, '--deltas');
    const samples = (Array.isArray(raw) ? raw : (raw as { samples?: unknown })?.samples) as DeltaSample[];
    if (!Array.isArray(samples)) throw new FormatError(f.deltas, `${f.deltas}: expected a JSON list of {"tokens" or "s", "delta": [...]} (or {"samples": [...]})`);
    const r = metaUpdateFromSamples(c, samples, { eta, iteration, maxKnots: optional('--max-knots', f.maxKnots, parseCount) });
    next = r.curriculum;
    log(f.quiet, `applied ${samples.length} Δf samples with η = ${r.eta}; ${next.s.length} knots` + (r.maxLogitChange ? `; knot cap moved logits by at most ${r.maxLogitChange.toExponential(3)}` : ''));
  } else {
    const raw = readJson(f.static as string, '--static');
    const body = (raw as { delta?: unknown; deltas?: unknown })?.delta ?? (raw as { deltas?: unknown })?.deltas ?? raw;
    if (!Array.isArray(body)) throw new FormatError(f.static as string, `${f.static}: expected [numbers], [[numbers], ...], {"delta": [...]} or {"deltas": [[...], ...]}`);
    const deltas = (Array.isArray(body[0]) ? body : [body]) as number[][];
    next = terrificAverage(c, deltas, eta(iteration));
    log(f.quiet, `applied static Δℓ (mean of ${deltas.length}) with η = ${eta(iteration)}`);
  }
  writeCurriculum(f.out, next);
}

interface TargetsFlags {
  curriculum?: string; knots?: string; totalTokens: string; maxError?: string; maxEntries?: string; out: string;
  sequences?: string; bins?: string; quiet?: boolean;
}
async function targetsCommand(f: TargetsFlags): Promise<void> {
  if ((f.curriculum === undefined) === (f.knots === undefined)) throw new ValidationError('--curriculum', 'give exactly one of `--curriculum` or `--knots` (a reference knot schedule, in its own semantics)');
  const total = parseCount('--total-tokens', f.totalTokens);
  const maxErrorTokens = optional('--max-error', f.maxError, parseNumber);
  const maxEntries = optional('--max-entries', f.maxEntries, parseCount);
  const json = /\.json$/i.test(f.out);
  if (!json && !/\.npy$/i.test(f.out)) throw new ValidationError('--out', `\`--out\` must end in .npy or .json but is ${f.out}`);
  checkWritable('--out', f.out);
  const start = Date.now();
  let table: TargetTable;
  if (f.curriculum !== undefined) {
    const c = readCurriculum(f.curriculum);
    table = await targetTableAsync(c, total, { maxErrorTokens, maxEntries });
  } else {
    table = knotScheduleTargetTable(readKnotSchedule(f.knots as string), total, { maxErrorTokens });
  }
  let bins: { cumulative: Float64Array; bins: number } | undefined;
  if (f.sequences !== undefined) {
    const set = readSequences(f.sequences, { numBins: optional('--bins', f.bins, parseCount) });
    if (f.curriculum !== undefined) assertGroups(readCurriculum(f.curriculum), set.numGroups, '--curriculum');
    else if (table.groups !== set.numGroups) throw new ValidationError('--knots', `\`--knots\` has ${table.groups} datasets but the data has ${set.numGroups} groups`);
    bins = binTargetTable(table, binShares(set));
  }
  const G = table.tokens.length;
  const K = table.groups;
  if (json) {
    const rows = (a: Float64Array, w: number) => Array.from({ length: G }, (_, g) => Array.from(a.subarray(g * w, (g + 1) * w)));
    const body: Record<string, unknown> = {
      tokens: Array.from(table.tokens),
      cumulative: rows(table.cumulative, K),
      interpolationBound: table.interpolationBound,
      quadratureBound: table.quadratureBound,
    };
    if (bins) body.bins = rows(bins.cumulative, bins.bins);
    writeFileAtomic(f.out, JSON.stringify(body) + '\n');
  } else {
    const base = f.out.replace(/\.npy$/i, '');
    writeNpyAtomic(`${base}.tokens.npy`, table.tokens);
    if (bins) writeNpyAtomic(`${base}.bins.npy`, bins.cumulative, [G, bins.bins]);
    writeNpyAtomic(f.out, table.cumulative, [G, K]);
  }
  process.stdout.write(
    `target table: ${G} grid points x ${K} groups in ${((Date.now() - start) / 1000).toFixed(2)} s; ` +
      `interpolation error <= ${table.interpolationBound.toFixed(3)} + ${table.quadratureBound.toExponential(2)} tokens\n` +
      (json ? `table:  ${f.out}\n` : `table:  ${f.out} (G x K float64), ${f.out.replace(/\.npy$/i, '')}.tokens.npy${bins ? `, ${f.out.replace(/\.npy$/i, '')}.bins.npy` : ''}\n`),
  );
}

interface ConvertFlags { in?: string; curriculum?: string; out: string; names?: string; quiet?: boolean }
function importCommand(f: ConvertFlags): void {
  checkWritable('--out', f.out);
  const c = knotScheduleToCurriculum(readKnotSchedule(f.in as string));
  writeCurriculum(f.out, c);
  log(f.quiet, `imported ${c.s.length} knots x ${c.groups} datasets; logits = log p at the knots (probabilities between knots differ from the reference's linear interpolation; see docs/curriculum.md)`);
}
function exportCommand(f: ConvertFlags): void {
  checkWritable('--out', f.out);
  const c = readCurriculum(f.curriculum as string);
  writeKnotSchedule(f.out, curriculumToKnotSchedule(c, f.names?.split(',')));
  log(f.quiet, `exported ${c.s.length} knots; a reference consumer interpolates these probabilities linearly in log tokens, which differs from the curriculum between knots`);
}

interface PlotFlags { curriculum: string; out: string; minTokens?: string; maxTokens?: string; points?: string; maxSeries?: string; quiet?: boolean }
async function plotCommand(f: PlotFlags): Promise<void> {
  if (!/\.svg$/i.test(f.out)) throw new ValidationError('--out', `\`--out\` must end in .svg but is ${f.out}`);
  checkWritable('--out', f.out);
  const c = readCurriculum(f.curriculum);
  const svg = await curriculumPlotSvg(c, {
    minTokens: optional('--min-tokens', f.minTokens, parseNumber),
    maxTokens: optional('--max-tokens', f.maxTokens, parseNumber),
    points: optional('--points', f.points, parseCount),
    maxSeries: optional('--max-series', f.maxSeries, parseCount),
    title: path.basename(f.curriculum),
  });
  writeFileAtomic(f.out, svg);
  log(f.quiet, `wrote ${f.out}`);
}

interface KnobFlags { spec: string; steps: string; tokensPerStep: string; totalTokens?: string; out: string; quiet?: boolean }
function knobCommand(f: KnobFlags): void {
  const csv = /\.csv$/i.test(f.out);
  if (!csv && !/\.json$/i.test(f.out)) throw new ValidationError('--out', `\`--out\` must end in .csv or .json but is ${f.out}`);
  checkWritable('--out', f.out);
  const steps = parseCount('--steps', f.steps);
  const perStep = parseCount('--tokens-per-step', f.tokensPerStep);
  const total = optional('--total-tokens', f.totalTokens, parseCount) ?? steps * perStep;
  const spec = readJson(f.spec, '--spec') as Parameters<typeof knobSchedule>[0];
  const sched = knobSchedule(spec, total, f.spec);
  const t = knobTable(sched, steps, perStep);
  const name = sched.name ?? 'value';
  writeFileAtomic(f.out, csv ? knobTableToCsv(t, name) : JSON.stringify({ name, ...t }) + '\n');
  log(f.quiet, `wrote ${steps} steps of ${describeValue(name)} to ${f.out}`);
}

export function registerCurriculumCommands(program: Command): void {
  const cur = program.command('curriculum').description('learn, tabulate and convert curricula (logits piecewise linear in log tokens)');
  cur
    .command('init')
    .description('a curriculum with the same mixture at every knot')
    .option('--groups <k>', 'number of groups (uniform mixture)')
    .option('--mixture <file>', 'starting mixture: .npy or JSON [p0, ...] / {"mixture": [...]}')
    .option('--knots <tokens,...>', 'knot positions in tokens, e.g. 1e6,1e8,2e9 (default: 1)')
    .option('--names <a,b,...>', 'group names')
    .requiredOption('--out <file.json>', 'curriculum to write')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: InitFlags) => initCommand(f));
  cur
    .command('update')
    .description('Algorithm 1 meta-update from Δf samples, or a static TerRIFIC(-AVG) step')
    .requiredOption('--curriculum <file.json>', 'current curriculum')
    .option('--deltas <file.json>', 'Δf samples: [{"tokens" or "s": x, "delta": [K numbers]}, ...]')
    .option('--static <file.json>', 'static Δℓ: [K numbers], or several [[...], ...] to average (TerRIFIC-AVG)')
    .requiredOption('--eta <x>', 'step size η (η0 of --eta-schedule)')
    .option('--eta-schedule <kind>', 'constant | inverse-sqrt | exponential (default: constant)')
    .option('--eta-rate <x>', 'decay rate of the exponential schedule')
    .option('--iteration <t>', 'meta-iteration t (for η_t; default 0)')
    .option('--max-knots <n>', 'cap the number of knots by regridding (reports the logit change)')
    .requiredOption('--out <file.json>', 'updated curriculum')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: UpdateFlags) => updateCommand(f));
  cur
    .command('targets')
    .description("the scheduler's target table: E_k at integer grid points, linear interpolation within --max-error tokens")
    .option('--curriculum <file.json>', 'curriculum')
    .option('--knots <file.json>', 'or a reference knot schedule, in its own probability-interpolation semantics')
    .requiredOption('--total-tokens <n>', 'table covers [0, n] tokens')
    .option('--max-error <tokens>', 'interpolation error bound, >= 0.3 (default 0.5)')
    .option('--max-entries <n>', 'refuse tables with more than n = G*K entries (default 2^28)')
    .option('--sequences <path>', 'also write length-bin targets U*_b from this sequence set')
    .option('--bins <n>', 'number of length bins when computed (default 16)')
    .requiredOption('--out <file.npy|file.json>', '.npy: G x K float64 (+ .tokens.npy, .bins.npy); .json: one object')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: TargetsFlags) => targetsCommand(f));
  cur
    .command('import')
    .description('reference knot JSON {"<tokens>": {"dataset0": p, ...}} -> curriculum (logits = log p at knots)')
    .requiredOption('--in <file.json>', 'reference knot schedule')
    .requiredOption('--out <file.json>', 'curriculum to write')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: ConvertFlags) => importCommand(f));
  cur
    .command('export')
    .description('curriculum -> reference knot JSON (p = softmax(logits) at each knot)')
    .requiredOption('--curriculum <file.json>', 'curriculum')
    .option('--names <a,b,...>', 'dataset names (default: the curriculum names, else dataset0, dataset1, ...)')
    .requiredOption('--out <file.json>', 'knot schedule to write')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: ConvertFlags) => exportCommand(f));
  cur
    .command('plot')
    .description('SVG stacked-area chart of p(N) over log tokens')
    .requiredOption('--curriculum <file.json>', 'curriculum')
    .requiredOption('--out <file.svg>', 'chart to write')
    .option('--min-tokens <n>', 'left end (default: first knot / 3)')
    .option('--max-tokens <n>', 'right end (default: last knot x 3)')
    .option('--points <n>', 'samples along the axis (default 200)')
    .option('--max-series <n>', 'groups drawn before the rest is summed into "other" (default 12)')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: PlotFlags) => plotCommand(f));
  cur
    .command('knob')
    .description('per-step table of a knob schedule (token budget, teacher index, ...)')
    .requiredOption('--spec <file.json>', 'knob schedule: {"shape", "axis", "kind", "integer", "knots": [{"tokens" or "fraction", "value"}]}')
    .requiredOption('--steps <n>', 'training steps')
    .requiredOption('--tokens-per-step <n>', 'tokens per step')
    .option('--total-tokens <n>', 'what fractions refer to (default: steps x tokens per step)')
    .requiredOption('--out <file.csv|file.json>', 'table to write')
    .option('-q, --quiet', 'no status on stderr')
    .action((f: KnobFlags) => knobCommand(f));

  // `curricula bench curriculum` (the bench command is created in buildProgram)
  const bench = program.commands.find((c) => c.name() === 'bench');
  bench
    ?.command('curriculum')
    .description('time the target table (K groups, totalTokens) against a Gauss-Legendre-at-every-point baseline')
    .option('--groups <k>', 'number of groups', '10000')
    .option('--total-tokens <n>', 'total tokens', '2e9')
    .option('--sigma <x>', 'logit random-walk step per knot (curvature of the curriculum)', '0.1')
    .option('--baseline-points <n>', 'grid points evaluated by the baseline (its time is scaled to the full grid)', '200')
    .option('--threads <n>', 'threads for the table', '1')
    .action(async (f: { groups: string; totalTokens: string; sigma: string; baselinePoints: string; threads: string }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const b = require(path.resolve(__dirname, '..', '..', 'bench', 'curriculum-table.js')) as { main(o: object): Promise<unknown> };
      await b.main({
        groups: parseCount('--groups', f.groups),
        totalTokens: parseCount('--total-tokens', f.totalTokens),
        sigma: parseNumber('--sigma', f.sigma),
        baselinePoints: parseCount('--baseline-points', f.baselinePoints),
        threads: parseCount('--threads', f.threads),
      });
    });
}
