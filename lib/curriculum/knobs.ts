/**
 * Schedules for any scalar or categorical knob over training progress (a
 * reasoning-token budget, a teacher index, a temperature...). A schedule is a
 * list of knots (position, value); between knots the value follows a shape
 * along an axis, and it is clamped outside the knots, like a curriculum.
 *
 *  - axis "tokens": u = (N − N_i)/(N_{i+1} − N_i); axis "logTokens": the same in log N
 *  - shape "linear": v_i + (v_{i+1} − v_i)·u
 *  - shape "cosine": v_i + (v_{i+1} − v_i)·(1 − cos πu)/2
 *  - shape "exponential": v_i·(v_{i+1}/v_i)^u (geometric; values of one sign, non-zero)
 *  - shape "step": v_i until the next knot (categorical knobs are always "step")
 *
 * Knot positions are `tokens`, or `fraction` of a run's total tokens.
 */
import { z } from 'zod';

import { ValidationError, describeValue, schemaError } from '../errors';

export const knobShapes = ['linear', 'step', 'cosine', 'exponential'] as const;
export type KnobShape = (typeof knobShapes)[number];
export type KnobAxis = 'tokens' | 'logTokens';

const position = { tokens: z.number().finite().min(0).optional(), fraction: z.number().finite().min(0).max(1).optional() };

export const knobScheduleSchema = z
  .object({
    name: z.string().optional(),
    kind: z.enum(['scalar', 'categorical']).default('scalar'),
    shape: z.enum(knobShapes).default('linear'),
    axis: z.enum(['tokens', 'logTokens']).default('tokens'),
    /** rounds scalar values to integers (e.g. a token budget) */
    integer: z.boolean().default(false),
    knots: z
      .array(z.object({ ...position, value: z.union([z.number().finite(), z.string()]) }).strict())
      .min(1),
  })
  .strict();

export type KnobScheduleSpec = z.input<typeof knobScheduleSchema>;

export interface KnobSchedule {
  name?: string;
  kind: 'scalar' | 'categorical';
  shape: KnobShape;
  axis: KnobAxis;
  integer: boolean;
  /** knot positions in tokens (strictly increasing) */
  tokens: Float64Array;
  values: (number | string)[];
  /** the value after N tokens */
  at(tokens: number): number | string;
}

/** Builds a schedule; `totalTokens` resolves knots given as `fraction`. Errors name the field. */
export function knobSchedule(spec: KnobScheduleSpec, totalTokens?: number, where = 'knob'): KnobSchedule {
  const r = knobScheduleSchema.safeParse(spec);
  if (!r.success) throw schemaError(where, r.error.issues, spec);
  const s = r.data;
  const shape: KnobShape = s.kind === 'categorical' ? 'step' : s.shape;
  const tokens = new Float64Array(s.knots.length);
  s.knots.forEach((k, i) => {
    const f = `knots[${i}]`;
    if ((k.tokens === undefined) === (k.fraction === undefined)) throw new ValidationError(f, `${where}: \`${f}\` needs exactly one of \`tokens\` or \`fraction\``);
    if (k.fraction !== undefined) {
      if (totalTokens === undefined || !(totalTokens > 0)) {
        throw new ValidationError('totalTokens', `${where}: \`${f}.fraction\` needs a positive \`totalTokens\` but received ${describeValue(totalTokens)}`);
      }
      tokens[i] = k.fraction * totalTokens;
    } else tokens[i] = k.tokens as number;
    if (i > 0 && !(tokens[i] > tokens[i - 1])) throw new ValidationError(`${f}`, `${where}: knot positions must be strictly increasing but \`${f}\` is at ${tokens[i]} tokens, not after ${tokens[i - 1]}`);
    if (s.axis === 'logTokens' && !(tokens[i] > 0)) throw new ValidationError(`${f}`, `${where}: axis "logTokens" needs positive knot positions but \`${f}\` is at ${tokens[i]}`);
    const v = k.value;
    if (s.kind === 'scalar' && typeof v !== 'number') throw new ValidationError(`${f}.value`, `${where}: Expected number for \`${f}.value\` of a scalar knob but received ${describeValue(v)}`);
  });
  const values = s.knots.map((k) => k.value);
  if (shape === 'exponential') {
    values.forEach((v, i) => {
      if ((v as number) === 0 || Math.sign(v as number) !== Math.sign(values[0] as number)) {
        throw new ValidationError(`knots[${i}].value`, `${where}: shape "exponential" needs non-zero values of one sign but \`knots[${i}].value\` = ${v}`);
      }
    });
  }
  const axisOf = (n: number) => (s.axis === 'logTokens' ? Math.log(n) : n);
  const at = (n: number): number | string => {
    if (typeof n !== 'number' || Number.isNaN(n) || n < 0) throw new ValidationError('tokens', `Expected number of tokens >= 0 for \`tokens\` but received ${describeValue(n)}`);
    const m = tokens.length;
    let v: number | string;
    if (!(n > tokens[0])) v = values[0];
    else if (n >= tokens[m - 1]) v = values[m - 1];
    else {
      let i = 0;
      while (tokens[i + 1] <= n) i++;
      const a = values[i];
      const b = values[i + 1];
      if (shape === 'step' || typeof a !== 'number' || typeof b !== 'number') v = a;
      else {
        const u = (axisOf(n) - axisOf(tokens[i])) / (axisOf(tokens[i + 1]) - axisOf(tokens[i]));
        if (shape === 'linear') v = a + (b - a) * u;
        else if (shape === 'cosine') v = a + ((b - a) * (1 - Math.cos(Math.PI * u))) / 2;
        else v = a * (b / a) ** u;
      }
    }
    return s.integer && typeof v === 'number' ? Math.round(v) : v;
  };
  return { name: s.name, kind: s.kind, shape, axis: s.axis, integer: s.integer, tokens, values, at };
}

export interface KnobTable {
  step: number[];
  /** tokens trained before the step starts (the knob is evaluated there) */
  tokens: number[];
  value: (number | string)[];
}

/** The knob per training step (`steps` steps of `tokensPerStep` tokens). */
export function knobTable(schedule: KnobSchedule, steps: number, tokensPerStep: number): KnobTable {
  if (!Number.isSafeInteger(steps) || steps < 1) throw new ValidationError('steps', `Expected positive integer for \`steps\` but received ${describeValue(steps)}`);
  if (!Number.isSafeInteger(tokensPerStep) || tokensPerStep < 1) throw new ValidationError('tokensPerStep', `Expected positive integer for \`tokensPerStep\` but received ${describeValue(tokensPerStep)}`);
  const out: KnobTable = { step: [], tokens: [], value: [] };
  for (let i = 0; i < steps; i++) {
    out.step.push(i);
    out.tokens.push(i * tokensPerStep);
    out.value.push(schedule.at(i * tokensPerStep));
  }
  return out;
}

/** CSV text (header step,tokens,<name>); strings are quoted. */
export function knobTableToCsv(t: KnobTable, name = 'value'): string {
  const q = (v: number | string) => (typeof v === 'number' ? String(v) : `"${v.replace(/"/g, '""')}"`);
  const lines = [`step,tokens,${name}`];
  for (let i = 0; i < t.step.length; i++) lines.push(`${t.step[i]},${t.tokens[i]},${q(t.value[i])}`);
  return lines.join('\n') + '\n';
}
