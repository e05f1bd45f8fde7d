/**
 * Runs a cancellable native job (see cpp/addon/linalg_binding.cpp) under an
 * AbortSignal and maps its errors onto the typed error classes.
 */
import { nativeError, type NativeJob } from '../binding';
import { AbortError } from '../errors';

export interface Progress {
  /** work done, in units of `total` (phases, blocks, matrices or Lanczos steps) */
  done: number;
  total: number;
}

export async function runNativeJob<T>(
  start: (onProgress: ((done: number, total: number) => void) | undefined) => NativeJob<T>,
  signal: AbortSignal | undefined,
  onProgress: ((p: Progress) => void) | undefined,
  field = 'input',
): Promise<T> {
  if (signal?.aborted) throw new AbortError();
  let job: NativeJob<T>;
  try {
    job = start(onProgress ? (done, total) => onProgress({ done, total }) : undefined);
  } catch (e) {
    throw mapError(e, field);
  }
  const abort = () => job.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await job.promise;
  } catch (e) {
    throw mapError(e, field);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/** nativeError, with the field taken from the backticked name in a validation message. */
function mapError(e: unknown, field: string): Error {
  const err = e as { code?: string; message?: string };
  const named = err?.code === 'ERR_CURRICULA_VALIDATION' && err.message ? fieldOf(err.message, field) : field;
  return nativeError(e, named);
}

/** Runs a sync native call, mapping its errors. */
export function runNativeSync<T>(call: () => T, field = 'input'): T {
  try {
    return call();
  } catch (e) {
    throw mapError(e, field);
  }
}

/** The field a native validation message names in backticks (`count[3]` -> "count[3]"), else `fallback`. */
export function fieldOf(message: string, fallback: string): string {
  const m = /`([^`]+)`/.exec(message);
  return m ? m[1] : fallback;
}
