import { openStore } from "@a3s/common";
import { assert, assertEquals, createTestDatabase } from "@a3s/common/testing";
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
    name: "store (PostgreSQL): LISTEN/NOTIFY wakes another connection's subscriber at once",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      // Two stores stand for two processes; polling is slowed to 30 s so only NOTIFY can wake.
      const stores = [
        await openStore({ databaseUrl: database.url, poolSize: 2 }),
        await openStore({ databaseUrl: database.url, poolSize: 2 }),
      ];
      const [writer, reader] = await Promise.all(
        stores.map((store) =>
          StoreProvider.open({ store, listenUrl: database.url, pollMs: 30_000 })
        ),
      );
      try {
        const arrived: number[] = [];
        const sub = await reader.subscribe(
          "wake.>",
          undefined,
          () => void arrived.push(Date.now()),
        );
        await new Promise((r) => setTimeout(r, 100));
        const sent = Date.now();
        await writer.publish({
          specversion: "1.0",
          id: crypto.randomUUID(),
          source: "test",
          type: "wake",
          subject: "wake.up",
          time: new Date().toISOString(),
        });
        const until = Date.now() + 5000;
        while (!arrived.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
        assertEquals(arrived.length, 1);
        const latency = arrived[0] - sent;
        assert(latency < 1000, `woke after ${latency} ms`);
        await sub.close();
      } finally {
        await writer.close();
        await reader.close();
        for (const store of stores) await store.close();
      }
    },
  });
  Deno.test({
    name: "store (PostgreSQL): drop the test database",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => database.drop(),
  });
}
