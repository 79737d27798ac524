import { assertEquals } from "@a3s/common/testing";
import { ConcurrencyLimits, countRunning, emptyCounts } from "./limits.ts";

Deno.test("limits name the first scope that is full, and release frees it", () => {
  const limits = new ConcurrencyLimits({
    global: 3,
    lanes: { prompt: 2 },
    session: 2,
    keys: { gpu: 1, "*": 2 },
  });
  assertEquals(limits.blocker("prompt", "a", "gpu"), null);
  limits.acquire("prompt", "a", "gpu");
  assertEquals(limits.blocker("prompt", "b", "gpu"), "key");
  assertEquals(limits.blocker("prompt", "b", "cpu"), null);
  limits.acquire("prompt", "a", "cpu");
  assertEquals(limits.blocker("prompt", "b", null), "lane");
  assertEquals(limits.blocker("query", "a", null), "session");
  limits.acquire("query", "b", null);
  assertEquals(limits.blocker("system", "c", null), "global");
  limits.release("prompt", "a", "gpu");
  assertEquals(limits.blocker("prompt", "c", "gpu"), null);
  assertEquals(limits.highWater().global, 3);
  assertEquals(limits.highWater().lanes.prompt, 2);
  assertEquals(limits.highWater().keys, { gpu: 1, cpu: 1 });
  assertEquals(limits.highWater().sessions, { "*": 2, a: 2, b: 1 });
});

Deno.test("lanes without a setting keep upstream's default concurrency", () => {
  const limits = new ConcurrencyLimits();
  assertEquals(limits.lanes, [5, 3, 10, 5, 3, 2]);
  assertEquals(limits.keyLimit("anything"), Infinity);
});

Deno.test("one start check serves this process's counts and counts read from the store", () => {
  const limits = new ConcurrencyLimits({ global: 3, session: 1, keys: { gpu: 1 } });
  const counts = emptyCounts();
  assertEquals(limits.blockerIn(counts, 2, "s1", "gpu"), null);
  countRunning(counts, 2, "s1", "gpu");
  assertEquals(limits.blockerIn(counts, 2, "s1", null), "session");
  assertEquals(limits.blockerIn(counts, 2, "s2", "gpu"), "key");
  countRunning(counts, 2, "s2", null, 2);
  assertEquals(limits.blockerIn(counts, 2, "s3", null), "global");
  limits.acquire("query", "s1", "gpu");
  assertEquals(limits.blocker("query", "s1", null), limits.blockerIn(limits, 2, "s1", null));
});

Deno.test("raiseDefault raises a lane left at upstream's default, never one the options set", () => {
  const limits = new ConcurrencyLimits({ lanes: { query: 4 } });
  assertEquals(limits.raiseDefault("prompt", 8), 8);
  for (let i = 0; i < 7; i++) limits.acquire("prompt", `s${i}`, null);
  assertEquals(limits.blocker("prompt", "s7", null), null);
  limits.acquire("prompt", "s7", null);
  assertEquals(limits.blocker("prompt", "s8", null), "lane");
  // The operator's limit stays, and a lower ask never lowers one.
  assertEquals(limits.raiseDefault("query", 8), 4);
  assertEquals(limits.raiseDefault("system", 1), 5);
});
