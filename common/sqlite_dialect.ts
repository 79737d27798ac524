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

/** How many prepared statements a connection keeps (the most recently used). */
const STATEMENT_CACHE_SIZE = 256;

/** SQL that changes the schema (kysely's schema builder and migrations send these). */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\b/i;

class DatabaseAdapter {
  /**
   * Statements by their SQL: kysely prepares every query it runs, and preparing (SQLite's parse
   * and plan, and node:sqlite's wrapper) costs more than running a small one. kysely runs one
   * query at a time on a connection (a stream holds it until its last row), so a statement is
   * never run again under rows still being read. A statement keeps the columns it was prepared
   * with (`select *` does not see a column added later), so any schema change made through this
   * connection empties the cache; a schema changed by another process needs this one reopened,
   * as its code expects its own schema anyway.
   */
  readonly #statements = new Map<string, StatementAdapter>();
  constructor(readonly database: DatabaseSync) {}
  prepare(sql: string): StatementAdapter {
    if (SCHEMA_CHANGE.test(sql)) {
      this.#statements.clear();
      return new StatementAdapter(this.database.prepare(sql));
    }
    const cached = this.#statements.get(sql);
    if (cached) {
      // Re-inserted, so the map's order stays least recently used first.
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = new StatementAdapter(this.database.prepare(sql));
    this.#statements.set(sql, statement);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      this.#statements.delete(this.#statements.keys().next().value!);
    }
    return statement;
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
