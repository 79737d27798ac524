import { openStore, type Store, ValidationError } from "@a3s/common";
import { assert, assertEquals, assertRejects, createTestDatabase } from "@a3s/common/testing";
import { type FixtureServer, startFixtureServer } from "./_test_fixtures.ts";
import { defaultSearchConfig, type SearchConfig } from "./config.ts";
import { SearchService } from "./search.ts";

function webConfig(server: FixtureServer, extra: Partial<SearchConfig> = {}): SearchConfig {
  const engines = Object.fromEntries(
    Object.entries(server.baseUrls).map(([name, baseUrl]) => [name, { enabled: true, baseUrl }]),
  );
  return defaultSearchConfig({ engines, timeoutMs: 1500, ...extra });
}

async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

Deno.test("with nothing configured, search answers offline from the local index", async () => {
  await withStore(async (store) => {
    const service = await SearchService.open(store, defaultSearchConfig());
    assertEquals(service.defaultEngines(), ["local"]);
    await service.index.upsert([
      {
        uri: "memory:a",
        title: "Queues",
        body: "priority lanes schedule agent jobs",
        source: "memory",
      },
      { uri: "memory:b", title: "Sandbox", body: "bubblewrap isolates tools", source: "memory" },
    ]);
    const answer = await service.search("priority lanes");
    assertEquals(answer.results.map((r) => r.url), ["memory:a"]);
    assertEquals(answer.results[0].engines, ["local"]);
    assert(answer.results[0].snippet.includes("<mark>priority</mark>"));
    assertEquals(answer.engines.length, 1);
    assertEquals(answer.engines[0].engine, "local");
    assertEquals(answer.engines[0].count, 1);
    assertEquals(answer.engines[0].error, undefined);
  });
});

Deno.test("fan-out merges every engine by consensus and reports each engine's stats", async () => {
  const server = await startFixtureServer();
  try {
    await withStore(async (store) => {
      const service = await SearchService.open(store, webConfig(server));
      await service.index.upsert([
        {
          uri: "https://deno.com/",
          title: "Deno",
          body: "deno typescript runtime home",
          source: "url",
        },
      ]);
      const answer = await service.search("deno typescript runtime", { limit: 5 });
      assertEquals(answer.engines.map((e) => e.engine).sort(), [
        "baidu",
        "bing_china",
        "brave",
        "duckduckgo",
        "google",
        "local",
        "searxng",
        "so360",
        "sogou",
        "wikipedia",
      ]);
      for (const stat of answer.engines) {
        assertEquals(stat.error, undefined, stat.engine);
        assert(stat.count > 0, stat.engine);
        assert(stat.latencyMs >= 0);
      }
      assertEquals(answer.results.length, 5);
      // deno.com is found by nine engines (every HTML engine, SearXNG and the local index).
      assertEquals(answer.results[0].url.replace(/\/$/, ""), "https://deno.com");
      assertEquals(answer.results[0].engines.length, 9);
      assertEquals(answer.ranking, "rrf");
    });
  } finally {
    await server.close();
  }
});

