/**
 * The one storage layer: kysely over embedded SQLite (default) or PostgreSQL
 * (`A3S_DATABASE_URL`), with versioned migrations kept per module.
 */
import { join } from "node:path";
import { Kysely, PostgresDialect, sql } from "kysely";
import { type Migration as KyselyMigration, Migrator } from "kysely/migration";
import { nodeSqliteDialect } from "./sqlite_dialect.ts";
import { A3sError } from "./errors.ts";

/** Which database a store talks to. Modules branch on it only for dialect-specific SQL. */
export type StoreKind = "sqlite" | "postgres";

/** One versioned schema step of a module. */
export interface Migration {
  /** Strictly increasing within a module. */
  version: number;
  /** A short slug, part of the recorded migration name. */
  name: string;
  /** Creates or changes the module's tables. */
  up(db: Kysely<unknown>, kind: StoreKind): Promise<void>;
}

/** An open database shared by all modules of a process. */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly kind: StoreKind;
  /** Where the data lives: a file path or a redacted URL. */
  readonly location: string;
  /** The kysely handle, typed by the caller's table interface. */
  db<Tables>(): Kysely<Tables>;
  /** Applies the module's pending migrations, in order, once per database. */
  migrate(module: string, migrations: readonly Migration[]): Promise<void>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  /** Closes the connections; the store cannot be used after. */
  close(): Promise<void>;
}

