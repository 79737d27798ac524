/**
 * One contract suite for both backends: embedded SQLite and a real PostgreSQL.
 */
import { sql } from "kysely";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { A3sError } from "./errors.ts";
import { type Migration, openStore, type Store } from "./store.ts";
import { createTestDatabase } from "./testing.ts";

interface NoteTables {
  notes: { id: string; body: string; version: number };
}

const migrations: Migration[] = [
  {
    version: 1,
    name: "create_notes",
    up: (db) =>
      db.schema.createTable("notes").addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("body", "text", (c) => c.notNull()).execute(),
  },
  {
    version: 2,
    name: "add_version",
    up: (db) =>
      db.schema.alterTable("notes").addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
        .execute(),
  },
];

async function contract(store: Store): Promise<void> {
  await store.migrate("notes", migrations);
  await store.migrate("notes", migrations); // idempotent
  const db = store.db<NoteTables>();
  assert(await store.ping());

  await db.insertInto("notes").values({ id: "a", body: "first", version: 1 }).execute();
  const row = await db.selectFrom("notes").selectAll().where("id", "=", "a")
    .executeTakeFirstOrThrow();
  assertEquals(row, { id: "a", body: "first", version: 1 });

  // A failed transaction leaves nothing behind.
  await assertRejects(
    () =>
      db.transaction().execute(async (trx) => {
        await trx.insertInto("notes").values({ id: "b", body: "second", version: 1 }).execute();
        throw new Error("abort");
      }),
    Error,
    "abort",
  );
  assertEquals(await db.selectFrom("notes").select("id").where("id", "=", "b").execute(), []);

  // A committed transaction is visible.
  await db.transaction().execute(async (trx) => {
    await trx.updateTable("notes").set({ version: 2 }).where("id", "=", "a").execute();
    await trx.insertInto("notes").values({ id: "c", body: "third", version: 1 }).execute();
  });
  const ids = await db.selectFrom("notes").select(["id", "version"]).orderBy("id").execute();
  assertEquals(ids, [{ id: "a", version: 2 }, { id: "c", version: 1 }]);

  // Migrations are tracked per module.
  const applied = await sql<{ name: string }>`select name from notes_migrations order by name`
    .execute(db);
  assertEquals(applied.rows.map((r) => r.name), ["000001_create_notes", "000002_add_version"]);

  // A broken migration fails loudly with the module and step named.
  const error = await assertRejects(
    () =>
      store.migrate("broken", [{
        version: 1,
        name: "bad_sql",
        up: (handle) => sql`create tabel nope`.execute(handle).then(() => {}),
      }]),
    A3sError,
    "broken migration 000001_bad_sql failed",
  );
  assertEquals(error.code, "migration_failed");
}

Deno.test("store contract: SQLite file in the data dir", async () => {
  const home = await Deno.makeTempDir();
  const store = await openStore({ home });
  assertEquals(store.kind, "sqlite");
  assertEquals(store.location, `${home}/a3s.db`);
  try {
    await contract(store);
  } finally {
    await store.close();
    await store.close(); // idempotent
  }
  // Data persists across reopen.
  const again = await openStore({ home });
  const rows = await again.db<NoteTables>().selectFrom("notes").select("id").execute();
  assertEquals(rows.length, 2);
  await again.close();
  await Deno.remove(home, { recursive: true });
});

Deno.test("store contract: PostgreSQL", async (t) => {
  const database = await createTestDatabase("a3s_store");
  if (!database) {
    await t.step({ name: "SKIPPED: PostgreSQL unavailable", ignore: true, fn: () => {} });
    return;
  }
  const store = await openStore({ databaseUrl: database.url });
  assertEquals(store.kind, "postgres");
  assert(!store.location.includes(":a3s@"), "password is redacted");
  try {
    await contract(store);
  } finally {
    await store.close();
    await database.drop();
  }
});

Deno.test("a PostgreSQL connection that dies while idle is reported, and the store goes on", async (t) => {
  const database = await createTestDatabase("a3s_store_lost");
  if (!database) {
    await t.step({ name: "SKIPPED: PostgreSQL unavailable", ignore: true, fn: () => {} });
    return;
  }
  const lost: Error[] = [];
  const store = await openStore({
    databaseUrl: database.url,
    poolSize: 1,
    onConnectionError: (error) => lost.push(error),
  });
  const killer = await openStore({ databaseUrl: database.url, poolSize: 1 });
  try {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.db());
    await sql`select pg_terminate_backend(${rows[0].pid})`.execute(killer.db());
    const deadline = Date.now() + 5_000;
    while (lost.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assertEquals(lost.length, 1);
    const again = await sql<{ one: number }>`select 1 as one`.execute(store.db());
    assertEquals(again.rows[0].one, 1);
  } finally {
    await store.close();
    await killer.close();
    await database.drop();
  }
});

