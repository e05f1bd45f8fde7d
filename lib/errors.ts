/**
 * Typed errors. Every error thrown on purpose by curricula is a CurriculaError
 * with a stable `code`, so callers can branch without parsing messages.
 */

export class CurriculaError extends Error {
  readonly code: string;
  constructor(message: string, code = 'ERR_CURRICULA', options?: ErrorOptions) {
    super(message, options);
    this.name = 'CurriculaError';
    this.code = code;
  }
}

/** A bad argument or field value; `field` names it (e.g. "numGroups", "group[17]"). */
export class ValidationError extends CurriculaError {
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, 'ERR_CURRICULA_VALIDATION', options);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** A malformed input file; `file` is its path. */
export class FormatError extends CurriculaError {
  readonly file: string;
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(message, 'ERR_CURRICULA_FORMAT', options);
    this.name = 'FormatError';
    this.file = file;
  }
}

/** The operation was cancelled through an AbortSignal. */
export class AbortError extends CurriculaError {
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, 'ABORT_ERR', options);
    this.name = 'AbortError';
  }
}

/** Short, unambiguous rendering of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  return value.constructor?.name ?? 'object';
}

export function expectPositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(
      field,
      `Expected positive integer for \`${field}\` but received ${describeValue(value)}`,
    );
  }
  return value;
}

/** Render a property path like zod's ['segments', 1, 'tokens'] as `segments[1].tokens`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * ValidationError for the first issue of a failed schema check (the shape of a
 * zod issue), naming the field and the value actually received.
 */
export function schemaError(
  where: string,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  input: unknown,
): ValidationError {
  const issue = issues[0];
  let value = input;
  for (const key of issue.path) {
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  }
  const field = formatPath(issue.path) || '(top level)';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  // zod's type errors end in "received <type>"; show the value itself instead
  const received = `received ${describeValue(value)}`;
  const message = /received \w+$/.test(issue.message)
    ? issue.message.replace(/received \w+$/, received)
    : `${issue.message} (${received})`;
  return new ValidationError(field, `${where}: invalid \`${field}\`: ${message}${more}`);
}
