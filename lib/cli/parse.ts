/**
 * Strict parsers for command-line values. Each throws a ValidationError that
 * names the flag, e.g. Expected number for `--lambda` but received "abc".
 */
import { ValidationError } from '../errors';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function fail(flag: string, what: string, raw: string): never {
  throw new ValidationError(flag, `Expected ${what} for \`${flag}\` but received ${JSON.stringify(raw)}`);
}

/** A finite decimal number (scientific notation allowed; no hex, no Infinity, no empty string). */
export function parseNumber(flag: string, raw: string): number {
  const s = raw.trim();
  if (!DECIMAL.test(s)) fail(flag, 'number', raw);
  const n = Number(s);
  if (!Number.isFinite(n)) fail(flag, 'number', raw);
  return n;
}

/** A non-negative safe integer, written plainly (`1000000`) or in scientific notation (`1e6`, `2.5e9`). */
export function parseCount(flag: string, raw: string): number {
  const s = raw.trim();
  if (!DECIMAL.test(s) || s.startsWith('-')) fail(flag, 'non-negative integer', raw);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) fail(flag, 'non-negative integer', raw);
  return n;
}

/** A positive safe integer. */
export function parsePositiveCount(flag: string, raw: string): number {
  const n = parseCount(flag, raw);
  if (n === 0) fail(flag, 'positive integer', raw);
  return n;
}

/** A comma-separated list of counts, e.g. `1e4,1e5,1e6`. */
export function parseCountList(flag: string, raw: string): number[] {
  const parts = raw.split(',');
  if (parts.some((p) => p.trim() === '')) fail(flag, 'comma-separated list of integers', raw);
  return parts.map((p) => parseCount(flag, p));
}

/** Applies `parse` when the flag was given. */
export function optional<T>(flag: string, raw: string | undefined, parse: (flag: string, raw: string) => T): T | undefined {
  return raw === undefined ? undefined : parse(flag, raw);
}
