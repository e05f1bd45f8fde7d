/**
 * Lossless JSON for curricula. Numbers are written in JavaScript's shortest
 * round-trip form (and -0 as "-0"), so every double reads back bit for bit.
 *
 *   {"format": "curricula.curriculum", "version": 1, "groups": K, "names": [...],
 *    "knots": [{"s": <log tokens>, "tokens": <e^s, informational>, "logits": [K numbers]}, ...]}
 *
 * Hand-written files may give `tokens` instead of `s`; when both are present `s` wins.
 */
import * as fs from 'fs';
import { z } from 'zod';

import { FormatError, schemaError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { validateCurriculum, type Curriculum } from './curriculum';

export const CURRICULUM_FORMAT = 'curricula.curriculum';

function num(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** JSON text of `c` (one knot per line). */
export function curriculumToJson(c: Curriculum): string {
  validateCurriculum(c);
  const K = c.groups;
  const knots: string[] = [];
  for (let i = 0; i < c.s.length; i++) {
    const row: string[] = [];
    for (let k = 0; k < K; k++) row.push(num(c.logits[i * K + k]));
    const t = Math.exp(c.s[i]);
    const tokens = t > 0 && Number.isFinite(t) ? `, "tokens": ${num(t)}` : ''; // informational only
    knots.push(`    {"s": ${num(c.s[i])}${tokens}, "logits": [${row.join(', ')}]}`);
  }
  const names = c.names ? `  "names": ${JSON.stringify(c.names)},\n` : '';
  return `{\n  "format": "${CURRICULUM_FORMAT}",\n  "version": 1,\n  "groups": ${K},\n${names}  "knots": [\n${knots.join(',\n')}\n  ]\n}\n`;
}

const knotSchema = z
  .object({
    s: z.number().optional(),
    tokens: z.number().optional(),
    logits: z.array(z.number()),
  })
  .refine((k) => k.s !== undefined || k.tokens !== undefined, { message: 'a knot needs `s` (log tokens) or `tokens`' })
  .refine((k) => k.s !== undefined || (k.tokens as number) > 0, { message: 'Expected `tokens` > 0', path: ['tokens'] });

const curriculumFileSchema = z.object({
  format: z.literal(CURRICULUM_FORMAT).optional(),
  version: z.literal(1).optional(),
  groups: z.number().int().positive(),
  names: z.array(z.string()).optional(),
  knots: z.array(knotSchema).min(1),
});

/** Parses JSON text or an already-parsed object; errors name the field (e.g. `knots[2].logits[1]`). */
export function parseCurriculum(input: string | unknown, where = 'curriculum'): Curriculum {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new FormatError(where, `${where}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  const r = curriculumFileSchema.safeParse(raw);
  if (!r.success) throw schemaError(where, r.error.issues, raw);
  const f = r.data;
  const K = f.groups;
  const s = new Float64Array(f.knots.length);
  const logits = new Float64Array(f.knots.length * K);
  f.knots.forEach((k, i) => {
    if (k.logits.length !== K) {
      throw schemaError(where, [{ path: ['knots', i, 'logits'], message: `Expected ${K} logits (one per group) but received ${k.logits.length}` }], raw);
    }
    s[i] = k.s !== undefined ? k.s : Math.log(k.tokens as number);
    logits.set(k.logits, i * K);
  });
  return validateCurriculum({ groups: K, s, logits, ...(f.names ? { names: f.names } : {}) }, where);
}

export function readCurriculum(path: string): Curriculum {
  return parseCurriculum(fs.readFileSync(path, 'utf8'), path);
}

/** Writes atomically. */
export function writeCurriculum(path: string, c: Curriculum): void {
  writeFileAtomic(path, curriculumToJson(c));
}
