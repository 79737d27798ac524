/**
 * Throughput and p99 latency through our API against the raw clients on the same broker, in
 * one run: `deno run -A event/bench/event_bench.ts` (or `deno task bench` in event/); settings
 * EVENT_BENCH_EVENTS, EVENT_BENCH_SAMPLES, EVENT_BENCH_ROUNDS, EVENT_BENCH_BROKERS
 * (`nats,redis,pg`), and EVENT_BENCH_VERBOSE=1 to print every round's figures.
 *
 * Each broker gets one table, ours beside the raw client's, with our overhead in percent
 * (positive: we are slower), every figure the median of `EVENT_BENCH_ROUNDS` alternating rounds:
 * - publish/s: `EVENT_BENCH_EVENTS` publishes, 32 in flight, each awaited until the broker
 *   holds the event (JetStream's publish ack; Redis's reply to the append).
 * - publish p99: the latency of each of those publishes, send to broker's answer.
 * - consume/s: that backlog drained by a fresh durable consumer (created inside the timed
 *   region on both sides), 64 fetched at a time, every event parsed and acknowledged.
 * - consume p99: publish to handler, one event at a time, on a live consumer, after 20
 *   unmeasured events on both sides (our `consume` resolves before its first pull is set up;
 *   the raw client's `consume` after).
 *
 * What each side does, so the figures compare like with like:
 * - Both publish the same bytes: a CloudEvent JSON around the same 200-character payload. Ours
 *   builds the envelope (id, time, source) per publish; the raw side gets it pre-built.
 * - NATS: both publish with a `Nats-Msg-Id` (JetStream de-duplication) to a file-backed
 *   stream and consume a durable pull consumer with explicit acks in the client's callback
 *   mode. Raw acks are fire-and-forget (`m.ack()`); ours also resolve each handler's ack
 *   promise once the server has read it (one PING per socket read, so an ack that resolved
 *   survives our crash): stronger than the raw side, and paid for inside our figures.
 * - Redis: raw publishes with one `XADD`; ours with one script call that de-duplicates by id
 *   (`GET` + `XADD` + `SET PX` + a per-subject count). Raw consumes with `XREADGROUP COUNT 64`
 *   and one `XACK` per batch; ours reads the group with the same count in a script that also
 *   indexes keyed entries for per-key order, filters by subject pattern, and acknowledges in
 *   one pipelined `XACK` per timer turn.
 * - PostgreSQL: our store provider against pg-boss (its polling worker, batch 64) on one
 *   database.
 */
import { AckPolicy, connect as natsConnect, DeliverPolicy, nanos } from "nats";
import { Redis } from "ioredis";
import { PgBoss } from "pg-boss";
import { openStore } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { EventBus } from "../bus.ts";
import { buildEnvelope } from "../envelope.ts";
import { NatsProvider } from "../providers/nats.ts";
import { RedisProvider } from "../providers/redis.ts";
import { StoreProvider } from "../providers/store.ts";
import { startNats, startRedis } from "../_brokers.ts";

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 5000);
const SAMPLES = Number(Deno.env.get("EVENT_BENCH_SAMPLES") ?? 1000);
const WINDOW = 32;
/** Live events before the latency samples, on both sides: the consumer is set up and warm. */
const WARMUP = 20;
const payload = (i: number) => ({ i, text: "x".repeat(200) });
/** The raw clients carry the same bytes as the bus: a CloudEvent around the same payload. */
const cloudEvent = (i: number) =>
  buildEnvelope({
    subject: "bench.e",
    data: payload(i),
    type: "a3s.event",
    source: "bench",
    schemaVersion: "1",
  });
/** Which comparisons run (default all): `EVENT_BENCH_BROKERS=nats,redis,pg`. */
const BROKERS = new Set((Deno.env.get("EVENT_BENCH_BROKERS") ?? "nats,redis,pg").split(","));

