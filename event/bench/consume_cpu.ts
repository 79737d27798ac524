/**
 * Where consume time goes on NATS, in CPU per event as well as wall clock: the raw `nats`
 * client (iterator and callback), our provider alone (`NatsProvider.consumeEach` + ack) and the
 * whole bus
 * (`EventBus.consume`), draining the same backlog of the same CloudEvents, with the same
 * batch, alternating rounds and reporting medians. Process CPU is steadier than wall clock
 * on a shared machine. `deno run -A event/bench/consume_cpu.ts`
 * (EVENT_BENCH_EVENTS, EVENT_BENCH_ROUNDS, EVENT_BENCH_ONLY).
 */
import { AckPolicy, connect, DeliverPolicy } from "nats";
import { EventBus } from "../bus.ts";
import { NatsProvider } from "../providers/nats.ts";
import { startNats } from "../_brokers.ts";
import { countTo, type Sample, timed } from "./_cpu_sample.ts";

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 5000);
const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 5);
const BATCH = 64;

const nats = await startNats();
if (!nats) {
  console.log("SKIPPED: nats-server not installed");
  Deno.exit(0);
}
const prefix = `p${crypto.randomUUID().slice(0, 8)}`;
const provider = await NatsProvider.connect({ url: nats.url, stream: "CPU", prefix });
const bus = new EventBus({ provider, source: "bench" });
for (let i = 0; i < EVENTS; i += 64) {
  await Promise.all(
    Array.from(
      { length: Math.min(64, EVENTS - i) },
      (_, j) => bus.publish("bench.e", { i: i + j, text: "x".repeat(200) }),
    ),
  );
}

// The connection options of our provider that bear on cost: no stack trace per request.
const nc = await connect({ servers: nats.url.replace("nats://", ""), noAsyncTraces: true });
const jsm = await nc.jetstreamManager();
const js = nc.jetstream();
const decoder = new TextDecoder();
let group = 0;

/** The raw client on the same stream and events: parse, ack, count. */
async function raw(): Promise<void> {
  const name = `raw${group++}`;
  await jsm.consumers.add("CPU", {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // The same subject filter as our consumers' (a bus consumer receives a pattern).
    filter_subject: `${prefix}.bench.>`,
  });
  const { done, hit } = countTo(EVENTS);
  const messages = await (await js.consumers.get("CPU", name)).consume({ max_messages: BATCH });
  const loop = (async () => {
    for await (const m of messages) {
      JSON.parse(decoder.decode(m.data));
      m.ack();
      hit();
    }
  })();
  await done;
  await nc.flush();
  await messages.close();
  await loop;
}

/** The raw client in its callback mode, the cheapest way it offers to consume. */
async function rawCallback(): Promise<void> {
  const name = `rawcb${group++}`;
  await jsm.consumers.add("CPU", {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // The same subject filter as our consumers' (a bus consumer receives a pattern).
    filter_subject: `${prefix}.bench.>`,
  });
  const { done, hit } = countTo(EVENTS);
  const messages = await (await js.consumers.get("CPU", name)).consume({
    max_messages: BATCH,
    callback: (m) => {
      JSON.parse(decoder.decode(m.data));
      m.ack();
      hit();
    },
  });
  await done;
  await nc.flush();
  await messages.close();
}

/** Our provider without the bus, on its push path: consume, ack, count. */
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
  const loop = provider.consumeEach(spec, abort.signal, BATCH, (delivery) => {
    // As the bus acks when a handler returns.
    lastAck = delivery.ackInBackground!();
    hit();
  });
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
  "raw nats": raw,
  "raw nats callback": rawCallback,
  "provider only": providerOnly,
  "EventBus.consume": wholeBus,
};
// EVENT_BENCH_ONLY="EventBus.consume" runs one contender, for a profile of just that path; a
// comma-separated list runs several.
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
  `${EVENTS} events, batch ${BATCH}, median of ${ROUNDS} alternating rounds; load average ${
    Deno.loadavg()[0].toFixed(1)
  }`,
);
console.log(
  `${"contender".padEnd(20)} ${"events/s".padStart(9)} ${"CPU µs/event".padStart(13)}  ` +
    "over the raw callback (median of per-round ratios)",
);
// The target is the raw client's cheapest mode. Each round's ratio compares contenders that ran
// back to back, so a change in the machine's load between rounds cancels out.
const reference = samples.get("raw nats callback") ?? samples.values().next().value!;
for (const [name, list] of samples) {
  const rate = EVENTS / (median(list.map((s) => s.wallMs)) / 1000);
  const cpu = median(list.map((s) => s.cpuUs)) / EVENTS;
  const best = Math.min(...list.map((s) => s.cpuUs)) / EVENTS;
  const over = median(list.map((s, i) => s.cpuUs / reference[i].cpuUs - 1)) * 100;
  console.log(
    `${name.padEnd(20)} ${rate.toFixed(0).padStart(9)} ${cpu.toFixed(1).padStart(13)}  ${
      over >= 0 ? "+" : ""
    }${over.toFixed(0)}% (best ${best.toFixed(1)} µs)`,
  );
}
await nc.close();
await bus.close();
await nats.stop();