Deno.test("a slow engine times out and a blocked one errors without holding the answer", async () => {
  const server = await startFixtureServer();
  try {
    await withStore(async (store) => {
      const service = await SearchService.open(store, webConfig(server, { timeoutMs: 300 }));
      const started = performance.now();
      const slow = await service.search("slow deno", {
        engines: ["google", "wikipedia"],
        cache: false,
      });
      assert(performance.now() - started < 1500, "the answer did not wait for the slow engines");
      for (const stat of slow.engines) assertEquals(stat.error?.code, "timeout");
      assertEquals(slow.results, []);

      const blocked = await service.search("captcha deno", {
        engines: ["baidu", "brave", "local"],
      });
      const byEngine = Object.fromEntries(blocked.engines.map((e) => [e.engine, e]));
      assertEquals(byEngine.baidu.error?.code, "blocked");
      assertEquals(byEngine.brave.error?.code, "blocked");
      assertEquals(byEngine.local.error, undefined);
      assertEquals(blocked.results, []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("results are cached per engine in the store until the TTL passes", async () => {
  const server = await startFixtureServer();
  let now = 1_000_000;
  try {
    await withStore(async (store) => {
      const config = webConfig(server, { cacheTtlSeconds: 60 });
      const service = await SearchService.open(store, config, { now: () => now });
      const first = await service.search("deno", { engines: ["google", "brave"] });
      assertEquals(first.engines.map((e) => e.cached), [false, false]);
      const requests = server.requests.length;
      const second = await service.search("  deno ", { engines: ["google", "brave"] });
      assertEquals(second.engines.map((e) => e.cached), [true, true]);
      assertEquals(server.requests.length, requests);
      assertEquals(second.results, first.results);
      now += 61_000;
      const third = await service.search("deno", { engines: ["google"] });
      assertEquals(third.engines[0].cached, false);
      assertEquals(server.requests.length, requests + 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("an engine that keeps failing is skipped by its circuit breaker, then retried", async () => {
  const server = await startFixtureServer();
  let now = 0;
  try {
    await withStore(async (store) => {
      const config = webConfig(server, { breaker: { failureThreshold: 2, cooldownMs: 10_000 } });
      const service = await SearchService.open(store, config, { now: () => now });
      for (let i = 0; i < 2; i++) {
        const answer = await service.search("broken", { engines: ["sogou"] });
        assertEquals(answer.engines[0].error?.code, "http_error");
      }
      const requests = server.requests.length;
      const skipped = await service.search("broken", { engines: ["sogou"] });
      assertEquals(skipped.engines[0].error?.code, "circuit_open");
      assertEquals(server.requests.length, requests);
      assertEquals(service.engines().find((e) => e.name === "sogou")?.breaker, "open");
      now += 10_001;
      const trial = await service.search("deno", { engines: ["sogou"] });
      assertEquals(trial.engines[0].error, undefined);
      assertEquals(service.engines().find((e) => e.name === "sogou")?.breaker, "closed");
    });
  } finally {
    await server.close();
  }
});

Deno.test("empty, over-long and unknown-engine searches are refused naming the field", async () => {
  await withStore(async (store) => {
    const service = await SearchService.open(store, defaultSearchConfig({ maxQueryLength: 20 }));
    const fieldOf = async (run: () => Promise<unknown>) => {
      const error = await assertRejects(run, ValidationError);
      return (error as ValidationError).field;
    };
    assertEquals(await fieldOf(() => service.search("   ")), "q");
    assertEquals(await fieldOf(() => service.search("x".repeat(21))), "q");
    assertEquals(await fieldOf(() => service.search("ok", { engines: ["altavista"] })), "engines");
    assertEquals(await fieldOf(() => service.search("ok", { limit: 0 })), "limit");
    assertEquals(await fieldOf(() => service.search("ok", { page: 0 })), "page");
  });
});

Deno.test("on PostgreSQL the service answers from its full-text index and caches in the store", async () => {
  const database = await createTestDatabase("a3s_search_svc");
  if (!database) return;
  const server = await startFixtureServer();
  const store = await openStore({ databaseUrl: database.url });
  try {
    const service = await SearchService.open(store, webConfig(server));
    assertEquals(service.index.backend, "postgres-fts");
    await service.index.upsert([
      {
        uri: "memory:pg",
        title: "Deno notes",
        body: "deno typescript runtime on postgres",
        source: "memory",
      },
    ]);
    const first = await service.search("deno typescript runtime", { engines: ["local", "google"] });
    assertEquals(first.engines.map((e) => [e.engine, e.cached, e.error]), [
      ["local", false, undefined],
      ["google", false, undefined],
    ]);
    assert(first.results.some((r) => r.url === "memory:pg"));
    const local = first.results.find((r) => r.url === "memory:pg")!;
    assert(local.snippet.includes("<mark>"), local.snippet);
    const second = await service.search("deno typescript runtime", { engines: ["google"] });
    assertEquals(second.engines[0].cached, true);
  } finally {
    await store.close();
    await server.close();
    await database.drop();
  }
});