/** One side of a comparison. */
interface Contender {
  name: string;
  publish(i: number): Promise<void>;
  /** Drains `n` events already published, acknowledging each; resolves when all are handled. */
  drain(n: number): Promise<void>;
  /** Starts a live consumer that calls `onEvent(i)`; returns its stop function. */
  live(onEvent: (i: number) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

interface Figures {
  publishRate: number;
  /** Latency of one publish in the throughput run, ms. */
  publishP99: number;
  consumeRate: number;
  /** Publish to handler, ms. */
  p50: number;
  p99: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(contender: Contender): Promise<Figures> {
  let next = 0;
  const publishLatencies: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < EVENTS) {
      const sent = performance.now();
      await contender.publish(next++);
      publishLatencies.push(performance.now() - sent);
    }
  }));
  const publishRate = EVENTS / ((performance.now() - started) / 1000);
  publishLatencies.sort((a, b) => a - b);
  const drainStart = performance.now();
  await contender.drain(EVENTS);
  const consumeRate = EVENTS / ((performance.now() - drainStart) / 1000);
  const waiting = new Map<number, () => void>();
  const stop = await contender.live((i) => waiting.get(i)?.());
  const latencies: number[] = [];
  for (let s = -WARMUP; s < SAMPLES; s++) {
    const i = EVENTS + WARMUP + s;
    const arrived = new Promise<void>((resolve) => waiting.set(i, resolve));
    const t0 = performance.now();
    await contender.publish(i);
    await arrived;
    if (s >= 0) latencies.push(performance.now() - t0);
    waiting.delete(i);
  }
  await stop();
  latencies.sort((a, b) => a - b);
  return {
    publishRate,
    publishP99: percentile(publishLatencies, 0.99),
    consumeRate,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

function countTo(n: number) {
  let seen = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return { done: promise, hit: () => void (++seen >= n && resolve()) };
}

function ours(name: string, open: () => Promise<EventBus>): () => Promise<Contender> {
  return async () => {
    const bus = await open();
    let group = 0;
    return {
      name,
      publish: async (i) => void await bus.publish("bench.e", payload(i)),
      drain: async (n) => {
        const { done, hit } = countTo(n);
        const consumer = await bus.consume(
          `drain${group++}_${crypto.randomUUID().slice(0, 8)}`,
          "bench.>",
          () => hit(),
          {
            deliver: "all",
            concurrency: 64,
          },
        );
        await done;
        await consumer.stop();
      },
      live: async (onEvent) => {
        const consumer = await bus.consume(
          `live${group++}_${crypto.randomUUID().slice(0, 8)}`,
          "bench.>",
          (m) => {
            onEvent((m.data as { i: number }).i);
          },
        );
        return () => consumer.stop();
      },
      close: () => bus.close(),
    };
  };
}

function rawNats(url: string): () => Promise<Contender> {
  return async () => {
    const nc = await natsConnect({ servers: url.replace("nats://", "") });
    const jsm = await nc.jetstreamManager();
    const stream = `RAW${crypto.randomUUID().slice(0, 8)}`;
    await jsm.streams.add({
      name: stream,
      subjects: [`${stream}.>`],
      duplicate_window: nanos(120_000),
    });
    const js = nc.jetstream();
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    let group = 0;
    const consumeWith = async (deliver: DeliverPolicy, onData: (i: number) => void) => {
      const name = `c${group++}`;
      await jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: deliver,
      });
      // The client's callback mode: its cheapest way to consume, and the one our provider uses.
      const messages = await (await js.consumers.get(stream, name)).consume({
        max_messages: 64,
        callback: (m) => {
          onData(JSON.parse(decoder.decode(m.data)).data.i);
          m.ack();
        },
      });
      return async () => {
        await nc.flush();
        await messages.close();
      };
    };
    return {
      name: "raw nats",
      publish: async (i) =>
        void await js.publish(`${stream}.bench.e`, encoder.encode(JSON.stringify(cloudEvent(i))), {
          msgID: crypto.randomUUID(),
        }),
      drain: async (n) => {
        const { done, hit } = countTo(n);
        const stop = await consumeWith(DeliverPolicy.All, hit);
        await done;
        await stop();
      },
      live: (onEvent) => consumeWith(DeliverPolicy.New, onEvent),
      close: async () => {
        await jsm.streams.delete(stream);
        await nc.close();
      },
    };
  };
}

