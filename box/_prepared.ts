/**
 * Queries on a box's start path, compiled once: kysely builds and compiles a query's SQL on every
 * call (tens of microseconds for a lookup, more for a join), where running an already compiled
 * statement with new values skips all of it. The SQL is compiled for the store it runs on, so
 * SQLite and PostgreSQL each get their own dialect's text.
 */
import type { CompiledQuery } from "kysely";

/**
 * Returns a function that gives `compile()`'s query (compiled on first use) with `parameters` in
 * place of the values it was compiled with, in the same order.
 */
export function preparedQuery<R>(
  compile: () => CompiledQuery<R>,
): (...parameters: unknown[]) => CompiledQuery<R> {
  let compiled: CompiledQuery<R> | undefined;
  return (...parameters) => {
    compiled ??= compile();
    if (parameters.length !== compiled.parameters.length) {
      throw new Error(
        `prepared query takes ${compiled.parameters.length} values, got ${parameters.length}`,
      );
    }
    return { ...compiled, parameters };
  };
}
