import { assertEquals } from "@a3s/common/testing";
import { coalesce, coalesceRun, coalesceTurn } from "./coalesce.ts";

Deno.test("coalesce: calls before the timer share one flush, and each caller waits for it", async () => {
  let flushes = 0;
  const flush = coalesce(() => {
    flushes++;
    return Promise.resolve();
  }, 5);
  const first = flush();
  const second = flush();
  assertEquals(first, second);
  assertEquals(flushes, 0);
  await Promise.all([first, second]);
  assertEquals(flushes, 1);
  await flush();
  assertEquals(flushes, 2);
});

Deno.test("coalesce: now() runs the scheduled flush at once, and only once", async () => {
  let flushes = 0;
  const flush = coalesce(() => {
    flushes++;
    return Promise.resolve();
  }, 60_000);
  const waiting = flush();
  const started = performance.now();
  await flush.now();
  await waiting;
  // Well before the 60 s timer: the timer is cleared, so the test ends without waiting on it.
  assertEquals(flushes, 1);
  assertEquals(performance.now() - started < 1000, true);
  // Nothing scheduled: nothing runs.
  await flush.now();
  assertEquals(flushes, 1);
});

for (const [name, make] of [["coalesce", coalesce], ["coalesceTurn", coalesceTurn]] as const) {
  Deno.test(`${name}: a failed flush rejects its callers, and the next call flushes again`, async () => {
    let fail = true;
    const flush = make(() => fail ? Promise.reject(new Error("down")) : Promise.resolve());
    const results = await Promise.allSettled([flush(), flush()]);
    assertEquals(results.map((r) => r.status), ["rejected", "rejected"]);
    fail = false;
    await flush();
  });
}

Deno.test("coalesceRun: the calls of one synchronous run share one flush", async () => {
  let flushes = 0;
  const flush = coalesceRun(() => {
    flushes++;
    return Promise.resolve();
  });
  await Promise.all([flush(), flush(), flush()]);
  assertEquals(flushes, 1);
  await flush();
  assertEquals(flushes, 2);
});

Deno.test("coalesceTurn: calls of one turn share one flush, across microtasks too", async () => {
  const flushed: number[][] = [];
  let batch: number[] = [];
  const flush = coalesceTurn(() => {
    flushed.push(batch);
    batch = [];
    return Promise.resolve();
  });
  const call = (n: number) => {
    batch.push(n);
    return flush();
  };
  const first = call(1);
  // Calls a few microtasks later (as handlers resolving one after another) still join it.
  await Promise.resolve();
  const second = call(2);
  await Promise.resolve().then(() => undefined);
  const third = call(3);
  assertEquals(first, second);
  assertEquals(second, third);
  assertEquals(flushed, []);
  await Promise.all([first, second, third]);
  assertEquals(flushed, [[1, 2, 3]]);
  // A call after the flush started schedules the next one.
  await call(4);
  assertEquals(flushed, [[1, 2, 3], [4]]);
});