function rawRedis(url: string): () => Promise<Contender> {
  return () => {
    const redis = new Redis(url);
    const key = `raw:${crypto.randomUUID().slice(0, 8)}`;
    let group = 0;
    const consumeWith = async (start: string, onData: (i: number) => void) => {
      const name = `g${group++}`;
      await redis.xgroup("CREATE", key, name, start, "MKSTREAM");
      const reader = redis.duplicate();
      let open = true;
      const loop = (async () => {
        while (open) {
          const reply = await reader.xreadgroup(
            "GROUP",
            name,
            "me",
            "COUNT",
            64,
            "BLOCK",
            100,
            "STREAMS",
            key,
            ">",
          ) as [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          for (const [, fields] of entries) onData(JSON.parse(fields[1]).data.i);
          if (entries.length) await redis.xack(key, name, ...entries.map(([id]) => id));
        }
      })();
      return async () => {
        open = false;
        await loop;
        reader.disconnect();
      };
    };
    return Promise.resolve({
      name: "raw ioredis",
      publish: async (i) => void await redis.xadd(key, "*", "e", JSON.stringify(cloudEvent(i))),
      drain: async (n) => {
        const { done, hit } = countTo(n);
        const stop = await consumeWith("0", hit);
        await done;
        await stop();
      },
      live: (onEvent) => consumeWith("$", onEvent),
      close: async () => {
        await redis.del(key);
        redis.disconnect();
      },
    });
  };
}

function pgBoss(url: string): () => Promise<Contender> {
  return async () => {
    const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
    boss.on("error", (error: unknown) => console.error(`pg-boss: ${error}`));
    await boss.start();
    const queue = `bench_${crypto.randomUUID().slice(0, 8)}`;
    await boss.createQueue(queue);
    const work = async (onData: (i: number) => void) => {
      await boss.work(queue, { batchSize: 64, pollingIntervalSeconds: 0.5 }, (jobs) => {
        for (const job of jobs) onData((job.data as { i: number }).i);
        return Promise.resolve();
      });
      return () => boss.offWork(queue);
    };
    return {
      name: "pg-boss (polling)",
      publish: async (i) => void await boss.send(queue, payload(i)),
      drain: async (n) => {
        const { done, hit } = countTo(n);
        const stop = await work(hit);
        await done;
        await stop();
      },
      live: (onEvent) => work(onEvent),
      close: () => boss.stop({ graceful: false }),
    };
  };
}

/**
 * One broker's table: each figure, ours beside the peer's, and our overhead (positive: we are
 * slower; for rates the peer's rate over ours, for latencies ours over the peer's).
 */
function table(title: string, oursName: string, peerName: string, ours: Figures, peer: Figures) {
  const pct = (slower: number, faster: number) => {
    const value = (slower / faster - 1) * 100;
    return `${value >= 0 ? "+" : ""}${value.toFixed(1)}%`;
  };
  const lines: [string, string, string, string][] = [
    [
      "publish/s",
      ours.publishRate.toFixed(0),
      peer.publishRate.toFixed(0),
      pct(peer.publishRate, ours.publishRate),
    ],
    [
      "publish p99 ms",
      ours.publishP99.toFixed(2),
      peer.publishP99.toFixed(2),
      pct(ours.publishP99, peer.publishP99),
    ],
    [
      "consume/s",
      ours.consumeRate.toFixed(0),
      peer.consumeRate.toFixed(0),
      pct(peer.consumeRate, ours.consumeRate),
    ],
    ["consume p99 ms", ours.p99.toFixed(2), peer.p99.toFixed(2), pct(ours.p99, peer.p99)],
    ["consume p50 ms", ours.p50.toFixed(2), peer.p50.toFixed(2), pct(ours.p50, peer.p50)],
  ];
  console.log(`\n${title} (load average ${Deno.loadavg()[0].toFixed(1)})`);
  console.log(
    `${"".padEnd(16)} ${oursName.padStart(22)} ${peerName.padStart(18)} ${"overhead".padStart(9)}`,
  );
  for (const [label, a, b, over] of lines) {
    console.log(`${label.padEnd(16)} ${a.padStart(22)} ${b.padStart(18)} ${over.padStart(9)}`);
  }
}

const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 5);
const VERBOSE = Deno.env.get("EVENT_BENCH_VERBOSE") === "1";

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs both contenders ROUNDS times, alternating so both see the same machine load, and
 * reports the median of each figure.
 */
