import { openStore } from "@a3s/common";
import { assert, assertEquals, createTestDatabase } from "@a3s/common/testing";
import { providerContract } from "./_contract.ts";
import { StoreProvider } from "./providers/store.ts";
import { EventBus } from "./bus.ts";
import { malformedMessageContract } from "./_malformed_contract.ts";
import type { EventTables } from "./providers/store_schema.ts";

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

malformedMessageContract("store (SQLite)", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const provider = await StoreProvider.open({ store, pollMs: 50 });
  return {
    provider,
    // A row damaged behind the provider's back: its body is not the event it should be.
    inject: async (subject, text) => {
      await store.db<EventTables>().insertInto("event_log").values({
        id: crypto.randomUUID(),
        subject,
        published_at: Date.now(),
        body: text,
        partition_key: null,
      }).execute();
    },
    close: async (bus) => {
      await bus.close();
      await store.close();
    },
  };
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

Deno.test({
  name: "store: the later events of a key wait at the broker while its nacked event runs again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Fetched with the redelivery, they went to the consumer, which held them in memory behind
    // it: the contract's bound on held deliveries was passed by up to a batch (15 of 12 once).
    const store = await openStore({ sqlitePath: ":memory:" });
    const provider = await StoreProvider.open({ store, pollMs: 20 });
    const bus = new EventBus({ provider, source: "test" });
    const abort = new AbortController();
    try {
      await bus.publish("k.e", "a1", { key: "A" });
      await bus.publish("k.e", "a2", { key: "A" });
      const spec = {
        name: "redelivered",
        pattern: "k.>",
        ackWaitMs: 5000,
        deliver: "all" as const,
        instance: "me",
      };
      await provider.ensureConsumer(spec);
      const deliveries = provider.consume(spec, abort.signal, 8)[Symbol.asyncIterator]();
      const next = async () => (await deliveries.next()).value!;
      const a1 = await next();
      const a2 = await next();
      assertEquals([a1.event.data, a2.event.data], ["a1", "a2"]);
      await a1.nack(30);
      await bus.publish("k.e", "a3", { key: "A" });
      const again = await next();
      assertEquals([again.event.data, again.deliveries], ["a1", 2]);
      const coming = next();
      const early = await Promise.race([
        coming,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 300)),
      ]);
      assertEquals(early?.event.data, undefined, "a3 came while a1 ran again");
      await again.ack();
      const a3 = await coming;
      assertEquals([a3.event.data, a3.deliveries], ["a3", 1]);
      await a2.ack();
      await a3.ack();
    } finally {
      abort.abort();
      await bus.close();
      await store.close();
    }
  },
});
