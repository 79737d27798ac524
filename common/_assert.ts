/**
 * Minimal assertions for tests (the standard library's assert module cannot be fetched here).
 * Built on node:assert so failure messages show structural diffs.
 */
import { deepStrictEqual, ok, rejects, throws } from "node:assert";

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  if (message === undefined) ok(value);
  else ok(value, message);
}

type ErrorClass<E extends Error> = new (...args: never[]) => E;

/** Asserts `fn` throws an instance of `ErrorClass` whose message includes `includes`; returns it. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  ErrorClass: ErrorClass<E>,
  includes?: string,
): E {
  let caught: unknown;
  throws(() => {
    try {
      fn();
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  ok(caught instanceof ErrorClass, `expected ${ErrorClass.name}, got ${caught}`);
  if (includes) {
    ok((caught as E).message.includes(includes), `'${(caught as E).message}' lacks '${includes}'`);
  }
  return caught as E;
}

/** Async variant of {@linkcode assertThrows}. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  ErrorClass: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  let caught: unknown;
  await rejects(async () => {
    try {
      await fn();
    } catch (error) {
      caught = error;
      throw error;
    }
  });
  ok(caught instanceof ErrorClass, `expected ${ErrorClass.name}, got ${caught}`);
  if (includes) {
    ok((caught as E).message.includes(includes), `'${(caught as E).message}' lacks '${includes}'`);
  }
  return caught as E;
}