Deno.test("store refuses to open without a location", async () => {
  await assertRejects(() => openStore({}), A3sError, "store needs");
});

Deno.test("several processes opening a fresh SQLite data dir at once all migrate it", async () => {
  const storeUrl = new URL("./store.ts", import.meta.url).href;
  // Many tables and indexes: a long migration, so that the processes overlap in it.
  const script = `
    import { openStore } from "${storeUrl}";
    const store = await openStore({ home: Deno.args[0] });
    const tables = Array.from({ length: 12 }, (_, i) => i);
    await store.migrate("race", [{
      version: 1,
      name: "tables",
      async up(db) {
        for (const i of tables) {
          await db.schema.createTable("race_" + i).addColumn("id", "integer", (c) => c.primaryKey())
            .execute();
          await db.schema.createIndex("race_" + i + "_id").on("race_" + i).column("id").execute();
        }
      },
    }, {
      version: 2,
      name: "rows",
      async up(db) {
        await db.insertInto("race_0").values({ id: 1 }).execute();
      },
    }]);
    await store.close();
  `;
  for (let round = 0; round < 4; round++) {
    const home = await Deno.makeTempDir({ prefix: "a3s-migrate-race-" });
    try {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () =>
          new Deno.Command(Deno.execPath(), {
            args: ["eval", "--no-check", script, home],
            cwd: new URL("../", import.meta.url),
            stdout: "piped",
            stderr: "piped",
          }).output()),
      );
      for (const run of runs) {
        assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      }
      const store = await openStore({ home });
      const rows = await sql<{ n: number }>`select count(*) as n from race_0`.execute(store.db());
      assertEquals(Number(rows.rows[0].n), 1);
      await store.close();
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
});

const NOTES: Migration[] = [{
  version: 1,
  name: "create",
  up: (db) => db.schema.createTable("notes").ifNotExists().addColumn("id", "integer").execute(),
}];

Deno.test("the migration lock never follows a symlink planted at its path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = `${dir}/planted`;
    await Deno.symlink(target, `${dir}/a3s.db.migrate-lock`);
    const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
    try {
      // Before, the link's target was created (mode 0600) and the migration went on.
      await assertRejects(() => store.migrate("notes", NOTES), A3sError, "is a symlink");
      assertEquals(await Deno.lstat(target).then(() => true, () => false), false);
      // A link to a file that exists is refused as well.
      await Deno.writeTextFile(target, "");
      await assertRejects(() => store.migrate("notes", NOTES), A3sError, "is a symlink");
      // A plain file there is the lock.
      await Deno.remove(`${dir}/a3s.db.migrate-lock`);
      await store.migrate("notes", NOTES);
      assert((await Deno.lstat(`${dir}/a3s.db.migrate-lock`)).isFile);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether this process may bind-mount (root, with mount(8)): how a test gets a read-only dir. */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  try {
    return (await new Deno.Command("mount", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "on a read-only data dir the migration lock is skipped: no raw error from it",
  ignore: !(await canMount()),
  async fn() {
    const dir = await Deno.makeTempDir();
    const mount = async (...args: string[]) => {
      const out = await new Deno.Command("mount", { args, stderr: "piped" }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    };
    try {
      await Deno.mkdir(`${dir}/src`);
      await Deno.mkdir(`${dir}/ro`);
      const first = await openStore({ sqlitePath: `${dir}/src/a3s.db` });
      await first.migrate("notes", NOTES);
      await first.close();
      // No lock file yet: a data dir migrated by a version before the lock, or cleaned up.
      await Deno.remove(`${dir}/src/a3s.db.migrate-lock`);
      await mount("--bind", `${dir}/src`, `${dir}/ro`);
      try {
        await mount("-o", "remount,bind,ro", `${dir}/ro`);
        const store = await openStore({ sqlitePath: `${dir}/ro/a3s.db` });
        try {
          // Before, a raw `Error: Read-only file system` from creating the lock file. Now the
          // lock is skipped; what SQLite itself makes of the mount (a WAL database cannot open
          // there) is the store's own A3sError.
          const error = await store.migrate("notes", NOTES).then(() => undefined, (e) => e);
          assert(
            error === undefined ||
              error instanceof A3sError && !error.message.includes("migrate-lock"),
            String(error),
          );
        } finally {
          await store.close();
        }
      } finally {
        // Lazily: SQLite may hold the file a moment after close.
        await new Deno.Command("umount", { args: ["-l", `${dir}/ro`] }).output();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