async function compare(a: () => Promise<Contender>, b: () => Promise<Contender>) {
  const runs: Figures[][] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, make] of [a, b].entries()) {
      const contender = await make();
      runs[k].push(await measure(contender));
      if (VERBOSE) {
        console.log(`round ${round} ${contender.name}: ${JSON.stringify(runs[k].at(-1))}`);
      }
      await contender.close();
    }
  }
  return runs.map((figures): Figures => ({
    publishRate: median(figures.map((f) => f.publishRate)),
    publishP99: median(figures.map((f) => f.publishP99)),
    consumeRate: median(figures.map((f) => f.consumeRate)),
    p50: median(figures.map((f) => f.p50)),
    p99: median(figures.map((f) => f.p99)),
  }));
}

console.log(
  `events: ${EVENTS} per throughput run, ${SAMPLES} latency samples, ${WINDOW} publishes in ` +
    `flight, median of ${ROUNDS} alternating rounds; load average ${Deno.loadavg()[0].toFixed(1)}`,
);

const nats = BROKERS.has("nats") ? await startNats() : undefined;
if (nats) {
  const [mine, raw] = await compare(
    ours("a3s event (nats)", async () =>
      new EventBus({
        provider: await NatsProvider.connect({
          url: nats.url,
          stream: `OURS${crypto.randomUUID().slice(0, 8)}`,
          prefix: `o${crypto.randomUUID().slice(0, 8)}`,
        }),
      })),
    rawNats(nats.url),
  );
  table("NATS JetStream", "a3s event", "raw nats", mine, raw);
  await nats.stop();
}

const redis = BROKERS.has("redis") ? await startRedis() : undefined;
if (redis) {
  const [mine, raw] = await compare(
    ours("a3s event (redis)", async () =>
      new EventBus({
        provider: await RedisProvider.connect({
          url: redis.url,
          prefix: `o${crypto.randomUUID().slice(0, 8)}`,
        }),
      })),
    rawRedis(redis.url),
  );
  table("Redis Streams", "a3s event", "raw ioredis", mine, raw);
  await redis.stop();
}

const database = BROKERS.has("pg") ? await createTestDatabase("a3s_event_bench") : undefined;
if (database) {
  const store = await openStore({ databaseUrl: database.url, poolSize: 8 });
  try {
    const [mine, boss] = await compare(
      ours("a3s event (store, pg)", async () => {
        const provider = await StoreProvider.open({ store, listenUrl: database.url });
        const bus = new EventBus({ provider });
        // The store is shared across rounds; closing the bus must not close it.
        return bus;
      }),
      pgBoss(database.url),
    );
    table("PostgreSQL", "a3s event (store)", "pg-boss (polling)", mine, boss);
  } finally {
    await store.close();
    await database.drop();
  }
} else if (BROKERS.has("pg")) {
  console.log("SKIPPED: PostgreSQL comparison (no PostgreSQL reachable)");
}
