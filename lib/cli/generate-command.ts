/** `curricula generate`: write a realistic synthetic corpus (bench/generate.ts) as a sequences directory. */
import { generateCorpus, type GeneratedCorpus } from '../../bench/generate';
import { writeCorpusDir } from '../../bench/write-corpus';
import { ValidationError } from '../errors';
import { optional, parseCount, parseNumber } from './parse';
import { formatDuration } from './progress';

export interface GenerateFlags {
  sequences: string;
  groups: string;
  out: string;
  seed?: string;
  zipf?: string;
  seqLength?: string;
  shortFraction?: string;
  quiet?: boolean;
}

export function generateCommand(flags: GenerateFlags): void {
  const start = process.hrtime.bigint();
  const params = {
    numSequences: parseCount('--sequences', flags.sequences),
    numGroups: parseCount('--groups', flags.groups),
    seed: optional('--seed', flags.seed, parseCount),
    zipf: optional('--zipf', flags.zipf, parseNumber),
    seqLength: optional('--seq-length', flags.seqLength, parseCount),
    shortFraction: optional('--short-fraction', flags.shortFraction, parseNumber),
  };
  let corpus: GeneratedCorpus;
  try {
    corpus = generateCorpus(params);
  } catch (e) {
    // the generator reports bad parameters as RangeError("<param> must be ...")
    if (e instanceof RangeError) throw new ValidationError(e.message.split(' ')[0], e.message);
    throw e;
  }
  writeCorpusDir(flags.out, corpus);
  let tokens = 0;
  for (let i = 0; i < corpus.tokens.length; i++) tokens += corpus.tokens[i];
  process.stdout.write(
    `wrote ${corpus.numSequences} sequences (${corpus.group.length} segments, ${tokens} tokens, ` +
      `${corpus.numGroups} groups) to ${flags.out} in ${formatDuration(Number(process.hrtime.bigint() - start) / 1e9)}\n`,
  );
}
