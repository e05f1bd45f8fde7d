/** Shared assertions on the typed errors. */
import { ValidationError } from '../../lib/errors';

/** Runs `f`, expects a ValidationError on `field` whose message matches. */
export function expectValidation(f: () => unknown, field: string, message: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  expect((caught as Error).message).toMatch(message);
  expect((caught as ValidationError).field).toBe(field);
}
