/**
 * Queries on a box's start path, compiled once: kysely builds and compiles a query's SQL on every
 * call (tens of microseconds for a lookup, more for a join), where running an already compiled
 * statement with new values skips all of it. The SQL is compiled for the store it runs on, so
 * SQLite and PostgreSQL each get their own dialect's text.
 */
import type { CompiledQuery, Kysely } from "kysely";

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

/**
 * Returns a function that gives the insert of one row into `table` (compiled on first use), its
 * values taken from the row in the order of `columns`. `columns` is the table's every column, as
 * `columnsOf` lists them, so no value of a row is left out.
 */
export function preparedInsert<DB, TB extends keyof DB & string>(
  db: Kysely<DB>,
  table: TB,
  columns: readonly (keyof DB[TB] & string)[],
): (row: DB[TB]) => CompiledQuery<DB[TB]> {
  const insert = preparedQuery<DB[TB]>(() =>
    db.insertInto(table).values(
      Object.fromEntries(columns.map((column) => [column, null])) as never,
    ).compile() as CompiledQuery<DB[TB]>
  );
  return (row) => insert(...columns.map((column) => row[column]));
}

/**
 * A row type's column names, from an object that must name each of them (the type checker
 * refuses one that leaves a column out or names one the row lacks).
 */
export function columnsOf<Row>(all: Record<keyof Row & string, true>): (keyof Row & string)[] {
  return Object.keys(all) as (keyof Row & string)[];
}
