import { assertEquals } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import { createLane, type DurableLane, type DurableLaneOptions } from "@a3s/lane";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";
import { ChannelHub, CHAT_CONCURRENCY, CHAT_TURN_KIND, type ChatTurnResult } from "./hub.ts";

/** A hub whose chat turns queue on a durable lane, as serve's lane module gives it. */
async function withServedLane(
  fn: (hub: ChannelHub, lane: DurableLane, store: Store) => Promise<void>,
  laneOptions: Omit<DurableLaneOptions, "store"> = {},
) {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "hub-lane-test-key-0123456789",
    tee: { kind: null, device: null },
  });
  const lane = await createLane({ store, pollMs: 10, ...laneOptions });
  const hub = new ChannelHub(guard, [], () => Promise.resolve(""), { lane });
  try {
    await fn(hub, lane, store);
  } finally {
    await hub.close();
    // The hub leaves the served lane to its module: it still takes jobs.
    const echo = await lane.submit("s", "query", { kind: CHAT_TURN_KIND, payload: {} });
    assertEquals(await echo.result, { answered: false, elsewhere: true });
    await lane.close();
    await guard.close();
    await store.close();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

Deno.test("hub on a served lane: chat turns are its jobs, without the message; a failed one is its result, not dead", async () => {
  await withServedLane(async (hub, lane) => {
    assertEquals(await hub.run("u1:telegram:1", () => Promise.resolve("hello")), "hello");
    const failed = await hub.run(
      "u1:telegram:1",
      () => Promise.reject(new Error("upstream rejected ada@example.org")),
    ).then(() => undefined, (error: Error) => error.message);
    assertEquals(failed, "upstream rejected ada@example.org");
    // Before, the hub's lane was private: the lane module's jobs, stats and events showed none.
    const jobs = await lane.list({ session: "u1:telegram:1" });
    assertEquals(jobs.map((j) => [j.lane, j.kind, j.state]), [
      ["prompt", CHAT_TURN_KIND, "completed"],
      ["prompt", CHAT_TURN_KIND, "completed"],
    ]);
    assertEquals(Object.keys(jobs[0].payload as object), ["turn"]);
    assertEquals(jobs.map((j) => j.result as ChatTurnResult), [
      { answered: true },
      { answered: false, error: "upstream rejected [EMAIL]" },
    ]);
    assertEquals((await lane.dlq.list()).length, 0);
    assertEquals((await hub.stats()).lanes.prompt.completed, 2);
  });
});

Deno.test("hub on a served lane: one turn at a time per chat, in order; up to 8 chats at once", async () => {
  await withServedLane(async (hub, lane) => {
    assertEquals(lane.limits.lanes[5], CHAT_CONCURRENCY, "upstream's 2 raised for chats");
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const release = Promise.withResolvers<void>();
    const turn = (name: string) => async () => {
      peak = Math.max(peak, ++running);
      await release.promise;
      order.push(name);
      running--;
      return name;
    };
    const turns = [
      hub.run("chat-a", turn("a1")),
      hub.run("chat-a", turn("a2")),
      hub.run("chat-a", turn("a3")),
      ...Array.from({ length: 8 }, (_, i) => hub.run(`chat-${i}`, turn(`c${i}`))),
    ];
    while (running < CHAT_CONCURRENCY) await tick();
    // Chat a's later turns wait for its first, outside the lane's limit.
    assertEquals((await lane.list({ session: "chat-a" })).length, 1);
    release.resolve();
    await Promise.all(turns);
    assertEquals(peak, CHAT_CONCURRENCY);
    assertEquals(order.filter((name) => name.startsWith("a")), ["a1", "a2", "a3"]);
  });
});

Deno.test("hub on a served lane: an operator's prompt limit stays", async () => {
  await withServedLane((_hub, lane) => {
    assertEquals(lane.limits.lanes[5], 3);
    return Promise.resolve();
  }, { lanes: { prompt: { maxConcurrency: 3 } } });
});

Deno.test("hub on a served lane: a turn another process's worker took is queued again and answered here", async () => {
  await withServedLane(async (hub, lane, store) => {
    // This process's worker is busy, so a second process on the same store, which registers
    // the kind too but has none of this process's turns, takes the chat's job first.
    const busy = Promise.withResolvers<void>();
    lane.handle("test.busy", () => busy.promise);
    const blocker = await lane.submit("ops", "system", { kind: "test.busy", payload: null });
    const other = await createLane({ store, pollMs: 1 });
    const taken = Promise.withResolvers<void>();
    other.handle(CHAT_TURN_KIND, () => {
      taken.resolve();
      return { answered: false, elsewhere: true };
    });
    const answer = hub.run("chat", () => Promise.resolve("here"));
    await taken.promise;
    await other.close();
    busy.resolve();
    await blocker.result;
    assertEquals(await answer, "here");
    const results = (await lane.list({ session: "chat" })).map((j) => j.result);
    assertEquals(results, [{ answered: false, elsewhere: true }, { answered: true }]);
  }, { maxConcurrency: 1 });
});

Deno.test("hub on a served lane: a turn the lane timed out fails, and the chat's next waits for its work", async () => {
  await withServedLane(async (hub, lane) => {
    const events: string[] = [];
    const slow = hub.run("chat", async () => {
      events.push("slow start");
      await new Promise((resolve) => setTimeout(resolve, 300));
      events.push("slow end");
    });
    const next = hub.run("chat", () => {
      events.push("next");
      return Promise.resolve("next");
    });
    const failed = await slow.then(() => "answered", (error: Error) => error.name);
    assertEquals(failed, "JobTimeoutError");
    assertEquals(await next, "next");
    assertEquals(events, ["slow start", "slow end", "next"]);
    // The operator's timeout is the lane's to record.
    assertEquals((await lane.dlq.list()).length, 1);
  }, { lanes: { prompt: { timeoutMs: 50 } } });
});
