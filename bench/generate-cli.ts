/**
 * CLI for the synthetic corpus generator (compiled by tsc to
 * dist/bench/generate-cli.js):
 *
 *   node dist/bench/generate-cli.js --sequences 1000000 --groups 10000 --out DIR
 *        [--seed 1] [--zipf 1] [--seq-length 2048] [--short-fraction 0]
 *        [--length-mu 6] [--length-sigma 1.2] [--cluster-length-spread 0.5]
 *
 * Without --out the corpus is generated and summarised but not written.
 * Prints the segments-per-sequence histogram and timings.
 */
import { chunkHistogram, generateCorpus, GENERATE_DEFAULTS, type GenerateParams } from './generate';
import { writeCorpusDir } from './write-corpus';

const USAGE = `usage: node dist/bench/generate-cli.js --sequences M --groups K [--out DIR]
    [--seed ${GENERATE_DEFAULTS.seed}] [--zipf ${GENERATE_DEFAULTS.zipf}] [--seq-length ${GENERATE_DEFAULTS.seqLength}]
    [--short-fraction ${GENERATE_DEFAULTS.shortFraction}] [--length-mu ${GENERATE_DEFAULTS.lengthMu}]
    [--length-sigma ${GENERATE_DEFAULTS.lengthSigma}] [--cluster-length-spread ${GENERATE_DEFAULTS.clusterLengthSpread}]`;

const NUMERIC_FLAGS: Record<string, keyof GenerateParams> = {
  '--sequences': 'numSequences',
  '--groups': 'numGroups',
  '--seed': 'seed',
  '--zipf': 'zipf',
  '--seq-length': 'seqLength',
  '--short-fraction': 'shortFraction',
  '--length-mu': 'lengthMu',
  '--length-sigma': 'lengthSigma',
  '--cluster-length-spread': 'clusterLengthSpread',
};

class UsageError extends Error {}

function parseArgs(argv: string[]): { params: GenerateParams; out?: string } {
  const p: Partial<Record<keyof GenerateParams, number>> = {};
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`missing value for ${flag}`);
      return v;
    };
    if (flag === '--out') {
      out = takeValue();
      continue;
    }
    const key = NUMERIC_FLAGS[flag];
    if (key === undefined) throw new UsageError(`unknown argument: ${argv[i]}`);
    const raw = takeValue();
    const num = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(num)) {
      throw new UsageError(`${flag} expects a number, got '${raw}'`);
    }
    p[key] = num;
  }
  if (p.numSequences === undefined) throw new UsageError('--sequences is required');
  if (p.numGroups === undefined) throw new UsageError('--groups is required');
  return { params: p as GenerateParams, out };
}

function main(): number {
  let args: { params: GenerateParams; out?: string };
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }

  const t0 = process.hrtime.bigint();
  let corpus;
  try {
    corpus = generateCorpus(args.params);
  } catch (e) {
    if (e instanceof RangeError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const t1 = process.hrtime.bigint();
  const genMs = Number(t1 - t0) / 1e6;

  const M = corpus.numSequences;
  const S = corpus.group.length;
  let totalTokens = 0;
  for (let i = 0; i < S; i++) totalTokens += corpus.tokens[i];

  process.stdout.write(`params: ${JSON.stringify(corpus.params)}\n`);
  process.stdout.write(
    `generated ${M} sequences, ${S} segments, ${totalTokens} tokens, ${corpus.numGroups} groups in ${genMs.toFixed(0)} ms\n`,
  );

  const hist = chunkHistogram(corpus);
  process.stdout.write('segments per sequence:\n');
  let maxCount = 0;
  for (const c of hist.values()) maxCount = Math.max(maxCount, c);
  for (const [n, c] of hist) {
    const pct = M > 0 ? (100 * c) / M : 0;
    const bar = '#'.repeat(maxCount > 0 ? Math.round((40 * c) / maxCount) : 0);
    process.stdout.write(`  ${String(n).padStart(4)}  ${String(c).padStart(10)}  ${pct.toFixed(2).padStart(6)}%  ${bar}\n`);
  }

  if (args.out !== undefined) {
    const w0 = process.hrtime.bigint();
    writeCorpusDir(args.out, corpus);
    const wMs = Number(process.hrtime.bigint() - w0) / 1e6;
    process.stdout.write(`wrote ${args.out} in ${wMs.toFixed(0)} ms\n`);
  }
  return 0;
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = main();