/** How to open a store. */
export interface StoreOptions {
  /** The data dir; the SQLite file is `<home>/a3s.db`. */
  home?: string;
  /** A `postgres://` URL; takes precedence over `home`. */
  databaseUrl?: string;
  /** An explicit SQLite path, such as `:memory:` for tests. */
  sqlitePath?: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /**
   * Called when an idle PostgreSQL connection fails (the server restarted, say). The pool
   * drops that connection and opens a new one on the next query; without a listener the
   * error would be thrown unhandled and end the process. Defaults to a warning on stderr.
   */
  onConnectionError?: (error: Error) => void;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

function warnConnectionError(error: Error): void {
  console.error(
    JSON.stringify({ level: "warn", msg: "postgres connection lost", error: error.message }),
  );
}

async function postgresDialect(
  url: string,
  poolSize: number,
  onConnectionError: (error: Error) => void,
): Promise<PostgresDialect> {
  const pg = await import("pg");
  const Pool = pg.default?.Pool ?? pg.Pool;
  const pool = new Pool({ connectionString: url, max: poolSize });
  // The pool reports errors of idle connections; a connection checked out between two
  // queries (held by a transaction, say) reports on itself, and unheard that would end the
  // process. Both paths may carry the same error, so each is reported once.
  const reported = new WeakSet<Error>();
  const reportOnce = (error: Error) => {
    if (reported.has(error)) return;
    reported.add(error);
    onConnectionError(error);
  };
  pool.on("error", reportOnce);
  pool.on("connect", (client: { on(event: "error", listener: (error: Error) => void): void }) => {
    client.on("error", reportOnce);
  });
  return new PostgresDialect({ pool });
}

/** How many times a SQLite migration runs again after another process's write got in its way. */
const MIGRATE_ATTEMPTS = 8;
const MIGRATE_BACKOFF_MS = 25;

/**
 * Whether a failed migration of SQLite may succeed if run again: another connection held the
 * write lock past busy_timeout, or wrote between the Migrator's read and its write (a deferred
 * transaction then fails at once with SQLITE_BUSY, which busy_timeout does not cover), or made
 * the table first outside our lock (a process of an older version).
 */
function isMigrationRace(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY|already exists/i.test(String(error));
}

/** Whether `error` says this process may not create or write a file there. */
function isWriteRefused(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
    (error as { code?: unknown } | null)?.code === "EROFS";
}

/**
 * The migration lock file at `path`, opened without following a symlink: the path is
 * predictable, and a link planted there would have this process create (mode 0600) or open any
 * file it may write. An existing file is opened for reading only (a lock needs no more, and a
 * data dir on a read-only mount still has it) and checked, after opening, to be the very file
 * the path names, so a link swapped in after the lstat is refused too; a missing one is created
 * exclusively (`O_CREAT | O_EXCL` follows no link, dangling or not). Undefined where this
 * process may not create it (a read-only mount, a data dir of another user): such a process
 * has nothing to migrate that it could write anyway, and goes on without the lock.
 */
async function openMigrateLock(path: string): Promise<Deno.FsFile | undefined> {
  // Twice at most: another process may create or remove the file between the lstat and the
  // open.
  for (let attempt = 0;; attempt++) {
    const before = await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (before && !before.isFile) throw unsafeLock(path, before);
    let file: Deno.FsFile;
    try {
      file = before
        ? await Deno.open(path, { read: true })
        : await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    } catch (error) {
      const raced = before
        ? error instanceof Deno.errors.NotFound
        : error instanceof Deno.errors.AlreadyExists;
      if (raced && attempt === 0) continue;
      if (isWriteRefused(error)) return undefined;
      throw new A3sError(
        "store_lock",
        `cannot open the migration lock ${path}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    if (before) {
      const opened = await file.stat();
      const now = await Deno.lstat(path).catch(() => undefined);
      if (!now?.isFile || opened.ino !== now.ino || opened.dev !== now.dev) {
        file.close();
        throw unsafeLock(path, now);
      }
    }
    return file;
  }
}

function unsafeLock(path: string, info: Deno.FileInfo | undefined): A3sError {
  const what = info?.isSymlink
    ? "a symlink"
    : info?.isDirectory
    ? "a directory"
    : info
    ? "not a plain file"
    : "gone";
  return new A3sError(
    "store_lock_unsafe",
    `the migration lock ${path} is ${what} (or was swapped while opening): refusing to open ` +
      "it; remove it (the store makes a plain file there) and check who can write the data dir",
  );
}

/**
 * Runs `migrate` on the SQLite file `location` while holding an exclusive lock on a file beside
 * it, so that processes opening a fresh data dir at once (two `serve`s, `serve` and a CLI
 * command) migrate one after another: kysely's migration lock is a no-op on SQLite, and its
 * deferred transaction fails when another process migrates alongside. A lost race that is left
 * (a write of a process that is not migrating) is run again: the Migrator reads what is done
 * and does only the rest.
 */
async function migrateSqlite<T extends { error?: unknown }>(
  location: string,
  migrate: () => Promise<T>,
): Promise<T> {
  const inMemory = location === ":memory:" || location.startsWith("file:");
  const lock = inMemory ? undefined : await openMigrateLock(`${location}.migrate-lock`);
  try {
    await lock?.lock(true);
    for (let attempt = 1;; attempt++) {
      const outcome = await migrate();
      if (!outcome.error || attempt >= MIGRATE_ATTEMPTS || !isMigrationRace(outcome.error)) {
        return outcome;
      }
      await new Promise((wake) =>
        setTimeout(wake, MIGRATE_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random()))
      );
    }
  } finally {
    // Closing the file releases its lock.
    lock?.close();
  }
}

/**
 * Opens the store: PostgreSQL when a URL is given, else SQLite in the data dir.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * await store.migrate("notes", [{
 *   version: 1,
 *   name: "create",
 *   up: (db) => db.schema.createTable("notes").addColumn("id", "integer").execute(),
 * }]);
 * await store.close();
 * ```
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  let kind: StoreKind;
  let location: string;
  let db: Kysely<unknown>;
  if (options.databaseUrl) {
    kind = "postgres";
    location = redact(options.databaseUrl);
    db = new Kysely({
      dialect: await postgresDialect(
        options.databaseUrl,
        options.poolSize ?? 10,
        options.onConnectionError ?? warnConnectionError,
      ),
    });
  } else {
    kind = "sqlite";
    if (options.sqlitePath) {
      location = options.sqlitePath;
    } else {
      if (!options.home) {
        throw new A3sError("store_config", "store needs home, sqlitePath or databaseUrl");
      }
      await Deno.mkdir(options.home, { recursive: true });
      location = join(options.home, "a3s.db");
    }
    db = new Kysely({ dialect: nodeSqliteDialect(location) });
  }
  let closed = false;
  return {
    kind,
    location,
    db: <Tables>() => db as unknown as Kysely<Tables>,
    async migrate(module, migrations) {
      if (!/^[a-z][a-z0-9_]*$/.test(module)) {
        throw new A3sError("store_config", `module name '${module}' must be snake_case`);
      }
      const entries: Record<string, KyselyMigration> = {};
      for (const migration of migrations) {
        const key = `${String(migration.version).padStart(6, "0")}_${migration.name}`;
        entries[key] = { up: (handle) => migration.up(handle, kind) };
      }
      const migrator = new Migrator({
        db,
        provider: { getMigrations: () => Promise.resolve(entries) },
        migrationTableName: `${module}_migrations`,
        migrationLockTableName: `${module}_migrations_lock`,
      });
      const { error, results } = kind === "sqlite"
        ? await migrateSqlite(location, () => migrator.migrateToLatest())
        : await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
        throw new A3sError("migration_failed", `${module} migration ${failed} failed: ${error}`, {
          cause: error,
        });
      }
    },
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
