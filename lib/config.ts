/**
 * zod schemas for user-facing options. Errors name the field and the value,
 * in the style "Expected number >= 0 for `lambda` but received -1".
 */
import { z } from 'zod';

import { ValidationError, describeValue } from './errors';

/** Realm-safe (arrays made by the addon or another vm context are Float64Arrays too). */
export function isFloat64Array(v: unknown): v is Float64Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Float64Array]';
}

/** Realm-safe Float32Array check. */
export function isFloat32Array(v: unknown): v is Float32Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Float32Array]';
}

export const objectiveSchema = z.enum(['sos', 'norm']);

export const scheduleOptionsSchema = z
  .object({
    /** Group mixture (K entries summing to 1); defaults to the corpus's own token shares. */
    mixture: z.union([z.custom<Float64Array>(isFloat64Array, 'Expected Float64Array'), z.array(z.custom<number>(() => true))]).optional(), // entries are checked by validateMixture, which names the index
    /**
     * Time-varying targets (a curriculum's target table): E_k(tokens[g]) = cumulative[g * K + k],
     * linear in between. Replaces `mixture`. See docs/architecture.md#targets.
     */
    targets: z
      .object({
        tokens: z.custom<Float64Array>(isFloat64Array, 'Expected Float64Array'),
        cumulative: z.custom<Float64Array>(isFloat64Array, 'Expected Float64Array'),
      })
      .optional(),
    /** A curriculum (lib/curriculum): its target table is built for the run. Replaces `mixture`. */
    curriculum: z.custom<import('./curriculum/curriculum').Curriculum>((v) => typeof v === 'object' && v !== null && 's' in v && 'logits' in v, 'Expected a Curriculum').optional(),
    /** Weight of the document-length-bin family (groups have weight 1). */
    lambda: z.number().finite().min(0).default(1),
    /** "sos": sum of squares (the method's objective); "norm": sqrt(groups) + lambda*sqrt(bins), like the public reference. */
    objective: objectiveSchema.default('sos'),
    /** Standard deviation of the Gaussian noise added to every score at every step. */
    sigma: z.number().finite().min(0).default(0),
    /** Seed for the noise (and nothing else). */
    seed: z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.bigint().min(0n).max(2n ** 64n - 1n)]).default(0),
    /** Stop once at least this many tokens are scheduled; omitted = the whole corpus. */
    budget: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    /** A previous order (prefix) to replay first, so the new order continues it exactly. */
    resume: z
      .custom<Uint32Array | BigUint64Array>((v) => v instanceof Uint32Array || v instanceof BigUint64Array, 'Expected Uint32Array or BigUint64Array')
      .optional(),
    /** Tokens already trained when the resume prefix ends; checked against the prefix when both are given. */
    offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** Threads for the scan (1 or 2); the order never depends on it. */
    threads: z.number().int().min(1).max(2).default(2),
    /** schedule/scheduleSync: 'cuda-brute' scores every candidate on the GPU each step (docs/cuda.md); same order. */
    engine: z.enum(['cpu', 'cuda-brute']).default('cpu'),
    /** scheduleBruteForceSync: where the brute force runs ('auto' = CUDA when available). */
    device: z.enum(['cpu', 'cuda', 'auto']).default('cpu'),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();

export type ScheduleOptionsInput = z.input<typeof scheduleOptionsSchema>;
export type ScheduleOptionsParsed = z.output<typeof scheduleOptionsSchema>;

/** Parses with `schema`, turning the first issue into a ValidationError that names the field. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where = 'options'): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length ? issue.path.join('.') : where;
  let received: unknown = input;
  for (const k of issue.path) received = (received as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  throw new ValidationError(field, `Invalid \`${field}\`: ${issue.message} (received ${describeValue(received)})`);
}
