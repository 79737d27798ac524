/**
 * Throughput and latency through our API against the raw clients on the same broker, in one
 * run: `deno run -A event/bench/event_bench.ts` (or `deno task bench` in event/).
 *
 * For each pair: publish throughput (32 publishes in flight), consume throughput (a backlog
 * drained by a fresh durable consumer, each event acknowledged), and end-to-end latency
 * (one event at a time, publish to handler). NATS JetStream and Redis run on brokers the
 * bench starts; the store provider and pg-boss share one PostgreSQL database. The raw clients
 * publish the same CloudEvent JSON the bus does, drain with the same batch (64), and create
 * their consumer inside the timed region as the bus does; raw NATS consumes in the client's
 * callback mode, as our provider does.
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

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 3000);
const SAMPLES = Number(Deno.env.get("EVENT_BENCH_SAMPLES") ?? 300);
const WINDOW = 32;
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
  consumeRate: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(contender: Contender): Promise<Figures> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < EVENTS) await contender.publish(next++);
  }));
  const publishRate = EVENTS / ((performance.now() - started) / 1000);
  const drainStart = performance.now();
  await contender.drain(EVENTS);
  const consumeRate = EVENTS / ((performance.now() - drainStart) / 1000);
  const waiting = new Map<number, () => void>();
  const stop = await contender.live((i) => waiting.get(i)?.());
  const latencies: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const i = EVENTS + s;
    const arrived = new Promise<void>((resolve) => waiting.set(i, resolve));
    const t0 = performance.now();
    await contender.publish(i);
    await arrived;
    latencies.push(performance.now() - t0);
    waiting.delete(i);
  }
  await stop();
  latencies.sort((a, b) => a - b);
  return {
    publishRate,
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

function row(name: string, f: Figures): string {
  return `${name.padEnd(24)} ${f.publishRate.toFixed(0).padStart(9)} ${
    f.consumeRate.toFixed(0).padStart(9)
  } ${f.p50.toFixed(2).padStart(8)} ${f.p99.toFixed(2).padStart(8)}`;
}

function overhead(ours: Figures, peer: Figures): string {
  const pct = (a: number, b: number) => `${((a / b - 1) * 100).toFixed(1)}%`;
  return `  overhead: publish ${pct(peer.publishRate, ours.publishRate)}, consume ${
    pct(peer.consumeRate, ours.consumeRate)
  }, p99 ${pct(ours.p99, peer.p99)} (positive = we are slower)`;
}

const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 3);

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
      await contender.close();
    }
  }
  return runs.map((figures): Figures => ({
    publishRate: median(figures.map((f) => f.publishRate)),
    consumeRate: median(figures.map((f) => f.consumeRate)),
    p50: median(figures.map((f) => f.p50)),
    p99: median(figures.map((f) => f.p99)),
  }));
}

console.log(
  `events: ${EVENTS} per throughput run, ${SAMPLES} latency samples, ${WINDOW} publishes in ` +
    `flight, median of ${ROUNDS} alternating rounds; load average ${Deno.loadavg()[0].toFixed(1)}`,
);
console.log(
  `${"contender".padEnd(24)} ${"pub/s".padStart(9)} ${"cons/s".padStart(9)} ${
    "p50 ms".padStart(8)
  } ${"p99 ms".padStart(8)}`,
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
  console.log(row("a3s event (nats)", mine));
  console.log(row("raw nats", raw));
  console.log(overhead(mine, raw));
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
  console.log(row("a3s event (redis)", mine));
  console.log(row("raw ioredis", raw));
  console.log(overhead(mine, raw));
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
    console.log(row("a3s event (store, pg)", mine));
    console.log(row("pg-boss (polling)", boss));
  } finally {
    await store.close();
    await database.drop();
  }
} else if (BROKERS.has("pg")) {
  console.log("SKIPPED: PostgreSQL comparison (no PostgreSQL reachable)");
}
