import { z } from "zod";
import { assert, assertEquals, assertRejects, assertThrows } from "./testing.ts";
import { loadConfig } from "./config.ts";
import { UsageError } from "./errors.ts";
import { createLogger } from "./logger.ts";
import { type A3sModule, defineModule, type ModuleContext } from "./module.ts";
import { ModuleGraphError, orderModules } from "./module_order.ts";
import { createRouter } from "./router.ts";
import { PolicyError } from "./policy.ts";
import { startServer } from "./server.ts";
import { openStore } from "./store.ts";

const start = () => ({});
const named = (name: string, dependsOn?: string[]): A3sModule => ({ name, dependsOn, start });

Deno.test("modules start after their dependencies, keeping the listed order otherwise", () => {
  const order = orderModules([
    named("code", ["power", "lane"]),
    named("safeclaw"),
    named("lane"),
    named("power", ["lane"]),
  ]);
  assertEquals(order.map((m) => m.name), ["lane", "power", "code", "safeclaw"]);
});

Deno.test("a cycle, an unknown dependency or a duplicate name is a clear startup error", () => {
  const cycle = assertThrows(
    () => orderModules([named("a", ["b"]), named("b", ["c"]), named("c", ["a"])]),
    ModuleGraphError,
  );
  assertEquals(cycle.message, "module dependency cycle: a -> b -> c -> a");
  assertThrows(
    () => orderModules([named("a", ["ghost"])]),
    ModuleGraphError,
    "module 'a' depends on unknown module 'ghost'",
  );
  assertThrows(
    () => orderModules([named("a"), named("a")]),
    ModuleGraphError,
    "module 'a' is registered twice",
  );
});

/** Records the life cycle of a few modules that depend on each other. */
function lifecycle() {
  const events: string[] = [];
  let storageReady = false;
  const storage = defineModule({
    name: "storage",
    access: [{ path: "/storage/v1/*", scope: "storage:read", anonymousOnLoopback: true }],
    configSchema: z.object({ buckets: z.number().int().positive().default(2) }),
    start(ctx) {
      events.push(`start storage buckets=${ctx.config.buckets}`);
      const routes = createRouter();
      routes.get("/storage/v1/buckets", (c) => c.json({ buckets: ctx.config.buckets }));
      return {
        routes,
        api: { buckets: () => ctx.config.buckets },
        ready: () => storageReady,
        close() {
          events.push("close storage");
          return Promise.resolve();
        },
      };
    },
  });
  const reports = defineModule({
    name: "reports",
    dependsOn: ["storage"],
    start(ctx) {
      const api = ctx.modules.storage as { buckets(): number };
      events.push(`start reports sees ${api.buckets()} buckets`);
      assert(!ctx.shutdown.aborted);
      assertEquals(ctx.server.host, "127.0.0.1");
      assertEquals(typeof ctx.metrics.metrics, "function");
      return {
        close() {
          events.push(`close reports shutdown=${ctx.shutdown.aborted}`);
          return Promise.resolve();
        },
      };
    },
  });
  return { events, modules: [reports, storage], setReady: (v: boolean) => (storageReady = v) };
}

