/**
 * A kysely dialect over `node:sqlite`: kysely's own SqliteDialect drives any driver that
 * looks like better-sqlite3, so this file only adapts `DatabaseSync` to that shape.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { SqliteDialect } from "kysely";

type SqliteValue = SQLInputValue;

function toSqliteValue(value: unknown): SqliteValue {
  if (value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value as SqliteValue;
}

class StatementAdapter {
  readonly reader: boolean;
  constructor(private readonly statement: StatementSync) {
    this.reader = statement.columns().length > 0;
  }
  all(parameters: ReadonlyArray<unknown>): unknown[] {
    // node:sqlite rows have a null prototype; kysely callers expect plain objects.
    return this.statement.all(...parameters.map(toSqliteValue)).map((row) => ({ ...row }));
  }
  run(
    parameters: ReadonlyArray<unknown>,
  ): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.statement.run(...parameters.map(toSqliteValue));
  }
  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    for (const row of this.statement.iterate(...parameters.map(toSqliteValue))) yield { ...row };
  }
}

class DatabaseAdapter {
  constructor(readonly database: DatabaseSync) {}
  prepare(sql: string): StatementAdapter {
    return new StatementAdapter(this.database.prepare(sql));
  }
  close(): void {
    if (this.database.isOpen) this.database.close();
  }
}

/**
 * Opens `path` with WAL journaling: committed transactions survive a `kill -9` of the process.
 *
 * @example
 * ```ts
 * import { Kysely } from "kysely";
 * import { nodeSqliteDialect } from "@a3s/common";
 * const db = new Kysely<Record<string, never>>({ dialect: nodeSqliteDialect(":memory:") });
 * ```
 */
export function nodeSqliteDialect(path: string): SqliteDialect {
  return new SqliteDialect({
    database: () => {
      const database = new DatabaseSync(path);
      database.exec("PRAGMA journal_mode = WAL");
      database.exec("PRAGMA synchronous = NORMAL");
      database.exec("PRAGMA busy_timeout = 5000");
      database.exec("PRAGMA foreign_keys = ON");
      return new DatabaseAdapter(database) as never;
    },
  });
}
