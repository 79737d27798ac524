// Writes one row per transaction and prints each id after its commit, until killed.
import { openStore } from "../store.ts";

const store = await openStore({ home: Deno.args[0] });
await store.migrate("crash", [{
  version: 1,
  name: "create",
  up: (db) => db.schema.createTable("events").addColumn("id", "integer", (c) => c.primaryKey()).execute(),
}]);
const db = store.db<{ events: { id: number } }>();
const encoder = new TextEncoder();
for (let id = 0;; id++) {
  await db.transaction().execute((trx) => trx.insertInto("events").values({ id }).execute());
  Deno.stdout.writeSync(encoder.encode(`${id}\n`));
}
