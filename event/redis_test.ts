import { Redis } from "ioredis";
import { assert, assertEquals } from "@a3s/common/testing";
import { EventBus } from "./bus.ts";
import { providerContract, waitFor } from "./_contract.ts";
import { startRedis } from "./_brokers.ts";
import { RedisProvider } from "./providers/redis.ts";
import { startReplyDroppingProxy } from "./_reply_dropping_proxy.ts";
import { malformedMessageContract } from "./_malformed_contract.ts";

/**
 * Watches the server (`MONITOR`) and counts the events of each publish call as it runs them:
 * `EVALSHA sha numkeys KEYS... ARGV...`, two leading ARGV values, then four per event.
 */
async function watchPublishCalls(client: Redis): Promise<{ monitor: Redis; calls: number[] }> {
  // The client's own connection is made (and its INFO ready check answered) first: a command
  // another connection sends while MONITOR starts can reach ioredis before it has switched the
  // new connection to monitoring, which it reports as a command queue state error.
  await client.ping();
  const monitor = await client.duplicate().monitor();
  const calls: number[] = [];
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args[0].toLowerCase() === "evalsha") {
      calls.push((args.length - 3 - Number(args[2]) - 2) / 4);
    }
  });
  return { monitor, calls };
}

const redis = await startRedis();
if (redis) {
  /** Runs `body` on a bus over a fresh key prefix, with a raw client beside it; removes both. */
  const withFreshBus = async (
    body: (
      fresh: { prefix: string; provider: RedisProvider; bus: EventBus; client: Redis },
    ) => Promise<void>,
    options: {
      dedupeWindowMs?: number;
      publishCallsInFlight?: number;
      tuneCallsInFlight?: boolean;
    } = {},
  ) => {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
    const provider = await RedisProvider.connect({ url: redis.url, prefix, ...options });
    const bus = new EventBus({ provider });
    const client = new Redis(redis.url);
    try {
      await body({ prefix, provider, bus, client });
    } finally {
      client.disconnect();
      await provider.destroy();
      await bus.close();
    }
  };
  /** A test on a fresh bus (`withFreshBus`), the sanitizers off as for every Redis test here. */
  const freshBusTest = (
    name: string,
    body: Parameters<typeof withFreshBus>[0],
    options?: Parameters<typeof withFreshBus>[1],
  ) =>
    Deno.test({
      name,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withFreshBus(body, options),
    });
  providerContract("redis", async () => {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
    const provider = await RedisProvider.connect({ url: redis.url, prefix });
    const close = provider.close.bind(provider);
    provider.close = async () => {
      await provider.destroy();
      await close();
    };
    return provider;
  });
  malformedMessageContract("redis", async () => {
    const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
    const provider = await RedisProvider.connect({ url: redis.url, prefix });
    const client = new Redis(redis.url);
    return {
      provider,
      inject: async (subject, text) => {
        await client.xadd(`${prefix}:log`, "*", "s", subject, "e", text);
      },
      close: async (bus) => {
        client.disconnect();
        await provider.destroy();
        await bus.close();
      },
    };
  });
  Deno.test({
    name: "redis: a delivery says when Redis stored it, read from its stream id",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const provider = await RedisProvider.connect({
        url: redis.url,
        prefix: `t${crypto.randomUUID().slice(0, 8)}`,
      });
      const bus = new EventBus({ provider });
      try {
        const spec = {
          name: "stamped",
          pattern: "st.>",
          ackWaitMs: 30_000,
          deliver: "all" as const,
        };
        await provider.ensureConsumer(spec);
        const before = Date.now();
        const { seq } = await bus.publish("st.e", 1);
        const after = Date.now();
        const stop = new AbortController();
        for await (const [delivery] of provider.consumeBatches(spec, stop.signal, 8)) {
          assertEquals(delivery.seq, seq);
          const stored = delivery.storedAtMs!;
          assert(
            stored >= before - 1 && stored <= after,
            `stored at ${stored}, not in the publish`,
          );
          await delivery.ack();
          stop.abort();
        }
      } finally {
        await provider.destroy();
        await bus.close();
      }
    },
  });
  freshBusTest(
    "redis: publishes of one turn go in batches, each caller answered for its own event",
    async ({ bus }) => {
      // 600 publishes in one turn: more than one script call's worth (256), with an id
      // repeated inside one batch and one repeated across batches.
      const ids = Array.from({ length: 600 }, (_, i) => `e${i}`);
      ids[10] = "e3";
      ids[500] = "e7";
      const published = await Promise.all(
        ids.map((id, i) =>
          bus.publish(i % 2 ? "batch.odd" : "batch.even", { i }, { id, key: `k${i % 3}` })
        ),
      );
      const duplicates = published.flatMap((p, i) => p.duplicate ? [i] : []);
      assertEquals(duplicates, [10, 500]);
      assertEquals(published[10].seq, published[3].seq);
      assertEquals(published[500].seq, published[7].seq);
      // Stored once each, in publish order, each receipt naming its own entry.
      const stored: { seq: string; i: number }[] = [];
      const sub = await bus.subscribe("batch.>", (m) => {
        stored.push({ seq: m.seq, i: (m.data as { i: number }).i });
      }, { after: "0-0" });
      const deadline = Date.now() + 5000;
      while (stored.length < 598 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await sub.close();
      const expected = published.flatMap((p, i) => p.duplicate ? [] : [{ seq: p.seq, i }]);
      assertEquals(stored, expected);
      // Subject counts count appended events only (both repeats were on even indexes).
      assertEquals(await bus.subjects(), [
        { subject: "batch.even", events: 298 },
        { subject: "batch.odd", events: 300 },
      ]);
    },
  );
  freshBusTest(
    "redis: a duplicate leaves no entry behind for any reader; after the window an id is new",
    async ({ prefix, bus, client }) => {
      // The script appends first and deletes a duplicate's entry in the same call: readers
      // waiting through it (a durable consumer, a live subscription) must see each event once.
      const consumed: string[] = [];
      const consumer = await bus.consume("dup", "dup.>", (m) => {
        consumed.push(`${m.id}:${m.data}`);
      });
      const live: string[] = [];
      const sub = await bus.subscribe("dup.>", (m) => void live.push(`${m.id}:${m.data}`));
      await new Promise((r) => setTimeout(r, 200)); // both wait on the stream now
      const first = await bus.publish("dup.e", 1, { id: "d1" });
      const again = await bus.publish("dup.e", 2, { id: "d1" }); // another batch
      assertEquals([first.duplicate, again.duplicate], [false, true]);
      assertEquals(again.seq, first.seq);
      // One batch: the second d2 is the duplicate of the first, with its position.
      const batch = await Promise.all([
        bus.publish("dup.e", 3, { id: "d2" }),
        bus.publish("dup.e", 4, { id: "d2" }),
        bus.publish("dup.e", 5, { id: "d3" }),
      ]);
      assertEquals(batch.map((r) => r.duplicate), [false, true, false]);
      assertEquals(batch[1].seq, batch[0].seq);
      assertEquals(await client.xlen(`${prefix}:log`), 3);
      // Past the window the id is recorded again, as a new event at a new position.
      await new Promise((r) => setTimeout(r, 500));
      const later = await bus.publish("dup.e", 6, { id: "d1" });
      assertEquals(later.duplicate, false);
      assert(later.seq !== first.seq, "a new position");
      const expected = ["d1:1", "d2:3", "d3:5", "d1:6"];
      await waitFor(() => consumed.length >= 4 && live.length >= 4, 5000, "four events");
      await new Promise((r) => setTimeout(r, 200));
      await consumer.stop();
      await sub.close();
      assertEquals(consumed, expected);
      assertEquals(live, expected);
      assertEquals(await bus.subjects(), [{ subject: "dup.e", events: 4 }]);
      assertEquals(await client.xlen(`${prefix}:log`), 4);
      const pending = await client.xpending(`${prefix}:log`, "dup") as [number];
      assertEquals(pending[0], 0);
    },
    { dedupeWindowMs: 400 },
  );
  freshBusTest(
    "redis: large events are split across script calls; an unserialisable one fails alone",
    async ({ bus, client }) => {
      const scriptCalls = async () => {
        const stats = await client.info("commandstats");
        return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      };
      await bus.publish("big.warm", 0); // the script is loaded: later calls are EVALSHA
      const before = await scriptCalls();
      const text = "x".repeat(400_000);
      const results = await Promise.allSettled([
        ...Array.from({ length: 5 }, (_, i) => bus.publish("big.e", { i, text })),
        bus.publish("big.e", { i: 5, bad: 1n }),
      ]);
      const calls = (await scriptCalls()) - before;
      assertEquals(results.map((r) => r.status), [
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "rejected",
      ]);
      // 2 MB of events in 1 MB calls; the info command itself is not a script call.
      assert(calls >= 2, `${calls} script calls for 2 MB of events`);
      const stored: number[] = [];
      const sub = await bus.subscribe("big.e", (m) => {
        stored.push((m.data as { i: number }).i);
      }, { after: "0-0" });
      await waitFor(() => stored.length === 5, 5000, "5 large events");
      await sub.close();
      assertEquals(stored, [0, 1, 2, 3, 4]);
    },
  );
  freshBusTest(
    "redis: a batch the server refuses rejects each of its publishes",
    async ({ prefix, bus, client }) => {
      // The stream's key holds a string, so the script's XADD fails with WRONGTYPE.
      await client.set(`${prefix}:log`, "not a stream");
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => bus.publish("fail.e", { i })),
      );
      assertEquals(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
      for (const result of results) {
        const reason = String((result as PromiseRejectedResult).reason);
        assert(reason.includes("WRONGTYPE"), reason);
      }
    },
  );
  freshBusTest(
    "redis: two publish calls in flight, later publishes gather; order and duplicates hold",
    async ({ prefix, bus, client }) => {
      await bus.publish("fly.warm", 0); // the script is loaded: later calls are EVALSHA
      const { monitor, calls } = await watchPublishCalls(client);
      // The server holds every command for a while, so calls sent stay in flight.
      await client.call("CLIENT", "PAUSE", "400", "ALL");
      const publish = (i: number, id = `e${i}`) =>
        bus.publish("fly.e", i, { id, key: `k${i % 3}` });
      // One turn of 40: two calls of 20, both in flight at once.
      const receipts = Array.from({ length: 40 }, (_, i) => publish(i));
      await new Promise((r) => setTimeout(r, 5));
      // Six more turns while both slots are busy: they gather, and go in one or two calls
      // (two if both slots are free by then) once the server answers. They repeat an id of
      // each call in flight and one of their own.
      const repeats: Record<number, string> = { 41: "e3", 47: "e33", 63: "e50" };
      for (let turn = 0; turn < 6; turn++) {
        for (let j = 0; j < 5; j++) {
          const i = 40 + turn * 5 + j;
          receipts.push(publish(i, repeats[i]));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const answered = await Promise.all(receipts);
      await waitFor(() => calls.reduce((a, b) => a + b, 0) === 70, 3000, "70 events' calls");
      monitor.disconnect();
      assertEquals(calls.slice(0, 2), [20, 20]);
      assert(calls.length <= 4, `six turns gathered, not a call each: ${calls}`);
      const duplicates = answered.flatMap((r, i) => r.duplicate ? [i] : []);
      assertEquals(duplicates, [41, 47, 63]);
      assertEquals(answered[41].seq, answered[3].seq);
      assertEquals(answered[47].seq, answered[33].seq);
      assertEquals(answered[63].seq, answered[50].seq);
      // The stream holds the new events once each, in publish order (so each key's too),
      // each receipt naming its own entry.
      const entries = await client.xrange(`${prefix}:log`, "-", "+");
      const stored = entries.slice(1).map(([seq, fields]) => ({
        seq,
        i: JSON.parse(fields[fields.indexOf("e") + 1]).data as number,
      }));
      assertEquals(stored, answered.flatMap((r, i) => r.duplicate ? [] : [{ seq: r.seq, i }]));
      assertEquals(await bus.subjects(), [
        { subject: "fly.e", events: 67 },
        { subject: "fly.warm", events: 1 },
      ]);
    },
    { tuneCallsInFlight: false },
  );
  freshBusTest(
    "redis: with one call in flight, a turn's publishes go in one call",
    async ({ bus, client }) => {
      await bus.publish("busy.warm", 0);
      const { monitor, calls } = await watchPublishCalls(client);
      await client.call("CLIENT", "PAUSE", "200", "ALL");
      const receipts = await Promise.all(
        Array.from({ length: 40 }, (_, i) => bus.publish("busy.e", i)),
      );
      await waitFor(() => calls.length === 1, 3000, "the call");
      monitor.disconnect();
      assertEquals(calls, [40]);
      assertEquals(receipts.filter((r) => r.duplicate).length, 0);
    },
    { publishCallsInFlight: 1 },
  );
  freshBusTest(
    "redis: a refused call rejects only its own publishes; the call beside it is stored",
    async ({ prefix, bus, client }) => {
      // e35's de-duplication key holds a list, so the call carrying e35 fails (WRONGTYPE).
      await client.rpush(`${prefix}:dedupe:e35`, "not a string");
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => bus.publish("part.e", i, { id: `e${i}` })),
      );
      const fulfilled = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
      const rejected = results.flatMap((r, i) => r.status === "rejected" ? [i] : []);
      // The first call is stored and answered; the refused one rejects all and only its own.
      assert(fulfilled.length > 0 && rejected.length > 0, `${fulfilled.length} stored`);
      assertEquals(fulfilled, Array.from({ length: fulfilled.length }, (_, i) => i));
      assert(rejected.includes(35), "e35's call was refused");
      for (const i of rejected) {
        const reason = String((results[i] as PromiseRejectedResult).reason);
        assert(reason.includes("WRONGTYPE"), reason);
      }
      // The refused call freed its slot: publishing goes on.
      const after = await bus.publish("part.e", 40, { id: "e40" });
      assertEquals(after.duplicate, false);
      const counted = await bus.subjects();
      assertEquals(counted, [{ subject: "part.e", events: fulfilled.length + 1 }]);
    },
    { tuneCallsInFlight: false },
  );
  freshBusTest(
    "redis: a waiting consumer gets what arrives, only its subjects, keys in order",
    async ({ prefix, bus, client }) => {
      const seen: string[] = [];
      const consumer = await bus.consume("waiter", "mine.>", (m) => {
        seen.push(`${m.key ?? "-"}:${m.data}`);
      });
      // The consumer has found nothing and waits (blocking read, then its read script): the
      // events below arrive through that wait, mixed with subjects it does not take.
      await new Promise((r) => setTimeout(r, 300));
      const expected: string[] = [];
      for (let i = 0; i < 30; i++) {
        const key = i % 3 === 0 ? undefined : `k${i % 2}`;
        await bus.publish(i % 4 === 0 ? "other.e" : "mine.e", i, key ? { key } : {});
        if (i % 4 !== 0) expected.push(`${key ?? "-"}:${i}`);
        // Now and then the consumer has caught up and waits again.
        if (i % 7 === 0) await new Promise((r) => setTimeout(r, 60));
      }
      await waitFor(() => seen.length === expected.length, 8000, "the matching events");
      await consumer.stop();
      // Each key in publish order (keys may interleave differently: a key whose previous
      // event's ack is still on its way waits for it at the broker).
      const byKey = (list: string[]) =>
        Object.groupBy(list, (entry) => entry.split(":")[0]) as Record<string, string[]>;
      assertEquals(byKey(seen), byKey(expected));
      // Foreign events were acknowledged, handled ones too: nothing pending in the group.
      const pending = await client.xpending(`${prefix}:log`, "waiter") as [number];
      assertEquals(pending[0], 0);
    },
  );
  Deno.test({
    name: "redis: a publish call whose reply is lost is sent again and appends each event once",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const target = new URL(redis.url);
      const proxy = startReplyDroppingProxy({
        hostname: target.hostname,
        port: Number(target.port),
      });
      const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
      const provider = await RedisProvider.connect({
        url: proxy.url,
        prefix,
        publishCallsInFlight: 1,
      });
      const bus = new EventBus({ provider });
      const client = new Redis(redis.url);
      try {
        // The script is cached on the server first, so the lost reply is the script's own.
        await bus.publish("lost.warm", null);
        proxy.dropNextReply();
        // One call: generated ids (no de-duplication key) beside a caller's id (one key).
        const published = await Promise.all([
          bus.publish("lost.a", { n: 1 }),
          bus.publish("lost.b", { n: 2 }, { key: "k1" }),
          bus.publish("lost.c", { n: 3 }, { id: "caller-chosen-1" }),
          bus.publish("lost.d", { n: 4 }, { key: "k1" }),
        ]);
        // The reply was lost and the call went out again on a new connection.
        assert(proxy.connections >= 2, `connections: ${proxy.connections}`);
        const entries = await client.xrange(`${prefix}:log`, "-", "+");
        const stored = entries.map(([seq, fields]) => ({
          seq,
          id: (JSON.parse(fields[fields.indexOf("e") + 1]) as { id: string }).id,
        }));
        for (const event of published) {
          const copies = stored.filter((entry) => entry.id === event.id);
          assertEquals(copies.length, 1, `${event.subject} stored ${copies.length} times`);
          assertEquals(event.seq, copies[0].seq);
        }
        // In publish order, and only these with the warm-up before them.
        assertEquals(stored.slice(1).map((entry) => entry.id), published.map((e) => e.id));
        // The caller's id is still de-duplicated within the window.
        const again = await bus.publish("lost.c", { n: 3 }, { id: "caller-chosen-1" });
        assertEquals(again.duplicate, true);
        assertEquals(again.seq, published[2].seq);
        assertEquals(await client.xlen(`${prefix}:log`), 5);
        // The subject counts were bumped once per event, not again by the second delivery.
        assertEquals(await client.hget(`${prefix}:subjects`, "lost.a"), "1");
      } finally {
        client.disconnect();
        await provider.destroy();
        await bus.close();
        proxy.close();
      }
    },
  });
  Deno.test({
    name: "redis: stop the broker",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => redis.stop(),
  });
}
