import { openStore } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { providerContract } from "./_contract.ts";
import { StoreProvider } from "./providers/store.ts";

providerContract("store (SQLite)", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const provider = await StoreProvider.open({ store, pollMs: 50 });
  const close = provider.close.bind(provider);
  provider.close = async () => {
    await close();
    await store.close();
  };
  return provider;
});

const database = await createTestDatabase("a3s_event");
if (database) {
  providerContract("store (PostgreSQL)", async () => {
    const store = await openStore({ databaseUrl: database.url, poolSize: 4 });
    // Each case starts on empty tables: the contract counts subjects and lag from zero.
    await store.migrate("event", (await import("./providers/store_schema.ts")).EVENT_MIGRATIONS);
    const db = store.db<import("./providers/store_schema.ts").EventTables>();
    for (const table of ["event_pending", "event_consumer", "event_dedupe", "event_log"] as const) {
      await db.deleteFrom(table).execute();
    }
    const provider = await StoreProvider.open({ store, listenUrl: database.url, pollMs: 1000 });
    const close = provider.close.bind(provider);
    provider.close = async () => {
      await close();
      await store.close();
    };
    return provider;
  });
  Deno.test({
    name: "store (PostgreSQL): drop the test database",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => database.drop(),
  });
}
