import { DatabaseSync } from "node:sqlite";
import { Kysely, sql } from "kysely";
import { assertEquals } from "./testing.ts";
import { nodeSqliteDialect } from "./sqlite_dialect.ts";

interface Tables {
  item: { id: number; name: string };
}

/** Counts the statements SQLite prepares while `run` goes. */
async function countPrepares(run: () => Promise<void>): Promise<number> {
  const prepare = DatabaseSync.prototype.prepare;
  let prepares = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, text: string) {
    prepares++;
    return prepare.call(this, text);
  };
  try {
    await run();
  } finally {
    DatabaseSync.prototype.prepare = prepare;
  }
  return prepares;
}

async function openItems(): Promise<Kysely<Tables>> {
  const db = new Kysely<Tables>({ dialect: nodeSqliteDialect(":memory:") });
  await db.schema.createTable("item").addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("name", "text").execute();
  return db;
}

Deno.test("the same SQL run again reuses its prepared statement, with each run's values", async () => {
  const db = await openItems();
  try {
    const prepares = await countPrepares(async () => {
      for (let id = 1; id <= 5; id++) {
        await db.insertInto("item").values({ id, name: `n${id}` }).execute();
      }
      for (let id = 1; id <= 5; id++) {
        const row = await db.selectFrom("item").select("name").where("id", "=", id)
          .executeTakeFirst();
        assertEquals(row?.name, `n${id}`);
      }
    });
    // One insert and one select, each prepared once for its five runs.
    assertEquals(prepares, 2);
  } finally {
    await db.destroy();
  }
});

Deno.test("a schema change through the connection is seen by the statements cached before it", async () => {
  const db = await openItems();
  try {
    await db.insertInto("item").values({ id: 1, name: "a" }).execute();
    const star = () => sql<Record<string, unknown>>`select * from item`.execute(db);
    assertEquals((await star()).rows, [{ id: 1, name: "a" }]);
    await sql`alter table item add column note text`.execute(db);
    assertEquals((await star()).rows, [{ id: 1, name: "a", note: null }]);
  } finally {
    await db.destroy();
  }
});
