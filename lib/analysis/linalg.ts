/**
 * Dense symmetric linear algebra exposed for users and benchmarks: Cholesky
 * solve and the symmetric eigendecomposition (Householder + implicit QL).
 */
import { z } from 'zod';

import { binding, type NativeEigen } from '../binding';
import { isFloat64Array, parseOptions } from '../config';
import { ValidationError, describeValue } from '../errors';
import { runNativeJob, runNativeSync, type Progress } from './native-job';

const linalgOptionsSchema = z
  .object({
    threads: z.number().int().min(1).max(2).default(2),
    /** symmetricEigen only: also return the eigenvectors */
    vectors: z.boolean().default(true),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.function().optional(),
  })
  .strict();

export type LinalgOptions = z.input<typeof linalgOptionsSchema>;

function squareMatrix(a: Float64Array, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new ValidationError('n', `Expected positive integer for \`n\` but received ${describeValue(n)}`);
  if (!(isFloat64Array(a))) throw new ValidationError('a', `Expected Float64Array for \`a\` but received ${describeValue(a)}`);
  if (a.length !== n * n) throw new ValidationError('a', `Expected ${n * n} entries (n × n) for \`a\` but received ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new ValidationError(`a[${i}]`, `Expected finite number for \`a[${i}]\` but received ${a[i]}`);
  }
}

function vector(b: Float64Array, n: number): void {
  if (!(isFloat64Array(b)) || b.length !== n) {
    throw new ValidationError('b', `Expected Float64Array of ${n} entries for \`b\` but received ${describeValue(b)}`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(b[i])) throw new ValidationError(`b[${i}]`, `Expected finite number for \`b[${i}]\` but received ${b[i]}`);
  }
}

/** x with A x = b for symmetric positive definite A (n × n row-major; the lower triangle is read). */
export function choleskySolveSync(a: Float64Array, n: number, b: Float64Array, options?: Omit<LinalgOptions, 'signal' | 'onProgress' | 'vectors'>): Float64Array {
  const o = parseOptions(linalgOptionsSchema, options);
  squareMatrix(a, n);
  vector(b, n);
  return runNativeSync(() => binding().choleskySolveSync(a, n, b, { threads: o.threads }), 'a');
}

export async function choleskySolve(a: Float64Array, n: number, b: Float64Array, options?: Omit<LinalgOptions, 'vectors'> & { onProgress?: (p: Progress) => void }): Promise<Float64Array> {
  const o = parseOptions(linalgOptionsSchema, options);
  squareMatrix(a, n);
  vector(b, n);
  return runNativeJob((cb) => binding().choleskySolve(a, n, b, { threads: o.threads }, cb), o.signal, options?.onProgress, 'a');
}

/** Eigenvalues ascending; `vectors` row i is the unit eigenvector of values[i] (the lower triangle of `a` is read). */
export function symmetricEigenSync(a: Float64Array, n: number, options?: Omit<LinalgOptions, 'signal' | 'onProgress'>): NativeEigen {
  const o = parseOptions(linalgOptionsSchema, options);
  squareMatrix(a, n);
  return runNativeSync(() => binding().symmetricEigenSync(a, n, { threads: o.threads, vectors: o.vectors }), 'a');
}

export async function symmetricEigen(a: Float64Array, n: number, options?: LinalgOptions & { onProgress?: (p: Progress) => void }): Promise<NativeEigen> {
  const o = parseOptions(linalgOptionsSchema, options);
  squareMatrix(a, n);
  return runNativeJob((cb) => binding().symmetricEigen(a, n, { threads: o.threads, vectors: o.vectors }, cb), o.signal, options?.onProgress, 'a');
}