Deno.test("serve starts modules in dependency order, reports readiness and closes in reverse", async () => {
  const { events, modules, setReady } = lifecycle();
  const config = loadConfig({
    env: { HOME: "/h", A3S_STORAGE_BUCKETS: "3" },
    flags: { port: 0 },
    modules,
  });
  const server = await startServer({
    config,
    modules,
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  try {
    assertEquals(events, ["start storage buckets=3", "start reports sees 3 buckets"]);
    const waiting = await fetch(`${server.url}/readyz`);
    assertEquals(waiting.status, 503);
    assertEquals(await waiting.json(), {
      status: "not_ready",
      store: "ready",
      modules: { storage: "not_ready", reports: "ready" },
    });
    setReady(true);
    const ready = await fetch(`${server.url}/readyz`);
    assertEquals(ready.status, 200);
    assertEquals((await ready.json()).modules, { storage: "ready", reports: "ready" });
    assertEquals(await (await fetch(`${server.url}/storage/v1/buckets`)).json(), { buckets: 3 });
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    assertEquals(doc.paths["/storage/v1/buckets"], undefined, "plain routes stay undocumented");
  } finally {
    await server.shutdown();
  }
  assertEquals(events.slice(2), ["close reports shutdown=true", "close storage"]);
});

Deno.test("a module that fails to start closes the ones already started", async () => {
  const closed: string[] = [];
  const first = defineModule({
    name: "first",
    start: () => ({ close: () => Promise.resolve(void closed.push("first")) }),
  });
  const broken = defineModule({
    name: "broken",
    dependsOn: ["first"],
    start(): never {
      throw new Error("no disk");
    },
  });
  const store = await openStore({ sqlitePath: ":memory:" });
  await assertRejects(
    () =>
      startServer({
        config: loadConfig({ env: { HOME: "/h" }, flags: { port: 0 } }),
        modules: [broken, first],
        store,
        logger: createLogger("silent"),
      }),
    Error,
    "no disk",
  );
  assertEquals(closed, ["first"]);
});

Deno.test("a bad value in a module's section is one line naming the key and its source", async () => {
  const lane = defineModule({
    name: "lane",
    configSchema: z.strictObject({ maxAttempts: z.number().int().min(1).default(3) }),
    start,
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ lane: { maxAttempts: 0 } }));
    const fromFile = assertThrows(
      () => loadConfig({ env: { A3S_HOME: dir }, modules: [lane] }),
      UsageError,
    );
    assertEquals(fromFile.message.includes("\n"), false);
    assert(fromFile.message.startsWith("config lane.maxAttempts: "), fromFile.message);
    assert(fromFile.message.endsWith(`(from config file ${dir}/config.json)`), fromFile.message);

    const fromEnv = assertThrows(
      () => loadConfig({ env: { A3S_HOME: dir, A3S_LANE_MAX_ATTEMPTS: "many" }, modules: [lane] }),
      UsageError,
    );
    assert(fromEnv.message.startsWith("config lane.maxAttempts: "), fromEnv.message);
    assert(fromEnv.message.endsWith("(from env A3S_LANE_MAX_ATTEMPTS)"), fromEnv.message);

    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ lane: {} }));
    const fromFlag = assertThrows(
      () =>
        loadConfig({ env: { A3S_HOME: dir }, flags: { lane: { maxAtempts: 2 } }, modules: [lane] }),
      UsageError,
    );
    assert(fromFlag.message.startsWith("config lane.maxAtempts: "), fromFlag.message);
    assert(fromFlag.message.endsWith("(from flag --lane)"), fromFlag.message);

    assertEquals(loadConfig({ env: { A3S_HOME: dir }, modules: [lane] }).lane, { maxAttempts: 3 });
    const overridden = loadConfig({
      env: { A3S_HOME: dir, A3S_LANE_MAX_ATTEMPTS: "5" },
      modules: [lane],
    });
    assertEquals(overridden.lane, { maxAttempts: 5 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every module gets the one access policy built from the top-level config", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const seen: Array<ModuleContext["policy"]> = [];
    const recorder = (name: string): A3sModule => ({
      name,
      start(ctx) {
        seen.push(ctx.policy);
        return {};
      },
    });
    const file = `${outside}/config.json`;
    await Deno.writeTextFile(file, JSON.stringify({ policy: { roots: [root] } }));
    const config = loadConfig({ env: { HOME: "/h" }, flags: { port: 0 }, file });
    const server = await startServer({
      config,
      modules: [recorder("one"), recorder("two")],
      store: await openStore({ sqlitePath: ":memory:" }),
      logger: createLogger("silent"),
    });
    try {
      assertEquals(seen.length, 2);
      assert(seen[0] === seen[1], "both modules share one policy");
      await Deno.writeTextFile(`${root}/model.txt`, "weights");
      await Deno.writeTextFile(`${outside}/secret.txt`, "secret");
      assertEquals(
        await seen[0].resolvePath(`${root}/model.txt`),
        await Deno.realPath(`${root}/model.txt`),
      );
      await assertRejects(() => seen[0].resolvePath(`${outside}/secret.txt`), PolicyError);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
