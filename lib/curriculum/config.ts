/**
 * The configuration of a curriculum-learning run, as one zod schema. Errors name
 * the field, e.g. "run: invalid `progress`: ... empty range".
 */
import { z } from 'zod';

import { schemaError } from '../errors';

const seed = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.bigint().min(0n).max(2n ** 64n - 1n)]);

export const etaSchema = z.union([
  z.number().finite(),
  z
    .object({
      schedule: z.enum(['constant', 'inverse-sqrt', 'exponential']),
      eta0: z.number().finite(),
      rate: z.number().finite().positive().default(1),
    })
    .strict(),
]);

export const runConfigSchema = z
  .object({
    /** number of groups K */
    groups: z.number().int().positive(),
    /** range of training progress the curriculum is learned over (tokens) */
    progress: z
      .object({ minTokens: z.number().finite().positive(), maxTokens: z.number().finite().positive() })
      .strict()
      .refine((p) => p.minTokens < p.maxTokens, { message: 'empty range: minTokens must be below maxTokens' }),
    /** total tokens of the training run (the target table's range) */
    totalTokens: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    /** meta step size η, constant or a schedule over meta-iterations */
    eta: etaSchema,
    /** B: log-time samples per meta-iteration */
    samples: z.number().int().positive(),
    /** meta-iterations */
    iterations: z.number().int().positive().default(1),
    /** weight of the length-bin family in the scheduler */
    lambda: z.number().finite().min(0).default(1),
    /** scheduler noise */
    sigma: z.number().finite().min(0).default(0),
    /** number of document-length bins */
    bins: z.number().int().positive().max(64).default(16),
    seeds: z.object({ sampling: seed.default(0), noise: seed.default(0) }).strict().default({ sampling: 0, noise: 0 }),
    /** optional knot cap for the meta-update */
    maxKnots: z.number().int().min(2).optional(),
    /** target-table accuracy (tokens) */
    maxErrorTokens: z.number().finite().min(0.3).default(0.5),
  })
  .strict();

export type RunConfigInput = z.input<typeof runConfigSchema>;
export type RunConfig = z.output<typeof runConfigSchema>;

/** Parses a run configuration; the first problem becomes a ValidationError naming its field. */
export function parseRunConfig(input: unknown, where = 'run'): RunConfig {
  const r = runConfigSchema.safeParse(input);
  if (!r.success) throw schemaError(where, r.error.issues, input);
  return r.data;
}
