/**
 * Consume cost on Redis Streams in client CPU per event, which the shared machine's load
 * disturbs less than wall clock (the Redis server's own CPU is another process and not
 * counted): the raw `ioredis` loop (XREADGROUP 64 at a time, parse, one XACK per batch), our
 * provider alone (`RedisProvider.consumeBatches` and ack) and the whole bus (`EventBus.consume`),
 * draining the same backlog of the same CloudEvents, alternating rounds, medians.
 * `deno run -A event/bench/consume_cpu_redis.ts` (EVENT_BENCH_EVENTS, EVENT_BENCH_ROUNDS,
 * EVENT_BENCH_ONLY).
 */
import { Redis } from "ioredis";
import { EventBus } from "../bus.ts";
import { RedisProvider } from "../providers/redis.ts";
import { startRedis } from "../_brokers.ts";
import { countTo, type Sample, timed } from "./_cpu_sample.ts";

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 5000);
const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 5);
const BATCH = 64;

const broker = await startRedis();
if (!broker) {
  console.log("SKIPPED: redis-server not installed");
  Deno.exit(0);
}
const prefix = `cpu${crypto.randomUUID().slice(0, 8)}`;
const provider = await RedisProvider.connect({ url: broker.url, prefix });
const bus = new EventBus({ provider, source: "bench" });
for (let i = 0; i < EVENTS; i += 64) {
  await Promise.all(
    Array.from(
      { length: Math.min(64, EVENTS - i) },
      (_, j) => bus.publish("bench.e", { i: i + j, text: "x".repeat(200) }),
    ),
  );
}
const log = `${prefix}:log`;
const redis = new Redis(broker.url);
let group = 0;

/** The raw client on the same stream: read a batch, parse each event, acknowledge the batch. */
async function raw(): Promise<void> {
  const name = `raw${group++}`;
  await redis.xgroup("CREATE", log, name, "0");
  const reader = redis.duplicate();
  const { done, hit } = countTo(EVENTS);
  let open = true;
  const loop = (async () => {
    while (open) {
      const reply = await reader.xreadgroup(
        "GROUP",
        name,
        "me",
        "COUNT",
        BATCH,
        "BLOCK",
        100,
        "STREAMS",
        log,
        ">",
      ) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [, fields] of entries) {
        JSON.parse(fields[fields.indexOf("e") + 1]);
        hit();
      }
      if (entries.length) await redis.xack(log, name, ...entries.map(([id]) => id));
    }
  })();
  await done;
  open = false;
  await loop;
  reader.disconnect();
}

/** Our provider without the bus: consume, ack, count. */
async function providerOnly(): Promise<void> {
  const spec = {
    name: `prov${group++}`,
    pattern: "bench.>",
    ackWaitMs: 30_000,
    deliver: "all" as const,
  };
  await provider.ensureConsumer(spec);
  const { done, hit } = countTo(EVENTS);
  const abort = new AbortController();
  // Acks are flushed in order, so the last one settles after all the others.
  let lastAck = Promise.resolve();
  const loop = (async () => {
    for await (const deliveries of provider.consumeBatches(spec, abort.signal, BATCH)) {
      for (const delivery of deliveries) {
        lastAck = delivery.ack();
        hit();
      }
    }
  })();
  await done;
  abort.abort();
  await loop;
  await lastAck;
}

/** The whole bus: a durable consumer with a synchronous handler. */
async function wholeBus(): Promise<void> {
  const { done, hit } = countTo(EVENTS);
  const consumer = await bus.consume(`bus${group++}`, "bench.>", () => hit(), {
    deliver: "all",
    concurrency: BATCH,
  });
  await done;
  await consumer.stop();
}

const all = {
  "raw ioredis": raw,
  "provider only": providerOnly,
  "EventBus.consume": wholeBus,
};
// EVENT_BENCH_ONLY="EventBus.consume" runs one contender (a comma-separated list, several), for
// a profile of just that path.
const only = Deno.env.get("EVENT_BENCH_ONLY")?.split(",");
const contenders = Object.fromEntries(
  Object.entries(all).filter(([name]) => only === undefined || only.includes(name)),
);
const samples = new Map<string, Sample[]>(Object.keys(contenders).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, drain] of Object.entries(contenders)) {
    samples.get(name)!.push(await timed(drain));
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
console.log(
  `Redis: ${EVENTS} events, batch ${BATCH}, median of ${ROUNDS} alternating rounds; load average ${
    Deno.loadavg()[0].toFixed(1)
  }`,
);
console.log(
  `${"contender".padEnd(20)} ${"events/s".padStart(9)} ${"CPU µs/event".padStart(13)}  ` +
    "over the raw client (median of per-round ratios)",
);
const reference = samples.get("raw ioredis") ?? samples.values().next().value!;
for (const [name, list] of samples) {
  const rate = EVENTS / (median(list.map((s) => s.wallMs)) / 1000);
  const cpu = median(list.map((s) => s.cpuUs)) / EVENTS;
  const over = median(list.map((s, i) => s.cpuUs / reference[i].cpuUs - 1)) * 100;
  console.log(
    `${name.padEnd(20)} ${rate.toFixed(0).padStart(9)} ${cpu.toFixed(1).padStart(13)}  ${
      over >= 0 ? "+" : ""
    }${over.toFixed(0)}%`,
  );
}
redis.disconnect();
await bus.close();
await broker.stop();
