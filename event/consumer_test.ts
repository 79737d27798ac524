import { assert, assertEquals } from "@a3s/common/testing";
import { metricsRegistry } from "@a3s/common";
import { EventBus } from "./bus.ts";
import { MemoryProvider } from "./providers/memory.ts";

async function deliveredCount(consumer: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric("a3s_event_delivered_total")?.get();
  return metric?.values.find((v) => v.labels.consumer === consumer)?.value ?? 0;
}

Deno.test("consumer: synchronous and asynchronous handlers, mixed, each see every event once", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  const seen: number[] = [];
  const { promise: all, resolve } = Promise.withResolvers<void>();
  const consumer = await bus.consume("mixed", "orders.>", async (m) => {
    const i = (m.data as { i: number }).i;
    // Every third handler goes asynchronous; the rest return at once.
    if (i % 3 === 0) await new Promise((r) => setTimeout(r, 1));
    seen.push(i);
    if (seen.length === 60) resolve();
  }, { deliver: "all" });
  for (let i = 0; i < 60; i++) await bus.publish("orders.created", { i });
  await all;
  await consumer.stop();
  assertEquals([...seen].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i));
  await bus.close();
});

Deno.test("consumer: a key's events stay in order when some handlers go asynchronous", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  const byKey = new Map<string, number[]>();
  let handled = 0;
  const { promise: all, resolve } = Promise.withResolvers<void>();
  const consumer = await bus.consume("ordered", "acct.>", async (m) => {
    const { i } = m.data as { i: number };
    if (i % 4 === 1) await new Promise((r) => setTimeout(r, 2));
    const list = byKey.get(m.key!) ?? [];
    list.push(i);
    byKey.set(m.key!, list);
    if (++handled === 40) resolve();
  }, { deliver: "all" });
  for (let i = 0; i < 40; i++) await bus.publish("acct.moved", { i }, { key: `k${i % 2}` });
  await all;
  await consumer.stop();
  for (const [, list] of byKey) assertEquals(list, [...list].sort((a, b) => a - b));
  await bus.close();
});

Deno.test("consumer: deliveries are counted in the metrics at scrape time", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  const before = await deliveredCount("counted");
  let handled = 0;
  const { promise: all, resolve } = Promise.withResolvers<void>();
  const consumer = await bus.consume("counted", "metrics.>", () => {
    if (++handled === 25) resolve();
  }, { deliver: "all" });
  for (let i = 0; i < 25; i++) await bus.publish("metrics.tick", { i });
  await all;
  await consumer.stop();
  assertEquals(await deliveredCount("counted") - before, 25);
  // A second scrape adds nothing: counts are folded once.
  assertEquals(await deliveredCount("counted") - before, 25);
  await bus.close();
});

Deno.test("consumer: a handler that throws synchronously is retried, not lost", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  let calls = 0;
  const { promise: done, resolve } = Promise.withResolvers<number>();
  const consumer = await bus.consume("thrower", "flaky.>", (m) => {
    calls++;
    if (m.deliveries === 1) throw new Error("first try fails");
    resolve(m.deliveries);
  }, { deliver: "all", retryDelayMs: 10 });
  await bus.publish("flaky.job", { n: 1 });
  assertEquals(await done, 2);
  await consumer.stop();
  assert(calls === 2, `handler ran ${calls} times`);
  await bus.close();
});

Deno.test("consumer: handle durations are counted per consumer and read at scrape", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  let handled = 0;
  const { promise: all, resolve } = Promise.withResolvers<void>();
  const consumer = await bus.consume("timed", "timed.>", () => {
    if (++handled === 12) resolve();
  }, { deliver: "all" });
  for (let i = 0; i < 12; i++) await bus.publish("timed.tick", { i });
  await all;
  await consumer.stop();
  const text = await metricsRegistry.metrics();
  assert(
    text.includes('a3s_event_handle_duration_seconds_count{consumer="timed"} 12'),
    "12 observations",
  );
  assert(text.includes('a3s_event_handle_duration_seconds_bucket{consumer="timed",le="+Inf"} 12'));
  await bus.close();
});

Deno.test("consumer: a key stays in order through repeated nacks and a nack of a released event", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  const log: string[] = [];
  const consumer = await bus.consume("renacked", "chain.>", (m) => {
    log.push(`${m.data}#${m.deliveries}`);
    // a1 fails twice; once it passes, a2 (held meanwhile) fails once; a3 waits behind both.
    if (m.data === "a1" && m.deliveries < 3) throw new Error("not yet");
    if (m.data === "a2" && m.deliveries === 1) throw new Error("not yet");
  }, { deliver: "all", retryDelayMs: 30, maxDeliveries: 3, ackWaitMs: 100 });
  for (const data of ["a1", "a2", "a3"]) await bus.publish("chain.e", data, { key: "A" });
  const until = Date.now() + 5000;
  while (log.length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 150));
  await consumer.stop();
  assertEquals(log, ["a1#1", "a1#2", "a1#3", "a2#1", "a2#2", "a3#1"]);
  await bus.close();
});

Deno.test("consumer: the redelivery of an event whose ack was lost is acknowledged without the handler", async () => {
  const provider = new MemoryProvider();
  // The broker loses the first ack of "a": it never arrives, and the lease runs out.
  let lostOne = false;
  let deliveriesOfA = 0;
  const consume = provider.consume.bind(provider);
  provider.consume = async function* (spec, signal, batch) {
    for await (const delivery of consume(spec, signal, batch)) {
      if (delivery.event.data === "a") deliveriesOfA++;
      if (delivery.event.data === "a" && !lostOne) {
        lostOne = true;
        yield { ...delivery, ack: () => Promise.reject(new Error("connection reset")) };
      } else {
        yield delivery;
      }
    }
  };
  const bus = new EventBus({ provider });
  const handled: string[] = [];
  const consumer = await bus.consume("lossy", "lossy.>", (m) => {
    handled.push(`${m.data}#${m.deliveries}`);
  }, { deliver: "all", ackWaitMs: 150 });
  await bus.publish("lossy.e", "a");
  await bus.publish("lossy.e", "b");
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const info = (await bus.consumers()).find((c) => c.name === "lossy");
    if (lostOne && info?.unacked === 0 && info.pending === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await consumer.stop();
  assertEquals(deliveriesOfA, 2, "the lost ack brought a redelivery");
  assertEquals(handled, ["a#1", "b#1"], "the handler ran once per event");
  const info = (await bus.consumers()).find((c) => c.name === "lossy");
  assertEquals(info?.unacked, 0, "the redelivery was acknowledged");
  await bus.close();
});

Deno.test("consumer: events held behind a nacked key are reported as a gauge", async () => {
  const bus = new EventBus({ provider: new MemoryProvider() });
  // Published first, so one fetch brings all three before the nack: the later two are then
  // held in memory (a gating provider keeps what comes after the nack at the broker).
  for (const data of ["first", "second", "third"]) {
    await bus.publish("gauge.e", data, { key: "K" });
  }
  const consumer = await bus.consume("gauged", "gauge.>", async (m) => {
    if (m.data === "first") await m.nack(60_000);
  }, { deliver: "all", concurrency: 4 });
  const until = Date.now() + 5000;
  while (consumer.held < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assertEquals(consumer.held, 2);
  const text = await metricsRegistry.metrics();
  assert(text.includes('a3s_event_consumer_held{consumer="gauged"} 2'), "held gauge");
  await consumer.stop();
  await bus.close();
});
