/** Small assertions for the lane tests, on node:assert so failures show structural diffs. */
import { deepStrictEqual, ok, rejects } from "node:assert";

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message ?? "values differ");
}

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  ok(value, message ?? "expected a truthy value");
}

/** Asserts `promise` rejects with an error whose message includes `includes`; returns it. */
export async function assertRejects(
  promise: Promise<unknown> | (() => Promise<unknown>),
  includes?: string,
): Promise<Error> {
  let caught: Error | undefined;
  await rejects(typeof promise === "function" ? promise : () => promise, (error: Error) => {
    caught = error;
    return true;
  });
  if (includes !== undefined && !caught!.message.includes(includes)) {
    throw new Error(`expected an error including '${includes}', got '${caught!.message}'`);
  }
  return caught!;
}
