import { assertEquals } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { migrateRateBuckets, SharedTokenBuckets } from "./shared_rate_limit.ts";
import { base, config, startBackend } from "./_test_support.ts";
import { startGateway } from "./server.ts";

async function sharesOneLimit(store: Store): Promise<void> {
  await migrateRateBuckets(store);
  let now = 1_000_000;
  // Two bucket sets over one store stand for two gateway processes.
  const a = new SharedTokenBuckets(store, 1, 3, () => now);
  const b = new SharedTokenBuckets(store, 1, 3, () => now);
  const results = await Promise.all([a, b, a, b, a].map((x) => x.take("k")));
  assertEquals(results.filter((r) => r.allowed).length, 3);
  const denied = results.find((r) => !r.allowed)!;
  assertEquals(denied.retryAfterSeconds, 1);
  now += 2000;
  assertEquals((await b.take("k")).allowed, true);
  assertEquals((await a.take("k")).allowed, true);
  assertEquals((await a.take("k")).allowed, false);
  assertEquals((await a.take("other")).allowed, true);
}

Deno.test("shared token buckets: two processes share one limit in SQLite", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await sharesOneLimit(store);
  } finally {
    await store.close();
  }
});

Deno.test("shared token buckets: two gateways share one limit in PostgreSQL", async () => {
  const db = await createTestDatabase("a3s_gw");
  if (!db) return;
  const stores = [
    await openStore({ databaseUrl: db.url }),
    await openStore({ databaseUrl: db.url }),
  ];
  const echo = startBackend("echo");
  const value = {
    services: { echo: { backends: [{ url: echo.url }] } },
    middlewares: { rl: { rateLimit: { average: 0.1, burst: 4, by: "route", shared: true } } },
    routers: { r: { rule: {}, service: "echo", middlewares: ["rl"] } },
  };
  const gateways = await Promise.all(
    stores.map((store) => startGateway({ config: config(value), port: 0, store })),
  );
  try {
    await sharesOneLimit(stores[0]);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${base(gateways[i % 2])}/`);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assertEquals(statuses, [200, 200, 200, 200, 429, 429]);
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
    await echo.close();
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
});

Deno.test("a shared limit without a database is a config error, not a crash", async () => {
  const echo = startBackend("echo");
  try {
    let message = "";
    try {
      await startGateway({
        port: 0,
        config: config({
          services: { echo: { backends: [{ url: echo.url }] } },
          middlewares: { rl: { rateLimit: { average: 1, burst: 1, shared: true } } },
          routers: { r: { rule: {}, service: "echo", middlewares: ["rl"] } },
        }),
      });
    } catch (error) {
      message = (error as Error).message;
    }
    assertEquals(message, "middleware rl: a shared rate limit needs a database (--database-url)");
  } finally {
    await echo.close();
  }
});
