/**
 * The contract every provider passes: one suite, registered once per provider by its test
 * file. Each case gets a fresh provider (a fresh stream, key prefix or database).
 */
import { z } from "zod";
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { EventBus } from "./bus.ts";
import { KeyRing } from "./crypto.ts";
import { defineEvent } from "./event_type.ts";
import { EventPayloadError, EventTimeoutError } from "./errors.ts";
import type { EventMessage } from "./message.ts";
import type { EventProvider, ProviderDelivery } from "./provider.ts";

/** Makes a fresh provider for one case; `close` releases it and anything it created. */
export type ProviderFactory = () => Promise<EventProvider>;

/** Polls `check` until it is true or `timeoutMs` passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withBus(
  factory: ProviderFactory,
  body: (bus: EventBus) => Promise<void>,
  keyRing?: KeyRing,
): Promise<void> {
  const bus = new EventBus({ provider: await factory(), source: "test", keyRing });
  try {
    await body(bus);
  } finally {
    await bus.close();
  }
}

const options = { sanitizeOps: false, sanitizeResources: false };

/** Registers the contract cases for one provider. */
export function providerContract(name: string, factory: ProviderFactory): void {
  const test = (title: string, body: () => Promise<void>) =>
    Deno.test({ name: `${name}: ${title}`, ...options, fn: body });

  test("wildcard subscriptions see matching events in publish order", () =>
    withBus(factory, async (bus) => {
      const star: string[] = [];
      const tail: string[] = [];
      const s1 = await bus.subscribe("box.*.started", (m) => void star.push(m.subject));
      const s2 = await bus.subscribe("lane.>", (m) => void tail.push(`${m.subject}:${m.data}`));
      for (let i = 0; i < 5; i++) await bus.publish(`lane.q${i % 2}.job`, i);
      await bus.publish("box.b1.started", { image: "alpine" });
      await bus.publish("box.b1.stopped", {});
      await bus.publish("box.b1.x.started", {});
      await bus.publish("lane", "not matched: '>' needs one more token");
      await waitFor(() => tail.length === 5 && star.length === 1, 5000, "deliveries");
      assertEquals(star, ["box.b1.started"]);
      assertEquals(tail, [0, 1, 2, 3, 4].map((i) => `lane.q${i % 2}.job:${i}`));
      await s1.close();
      await s2.close();
    }));

  test("a subscription resumes after a seq (Last-Event-ID)", () =>
    withBus(factory, async (bus) => {
      const first = await bus.publish("audit.a", 1);
      await bus.publish("audit.b", 2);
      await bus.publish("other.c", 3);
      await bus.publish("audit.d", 4);
      const seen: unknown[] = [];
      const sub = await bus.subscribe("audit.*", (m) => void seen.push(m.data), {
        after: first.seq,
      });
      await bus.publish("audit.e", 5);
      await waitFor(() => seen.length === 3, 5000, "replay and live");
      assertEquals(seen, [2, 4, 5]);
      await sub.close();
    }));

  test("events are CloudEvents 1.0 with id, time, source and schema version", () =>
    withBus(factory, async (bus) => {
      let got: EventMessage | undefined;
      const sub = await bus.subscribe("ce.>", (m) => void (got = m));
      await bus.publish("ce.one", { n: 1 }, { key: "k", headers: { traceparent: "00-x" } });
      await waitFor(() => got !== undefined);
      const event = got!.event;
      assertEquals(event.specversion, "1.0");
      assertEquals(event.source, "test");
      assertEquals(event.subject, "ce.one");
      assertEquals(event.partitionkey, "k");
      assertEquals(event.schemaversion, "1");
      assertEquals(got!.headers, { traceparent: "00-x" });
      assert(!Number.isNaN(Date.parse(event.time)));
      assert(/^[0-9a-f-]{36}$/.test(event.id));
      await sub.close();
    }));

  test("typed events reject an invalid payload naming the field", () =>
    withBus(factory, async (bus) => {
      bus.define(defineEvent({
        type: "a3s.box.started",
        subject: "box.*.started",
        version: "2",
        schema: z.object({ image: z.string(), cpus: z.number().int() }),
      }));
      const error = await assertRejects(
        () => bus.publish("box.b1.started", { image: "alpine", cpus: "two" }),
        EventPayloadError,
      );
      assertEquals(error.field, "data.cpus");
      const ok = await bus.publish("box.b1.started", { image: "alpine", cpus: 2 });
      assert(!ok.duplicate);
    }));

  test("request/reply answers, and times out without a responder", () =>
    withBus(factory, async (bus) => {
      const sub = await bus.subscribe("math.double", (m) => m.respond((m.data as number) * 2));
      const reply = await bus.request("math.double", 21, { timeoutMs: 5000 });
      assertEquals(reply.data, 42);
      await sub.close();
      await assertRejects(
        () => bus.request("math.nobody", 1, { timeoutMs: 200 }),
        EventTimeoutError,
      );
    }));

  test("a duplicate id within the window is stored once", () =>
    withBus(factory, async (bus) => {
      const seen: string[] = [];
      const consumer = await bus.consume("dedupe", "once.>", (m) => void seen.push(m.id), {
        ackWaitMs: 2000,
      });
      const a = await bus.publish("once.x", 1, { id: "evt-1" });
      const b = await bus.publish("once.x", 1, { id: "evt-1" });
      await bus.publish("once.x", 2, { id: "evt-2" });
      assert(!a.duplicate);
      assert(b.duplicate);
      await waitFor(() => seen.length >= 2);
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(seen, ["evt-1", "evt-2"]);
      await consumer.stop();
    }));

  test("a durable consumer acks; nack with delay redelivers later", () =>
    withBus(factory, async (bus) => {
      const log: string[] = [];
      let nackedAt = 0;
      const consumer = await bus.consume("retrying", "jobs.>", async (m) => {
        log.push(`${m.data}#${m.deliveries}`);
        if (m.data === "b" && m.deliveries === 1) {
          nackedAt = Date.now();
          await m.nack(300);
        }
      }, { ackWaitMs: 5000 });
      await bus.publish("jobs.1", "a");
      await bus.publish("jobs.2", "b");
      await waitFor(() => log.includes("b#2"), 5000, "redelivery");
      assert(Date.now() - nackedAt >= 250, "redelivered before its delay");
      assertEquals(log.filter((l) => l.startsWith("a")), ["a#1"]);
      await waitFor(async () =>
        (await bus.consumers()).find((c) => c.name === "retrying")?.unacked === 0
      );
      await consumer.stop();
    }));

  test("after max deliveries an event goes to the dead-letter subject", () =>
    withBus(factory, async (bus) => {
      const dead: EventMessage[] = [];
      const sub = await bus.subscribe("dlq.failing", (m) => void dead.push(m));
      let attempts = 0;
      const consumer = await bus.consume("failing", "work.>", () => {
        attempts++;
        throw new Error("boom");
      }, { maxDeliveries: 3, retryDelayMs: 20, ackWaitMs: 5000 });
      const published = await bus.publish("work.item", { n: 1 }, { key: "k1" });
      await waitFor(() => dead.length === 1, 8000, "dead letter");
      assertEquals(attempts, 3);
      const data = dead[0].data as { reason: string; deliveries: number; event: { id: string } };
      assertEquals(data.reason, "max_deliveries");
      assertEquals(data.deliveries, 3);
      assertEquals(data.event.id, published.id);
      assertEquals(dead[0].key, "k1");
      await consumer.stop();
      await sub.close();
    }));

  test("an unacknowledged delivery is redelivered after the ack wait", () =>
    withBus(factory, async (bus) => {
      const spec = { name: "crashy", pattern: "crash.>", ackWaitMs: 400, deliver: "new" as const };
      await bus.provider.ensureConsumer(spec);
      for (let i = 0; i < 3; i++) await bus.publish("crash.e", i);
      // A first worker takes one delivery and dies without settling it.
      const dying = new AbortController();
      let taken: ProviderDelivery | undefined;
      for await (const delivery of bus.provider.consume(spec, dying.signal, 1)) {
        taken = delivery;
        dying.abort();
        break;
      }
      assertEquals(taken?.event.data, 0);
      const seen: string[] = [];
      const consumer = await bus.consume("crashy", "crash.>", (m) => {
        seen.push(`${m.data}#${m.deliveries}`);
      }, { ackWaitMs: 400 });
      await waitFor(() => seen.length === 3, 8000, "redelivery after ack wait");
      assert(seen.includes("0#2"), `got ${seen}`);
      assert(seen.includes("1#1") && seen.includes("2#1"), `got ${seen}`);
      await consumer.stop();
    }));

  test("events with the same key are handled one at a time, in order", () =>
    withBus(factory, async (bus) => {
      const order = new Map<string, number[]>();
      let active = new Map<string, number>();
      let overlap = false;
      let maxParallel = 0;
      let running = 0;
      // Publish order is defined by each publish resolving before the next starts; the
      // consumer starts afterwards so it sees a backlog it can spread over keys.
      for (let i = 0; i < 30; i++) await bus.publish("ord.e", i, { key: `k${i % 3}` });
      const consumer = await bus.consume("ordered", "ord.>", async (m) => {
        const key = m.key!;
        if ((active.get(key) ?? 0) > 0) overlap = true;
        active.set(key, (active.get(key) ?? 0) + 1);
        running++;
        maxParallel = Math.max(maxParallel, running);
        await new Promise((r) => setTimeout(r, 1 + ((m.data as number) % 3) * 3));
        order.set(key, [...(order.get(key) ?? []), m.data as number]);
        active.set(key, active.get(key)! - 1);
        running--;
      }, { concurrency: 4, deliver: "all" });
      await waitFor(() => [...order.values()].flat().length === 30, 8000, "30 handled");
      assert(!overlap, "two events of one key ran at once");
      assert(maxParallel > 1, "different keys never ran in parallel");
      for (const [key, values] of order) {
        assertEquals(values, [...values].sort((a, b) => a - b), `order of ${key}`);
      }
      active = new Map();
      await consumer.stop();
    }));

  test("after a nack, later events of the key wait for its redelivery, uncounted", () =>
    withBus(factory, async (bus) => {
      const log: string[] = [];
      const dead: EventMessage[] = [];
      const dlq = await bus.subscribe("dlq.keyed", (m) => void dead.push(m));
      for (const [data, key] of [["a1", "A"], ["a2", "A"], ["b1", "B"], ["a3", "A"]]) {
        await bus.publish("keyed.e", data, { key });
      }
      // The nack delay is longer than two ack waits: held events must have their leases
      // renewed, or the broker would redeliver them (and count it) while they wait.
      const consumer = await bus.consume("keyed", "keyed.>", async (m) => {
        log.push(`${m.data}#${m.deliveries}`);
        if (m.data === "a1" && m.deliveries === 1) await m.nack(900);
      }, { ackWaitMs: 300, maxDeliveries: 2, deliver: "all", concurrency: 4 });
      await waitFor(() => log.length === 5, 8000, "five handler calls");
      await new Promise((r) => setTimeout(r, 400));
      assertEquals(log.filter((l) => l.startsWith("a")), ["a1#1", "a1#2", "a2#1", "a3#1"]);
      assert(log.indexOf("b1#1") < log.indexOf("a1#2"), `key B waited on key A: ${log}`);
      assertEquals(log.length, 5, `handled twice: ${log}`);
      assertEquals(dead.length, 0);
      await waitFor(async () =>
        (await bus.consumers()).find((c) => c.name === "keyed")?.unacked === 0
      );
      await consumer.stop();
      await dlq.close();
    }));

  test("events held behind a nacked key are bounded, then run in order, uncounted", () =>
    withBus(factory, async (bus) => {
      const provider = bus.provider;
      // Deliveries of key A the provider hands over while a1 waits for its redelivery: a
      // provider that gates keys keeps them back itself, beyond what it had already fetched.
      let waiting = false;
      let handedOverWhileWaiting = 0;
      const count = (delivery: ProviderDelivery) => {
        // a1's redelivery ends the wait: what comes with it (in one batch) or after is released.
        if (delivery.event.data === "a1" && delivery.deliveries > 1) waiting = false;
        if (waiting && delivery.event.partitionkey === "A") handedOverWhileWaiting++;
        // A nack slow to reach the broker (a loaded database): a fetch that overtook it would
        // hand over a second batch of the key.
        const nack = delivery.nack.bind(delivery);
        delivery.nack = async (delayMs) => {
          await new Promise((resolve) => setTimeout(resolve, 150));
          await nack(delayMs);
        };
      };
      const consume = provider.consume.bind(provider);
      provider.consume = async function* (spec, signal, batch) {
        for await (const delivery of consume(spec, signal, batch)) {
          count(delivery);
          yield delivery;
        }
      };
      // The batch form, where the provider has one, is what the consumer reads instead.
      const consumeBatches = provider.consumeBatches?.bind(provider);
      if (consumeBatches) {
        provider.consumeBatches = async function* (spec, signal, batch) {
          for await (const deliveries of consumeBatches(spec, signal, batch)) {
            deliveries.forEach(count);
            yield deliveries;
          }
        };
      }
      const total = 40;
      for (let i = 1; i <= total; i++) await bus.publish("bound.e", `a${i}`, { key: "A" });
      await bus.publish("bound.e", "b1", { key: "B" });
      const log: string[] = [];
      const maxHeld = 10;
      const concurrency = 2;
      // Held deliveries' leases are renewed every quarter lease; a lease this long keeps them
      // renewed on a loaded machine.
      const consumer = await bus.consume("bound", "bound.>", async (m) => {
        log.push(`${m.data}#${m.deliveries}`);
        if (m.data === "a1" && m.deliveries === 1) {
          waiting = true;
          await m.nack(1200);
        }
        if (m.data === "a1" && m.deliveries === 2) waiting = false;
      }, { ackWaitMs: 1500, maxDeliveries: 2, deliver: "all", concurrency, maxHeld });
      let mostHeld = 0;
      const sampler = setInterval(() => (mostHeld = Math.max(mostHeld, consumer.held)), 5);
      try {
        await waitFor(() => log.length === total + 2, 15_000, "every event handled")
          .catch((error) => {
            throw new Error(`${error.message}; handled: ${log.join(" ")}`);
          });
      } finally {
        clearInterval(sampler);
      }
      await consumer.stop();
      const bound = maxHeld + concurrency;
      assert(mostHeld <= bound, `held ${mostHeld} deliveries, more than ${bound}`);
      assert(mostHeld > 0, "nothing was held: the case did not exercise holding");
      if (provider.gatesKeys) {
        // At most one batch of A was fetched before the nack reached the broker.
        const batch = Math.max(concurrency, 8);
        assert(mostHeld <= batch, `held ${mostHeld} deliveries, more than one fetch`);
        assert(
          handedOverWhileWaiting <= batch,
          `the provider handed over ${handedOverWhileWaiting} events of a blocked key`,
        );
      }
      const a = log.filter((l) => l.startsWith("a"));
      assertEquals(a, [
        "a1#1",
        "a1#2",
        ...Array.from({ length: total - 1 }, (_, i) => `a${i + 2}#1`),
      ]);
      if (provider.gatesKeys) {
        // JetStream stops delivering at max-ack-pending; a gating provider keeps B flowing.
        assert(log.indexOf("b1#1") < log.indexOf("a1#2"), `key B waited on key A: ${log}`);
      }
    }));

  test("a new consumer starts at new events unless asked for all", () =>
    withBus(factory, async (bus) => {
      await bus.publish("hist.a", "old");
      const fresh: unknown[] = [];
      const all: unknown[] = [];
      const c1 = await bus.consume("fresh", "hist.>", (m) => void fresh.push(m.data));
      const c2 = await bus.consume("all", "hist.>", (m) => void all.push(m.data), {
        deliver: "all",
      });
      await bus.publish("hist.b", "new");
      await waitFor(() => fresh.length === 1 && all.length === 2);
      assertEquals(fresh, ["new"]);
      assertEquals(all, ["old", "new"]);
      await c1.stop();
      await c2.stop();
    }));

  test("subjects and consumer lag are reported", () =>
    withBus(factory, async (bus) => {
      await bus.consume("laggard", "lag.>", () => new Promise(() => {}), { concurrency: 1 })
        .then((c) => c.stop());
      for (let i = 0; i < 4; i++) await bus.publish(`lag.s${i % 2}`, i);
      const subjects = await bus.subjects();
      const counts = Object.fromEntries(subjects.map((s) => [s.subject, s.events]));
      assertEquals(counts["lag.s0"], 2);
      assertEquals(counts["lag.s1"], 2);
      const info = (await bus.consumers()).find((c) => c.name === "laggard");
      assertEquals(info?.pending, 4);
      assertEquals(info?.pattern, "lag.>");
    }));

  test("encrypted payloads: stored as ciphertext, opened with the key, refused without", async () => {
    const secret = KeyRing.generateSecret();
    const ring = await KeyRing.create([{ id: "k1", subjects: "secret.>", secret }]);
    const provider = await factory();
    const bus = new EventBus({ provider, source: "test", keyRing: ring });
    const audits: string[] = [];
    const blind = new EventBus({
      provider,
      source: "blind",
      onAudit: (r) => void audits.push(r.reason),
    });
    try {
      const raw: string[] = [];
      const rawSub = await provider.subscribe(
        "secret.>",
        undefined,
        (s) => void raw.push(JSON.stringify(s.event)),
      );
      const opened: unknown[] = [];
      const sub = await bus.subscribe("secret.>", (m) => void opened.push(m.data));
      const dead: EventMessage[] = [];
      const dlq = await bus.subscribe("dlq.blind", (m) => void dead.push(m));
      const blindConsumer = await blind.consume("blind", "secret.>", () => {
        throw new Error("must not be called without the key");
      });
      await bus.publish("secret.token", { password: "hunter2" });
      await waitFor(() => opened.length === 1 && raw.length === 1 && dead.length === 1);
      assertEquals(opened, [{ password: "hunter2" }]);
      assert(!raw[0].includes("hunter2"), "plaintext reached the broker");
      assertEquals((dead[0].data as { reason: string }).reason, "event_key_missing");
      assertEquals(audits, ["key_missing"]);
      await blindConsumer.stop();
      await rawSub.close();
      await sub.close();
      await dlq.close();
    } finally {
      await bus.close();
    }
  });
}
