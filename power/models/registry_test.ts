import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { fileURLToPath } from "node:url";
import { A3sError } from "@a3s/common";
import { ModelRegistry } from "./registry.ts";
import { parseKeepAlive } from "./keep_alive.ts";
import { ModelStore } from "./store.ts";

const TINY = fileURLToPath(new URL("../testdata/tiny", import.meta.url));

async function withStore(fn: (store: ModelStore) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "a3s-power-registry-" });
  try {
    await fn(new ModelStore(home, { tiny: TINY, other: TINY }));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("keep_alive parses Ollama durations", () => {
  assertEquals(parseKeepAlive("5m", 1), 300_000);
  assertEquals(parseKeepAlive(10, 1), 10_000);
  assertEquals(parseKeepAlive("-1", 1), Infinity);
  assertEquals(parseKeepAlive(undefined, 42), 42);
  assertEquals(parseKeepAlive("250ms", 1), 250);
  let error: unknown;
  try {
    parseKeepAlive("soon", 1);
  } catch (e) {
    error = e;
  }
  assert(error instanceof A3sError && error.status === 400 && error.field === "keep_alive");
});

Deno.test("a load past the memory budget is refused with a clear error", async () => {
  await withStore(async (store) => {
    const size = (await store.manifest("tiny")).weightBytes;
    const registry = new ModelRegistry(store, { memoryBudgetBytes: size - 1 });
    const error = await assertRejects(() => registry.load("tiny"), A3sError);
    assert(error instanceof A3sError && error.code === "insufficient_memory", String(error));
    assert(/needs 0\.2 MiB but the memory budget is 0\.2 MiB/.test(error.message), error.message);
    await registry.close();
  });
});

Deno.test("a busy model is not evicted; an idle one makes room", async () => {
  await withStore(async (store) => {
    const size = (await store.manifest("tiny")).weightBytes;
    const registry = new ModelRegistry(store, { memoryBudgetBytes: size * 1.5 });
    const held = await registry.acquire("tiny", "5m");
    const busy = await assertRejects(() => registry.load("other"), A3sError);
    assert(/busy/.test(busy.message), busy.message);
    held.release();
    await registry.load("other");
    assertEquals(registry.loaded().map((m) => m.name), ["other:latest"]);
    await registry.close();
  });
});

Deno.test("keep_alive unloads an idle model; 0 unloads at once", async () => {
  await withStore(async (store) => {
    const registry = new ModelRegistry(store);
    await registry.use("tiny", "150ms", () => {});
    assertEquals(registry.loaded().length, 1);
    await new Promise((r) => setTimeout(r, 400));
    assertEquals(registry.loaded().length, 0);
    await registry.use("tiny", 0, () => {});
    await new Promise((r) => setTimeout(r, 20));
    assertEquals(registry.loaded().length, 0);
    await registry.close();
  });
});

Deno.test("requests queue behind the concurrency limit and can leave the queue", async () => {
  await withStore(async (store) => {
    const registry = new ModelRegistry(store, { concurrency: 1 });
    const first = await registry.acquire("tiny", "5m");
    let secondRan = false;
    const second = registry.use("tiny", "5m", () => (secondRan = true));
    const controller = new AbortController();
    const third = registry.acquire("tiny", "5m", controller.signal);
    await new Promise((r) => setTimeout(r, 20));
    assert(!secondRan);
    controller.abort();
    await assertRejects(() => third, A3sError);
    first.release();
    await second;
    assert(secondRan);
    await registry.close();
  });
});
