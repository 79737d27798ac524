/**
 * Throughput and p99 latency through our API against the raw clients on the same broker, in
 * one run: `deno run -A event/bench/event_bench.ts` (or `deno task bench` in event/); settings
 * EVENT_BENCH_EVENTS, EVENT_BENCH_SAMPLES, EVENT_BENCH_ROUNDS, EVENT_BENCH_BROKERS
 * (`nats,redis,pg`), EVENT_BENCH_VERBOSE=1 to print every round's figures, and
 * EVENT_BENCH_CONTROL=1 to run ours against ours (the noise floor), EVENT_BENCH_DRAINS, and
 * EVENT_BENCH_REDIS_BASELINE=<file> to run Redis A/B: ours against another version of the
 * provider, a copy of `providers/redis.ts` placed beside it (`git show
 * HEAD:event/providers/redis.ts > event/providers/_baseline_redis.ts`).
 * `EVENT_BENCH_BUSY=N` runs the whole bench beside N busy loops (`EVENT_BENCH_BUSY_NICE`, default
 * 0), a fixed background load, so a figure at load 0, 1 or 2 can be taken again on purpose.
 *
 * Each broker gets one table, ours beside the raw client's, with our overhead in percent
 * (positive: we are slower) as the median of each pair's own ratio (a pair: the two sides' same
 * step, back to back). A round opens both sides (a new connection and a new stream or key
 * each), publishes each side's backlog, drains each backlog `EVENT_BENCH_DRAINS` (4) times with a
 * fresh consumer, runs each side's live consumer, and only then closes both; the sides alternate
 * in every step (A B, B A, ...), and before every measurement the bench waits until the broker
 * process is idle (at most one 10 ms clock tick of CPU in 100 ms). Three unmeasured rounds come
 * first.
 *
 * Why (an A/A run, ours against ours, gave NATS consume/s +15.1% with the previous layout, and
 * another +0.0% with p99 +37.6%): the previous layout ran one side's publish, drain and live run,
 * then deleted its stream and slept a fixed 500 ms before the other side; each round gave one
 * drain of a third of a second per side, so the consume rows rested on eight short samples on a
 * machine shared with other work, where one side's round-to-round spread was 21,000–34,000/s.
 * Its median of eight also took the upper middle value instead of the mean of the two middle
 * ones, which leans a skewed set of ratios one way. Now: four times the drains per round, the
 * true median, stream deletion outside every timing and the broker idle before each
 * measurement (JetStream flushes, compacts and deletes in the background).
 *
 * Latency rows (publish p99, consume p50 and p99) are percentiles of each side's samples of all
 * rounds pooled, and their overhead the ratio of the two: a p99 of one round's 500 samples is its
 * fifth largest, and the median of eight such per-round ratios still moved by ±15–35% in A/A runs.
 *
 * - publish/s: `EVENT_BENCH_EVENTS` publishes, 32 in flight, each awaited until the broker
 *   holds the event (JetStream's publish ack; Redis's reply to the append).
 * - publish p99: the latency of each of those publishes, send to broker's answer.
 * - consume/s: that backlog drained by a fresh durable consumer (created inside the timed
 *   region on both sides), 64 fetched at a time, every event parsed and acknowledged.
 * - consume p99: publish to handler, one event at a time (500 samples), on a live consumer, after 20
 *   unmeasured events on both sides (our `consume` resolves before its first pull is set up;
 *   the raw client's `consume` after). Both sides' live consumers run at once and take turns
 *   sample by sample, so a stall of the machine reaches both sides' samples alike.
 * - publish / consume CPU µs: this process's CPU time (user + system) per event over the
 *   publish run and the drain; the broker's is not counted. Steadier than wall-clock rates on a
 *   shared machine, where other processes' load moves the rates from round to round.
 *
 * What each side does, so the figures compare like with like:
 * - Both sides' NATS connections skip the client's stack trace per request (`noAsyncTraces`).
 * - Both publish the same bytes: a CloudEvent JSON around the same 200-character payload. Ours
 *   builds the envelope (id, time, source) per publish; the raw side gets it pre-built.
 * - NATS: both publish with a `Nats-Msg-Id` (JetStream de-duplication) to a file-backed
 *   stream and consume a durable pull consumer filtered on `<prefix>.bench.>` with explicit
 *   acks in the client's callback mode. Both acks leave at once; raw acks are fire-and-forget
 *   (`m.ack()`), ours are also confirmed by a PING (one per 100 ms for the ack sent when a
 *   handler returns, so a failed ack is known and its redelivery not handled twice): stronger
 *   than the raw side, and paid for inside our figures.
 * - Redis: raw publishes with one `XADD` per event; ours with one script call per batch (the
 *   publishes made in one event-loop turn, here up to the 32 in flight) that de-duplicates each
 *   event by id (`XADD` + `SET NX PX GET`, a duplicate's entry deleted again) and counts each
 *   subject once per batch (`HINCRBY`). Raw consumes with `XREADGROUP COUNT 64`
 *   and one `XACK` per batch; ours reads the group with the same count in a script that also
 *   indexes keyed entries for per-key order, filters by subject pattern, and acknowledges in
 *   one pipelined `XACK` per turn of the event loop.
 * - PostgreSQL: our store provider against pg-boss (its polling worker, batch 64) on one
 *   database.
 */
import { AckPolicy, connect as natsConnect, DeliverPolicy, nanos } from "nats";
import { Redis } from "ioredis";
import { PgBoss } from "pg-boss";
import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL as toFileUrl } from "node:url";
import { openStore } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { EventBus } from "../bus.ts";
import { buildEnvelope } from "../envelope.ts";
import { NatsProvider } from "../providers/nats.ts";
import { RedisProvider } from "../providers/redis.ts";
import { StoreProvider } from "../providers/store.ts";
import { startNats, startRedis } from "../_brokers.ts";
import { backgroundLoadFromEnv } from "./_background_load.ts";

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 10000);
const SAMPLES = Number(Deno.env.get("EVENT_BENCH_SAMPLES") ?? 500);
const WINDOW = 32;
/** Events fetched at a time by every consumer, ours and the raw clients'. */
const BATCH = 64;
/** Live events before the latency samples, on both sides: the consumer is set up and warm. */
const WARMUP = 20;
/** Unmeasured rounds of each side before the measured ones (the last with latency samples). */
const WARMUP_ROUNDS = 3;
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
  /** This process's CPU per published event, µs (the broker's own CPU is not counted). */
  publishCpu: number;
  consumeRate: number;
  /** This process's CPU per drained event, µs. */
  consumeCpu: number;
  /** Publish to handler, ms. */
  p50: number;
  p99: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A publish run's figures, with its latencies (ms) for the pooled percentiles. */
type PublishFigures = Pick<Figures, "publishRate" | "publishP99" | "publishCpu"> & {
  latencies: number[];
};
type DrainFigures = Pick<Figures, "consumeRate" | "consumeCpu">;
/** A live run's figures, with its latencies (ms) for the pooled percentiles. */
type LiveFigures = Pick<Figures, "p50" | "p99"> & { latencies: number[] };

/** Publishes `events` events, WINDOW in flight, each awaited until the broker holds it. */
async function publishRun(contender: Contender, events: number): Promise<PublishFigures> {
  let next = 0;
  const publishLatencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < events) {
      const sent = performance.now();
      await contender.publish(next++);
      publishLatencies.push(performance.now() - sent);
    }
  }));
  const publishRate = events / ((performance.now() - started) / 1000);
  const used = process.cpuUsage(cpu);
  publishLatencies.sort((a, b) => a - b);
  return {
    publishRate,
    publishP99: percentile(publishLatencies, 0.99),
    latencies: publishLatencies,
    publishCpu: (used.user + used.system) / events,
  };
}

/** Drains the `events` published so far with a fresh consumer (created inside the timing). */
async function drainRun(contender: Contender, events: number): Promise<DrainFigures> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await contender.drain(events);
  const consumeRate = events / ((performance.now() - started) / 1000);
  const used = process.cpuUsage(cpu);
  return { consumeRate, consumeCpu: (used.user + used.system) / events };
}

/**
 * Publish to handler on both sides' live consumers, one event at a time, after WARMUP
 * unmeasured: both consumers run at once and the sides take turns sample by sample (which side
 * goes first alternates), so a stall of the shared machine (another process's burst, a
 * collection) lands on both sides' samples alike instead of on whichever side was running then.
 * Only one event is in flight at a time, so neither side's work slows the other's sample.
 */
async function liveRuns(
  sides: Contender[],
  from: number,
  samples: number,
  warmup = WARMUP,
): Promise<[LiveFigures, LiveFigures]> {
  const latencies: [number[], number[]] = [[], []];
  const waiting = [new Map<number, () => void>(), new Map<number, () => void>()];
  const stops: (() => Promise<void>)[] = [];
  for (const k of [0, 1]) stops.push(await sides[k].live((i) => waiting[k].get(i)?.()));
  for (let s = -warmup; s < samples; s++) {
    const i = from + warmup + s;
    for (const k of s % 2 ? [1, 0] : [0, 1]) {
      const arrived = new Promise<void>((resolve) => waiting[k].set(i, resolve));
      const t0 = performance.now();
      await sides[k].publish(i);
      await arrived;
      if (s >= 0) latencies[k].push(performance.now() - t0);
      waiting[k].delete(i);
    }
  }
  for (const stop of stops) await stop();
  const figures = (list: number[]): LiveFigures => {
    list.sort((a, b) => a - b);
    return { p50: percentile(list, 0.5), p99: percentile(list, 0.99), latencies: list };
  };
  return [figures(latencies[0]), figures(latencies[1])];
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
            concurrency: BATCH,
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
          // The raw side's batch (64); a bus consumer fetches `concurrency` at a time.
          { concurrency: BATCH },
        );
        return () => consumer.stop();
      },
      close: async () => {
        // Leave the broker as the raw side does, which deletes its stream or key.
        const provider = bus.provider as { destroy?: () => Promise<void> };
        await provider.destroy?.();
        await bus.close();
      },
    };
  };
}

function rawNats(url: string): () => Promise<Contender> {
  return async () => {
    // The connection options of our provider that bear on cost: no stack trace per request.
    const nc = await natsConnect({ servers: url.replace("nats://", ""), noAsyncTraces: true });
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
        // The same subject filter as ours (a bus consumer receives a pattern, here `bench.>`).
        filter_subject: `${stream}.bench.>`,
      });
      // The client's callback mode: its cheapest way to consume, and the one our provider uses.
      const messages = await (await js.consumers.get(stream, name)).consume({
        max_messages: BATCH,
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
            BATCH,
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
      await boss.work(queue, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, (jobs) => {
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
 * One broker's table: each figure's medians, ours beside the peer's, and our overhead
 * (positive: we are slower), the median of the rounds' own ratios.
 */
function table(title: string, oursName: string, peerName: string, result: Comparison) {
  const { ours, peer, overhead } = result;
  const pct = (value: number) => `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`;
  const row = (
    label: string,
    figure: keyof Figures,
    digits: number,
  ) => [label, ours[figure].toFixed(digits), peer[figure].toFixed(digits), pct(overhead[figure])];
  // A step switched off (EVENT_BENCH_DRAINS=0, EVENT_BENCH_SAMPLES=0) has no figures: no row.
  const measured = (line: string[]) => !line.includes("NaN");
  const lines = [
    row("publish/s", "publishRate", 0),
    row("publish p99 ms", "publishP99", 2),
    row("publish CPU µs", "publishCpu", 1),
    row("consume/s", "consumeRate", 0),
    row("consume p99 ms", "p99", 2),
    row("consume p50 ms", "p50", 2),
    row("consume CPU µs", "consumeCpu", 1),
  ].filter(measured);
  console.log(`\n${title} (load average ${Deno.loadavg()[0].toFixed(1)})`);
  console.log(
    `${"".padEnd(16)} ${oursName.padStart(22)} ${peerName.padStart(18)} ${"overhead".padStart(9)}`,
  );
  for (const [label, a, b, over] of lines) {
    console.log(`${label.padEnd(16)} ${a.padStart(22)} ${b.padStart(18)} ${over.padStart(9)}`);
  }
}

/** Rounds; even, so each side goes first in half of them. */
const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 8);
/**
 * Drains of each side's backlog per round, each by a fresh consumer, the sides alternating
 * (A B, B A, ...): a drain is short (a third of a second at 30,000/s), so one per round left the
 * consume rows at the mercy of whatever else the shared machine ran in that third of a second.
 */
const DRAINS = Number(Deno.env.get("EVENT_BENCH_DRAINS") ?? 4);
const VERBOSE = Deno.env.get("EVENT_BENCH_VERBOSE") === "1";
/**
 * `EVENT_BENCH_CONTROL=1` runs ours against ours: the spread between two identical sides is
 * the noise floor of this machine, against which the overheads are to be read.
 */
const CONTROL = Deno.env.get("EVENT_BENCH_CONTROL") === "1";

/** The median; of an even count, the mean of the two middle values. */
function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** CPU time (user + system, in clock ticks) a process has used so far. */
function cpuTicks(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces, hence the last ")"): utime and
    // stime are the 12th and 13th.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until the broker has used at most one clock tick (10 ms) of CPU in 100 ms, at most 3 s:
 * the server deletes streams, compacts and flushes its files after the clients are done, and a
 * side measured while it does pays for the other side's work. Without a process id to watch
 * (a PostgreSQL reached by URL), a fixed 500 ms.
 */
async function brokerIdle(pid: number | undefined): Promise<void> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  if (pid === undefined || cpuTicks(pid) === undefined) return void await sleep(500);
  const until = performance.now() + 3000;
  let before = cpuTicks(pid)!;
  while (performance.now() < until) {
    await sleep(100);
    const now = cpuTicks(pid);
    if (now === undefined || now - before <= 1) return;
    before = now;
  }
}

/**
 * The PostgreSQL step's size. pg-boss polls every 0.5 s and fetches 64 jobs a poll, so its drain
 * of N jobs takes N / 64 polls (2,000 jobs: 16 s) and every live sample one poll (0.5 s): with the
 * other brokers' 3 + 8 rounds of 2,000 events and 20 + 40 samples, the step alone ran about
 * 8 minutes, nearly all of it pg-boss sleeping between polls. These sizes give the same figures
 * (a drain rate set by the polling, a latency of one poll) in about a minute and a half:
 * 1 + 4 rounds, 1,000 events (8 s of pg-boss drain each), 5 unmeasured and 20 measured live
 * samples (some 12 s). `EVENT_BENCH_PG_ROUNDS` sets the measured rounds. A pg-boss job is done
 * once handled, so its backlog drains once.
 */
const PG_STEP = {
  events: Math.min(EVENTS, 1000),
  samples: Math.min(SAMPLES, 20),
  drains: 1,
  rounds: Number(Deno.env.get("EVENT_BENCH_PG_ROUNDS") ?? 4),
  warmupRounds: 1,
  liveWarmup: 5,
};

/** Medians of each side's figures, and our overhead on each figure. */
interface Comparison {
  ours: Figures;
  peer: Figures;
  /** Per figure, the median over pairs of that pair's overhead (positive: we are slower). */
  overhead: Record<keyof Figures, number>;
}

/** Our overhead on one figure of one pair: rates compare the peer's over ours. */
function overheadOf(figure: keyof Figures, ours: Figures, peer: Figures): number {
  const higherIsBetter = figure === "publishRate" || figure === "consumeRate";
  return higherIsBetter ? peer[figure] / ours[figure] - 1 : ours[figure] / peer[figure] - 1;
}

/** Which side goes first in the `n`th pair of measurements: they alternate. */
const orderOf = (n: number) => n % 2 === 0 ? [0, 1] : [1, 0];

/**
 * Runs both contenders ROUNDS times and reports the medians. A round opens both sides (a new
 * connection and stream or key each), then measures, the sides alternating in each step and
 * the broker idle before every measurement: the two publish runs, DRAINS drains of each
 * backlog, the two live runs; both sides are closed (streams and keys deleted) after, outside
 * every timing. The overhead is the median of each pair's own ratio, so a change in the shared
 * machine's load between pairs cancels out.
 */
async function compare(
  ours: () => Promise<Contender>,
  peer: () => Promise<Contender>,
  brokerPid: () => number | undefined,
  {
    events = EVENTS,
    samples = SAMPLES,
    drains = DRAINS,
    rounds = ROUNDS,
    warmupRounds = WARMUP_ROUNDS,
    liveWarmup = WARMUP,
  }: {
    events?: number;
    samples?: number;
    drains?: number;
    rounds?: number;
    warmupRounds?: number;
    liveWarmup?: number;
  } = {},
): Promise<Comparison> {
  const runs = {
    publish: [[], []] as PublishFigures[][],
    drain: [[], []] as DrainFigures[][],
    live: [[], []] as LiveFigures[][],
  };
  const idle = () => brokerIdle(brokerPid());
  // Unmeasured rounds first, so neither side's figures include compiling its code: ours takes
  // some 30,000 events to reach its steady cost per event.
  for (let round = -warmupRounds; round < rounds; round++) {
    const measured = round >= 0;
    const sides = [await ours(), await peer()];
    for (const k of orderOf(round)) {
      await idle();
      const figures = await publishRun(sides[k], events);
      if (measured) runs.publish[k].push(figures);
    }
    for (let d = 0; d < drains; d++) {
      for (const k of orderOf(round + d)) {
        await idle();
        const figures = await drainRun(sides[k], events);
        if (measured) runs.drain[k].push(figures);
        if (VERBOSE && measured) {
          console.log(`round ${round} drain ${d} side ${k}: ${JSON.stringify(figures)}`);
        }
      }
    }
    if (samples > 0 && (measured || round === -1)) {
      await idle();
      const [first, second] = await liveRuns(sides, events, samples, liveWarmup);
      if (measured) {
        runs.live[0].push(first);
        runs.live[1].push(second);
      }
    }
    if (VERBOSE && measured) {
      for (const k of [0, 1]) {
        const last = { ...runs.publish[k].at(-1), ...runs.live[k].at(-1) };
        console.log(`round ${round} side ${k} (${sides[k].name}): ${JSON.stringify(last)}`);
      }
    }
    for (const side of sides) await side.close();
    await idle();
  }
  const figures: (keyof Figures)[] = [
    "publishRate",
    "publishP99",
    "publishCpu",
    "consumeRate",
    "consumeCpu",
    "p50",
    "p99",
  ];
  // Pairs of the same step: each side's k-th publish run, k-th drain, k-th live run.
  const pairs = (figure: keyof Figures): [Figures, Figures][] => {
    const list = figure.startsWith("publish")
      ? runs.publish
      : figure.startsWith("consume")
      ? runs.drain
      : runs.live;
    return (list[0] as Figures[]).map((o, i) => [o, list[1][i] as Figures]);
  };
  // Latency percentiles come from each side's samples of all rounds pooled (4,000 live and
  // 80,000 publish latencies a side by default): a p99 of one round's 500 samples is its fifth
  // largest, and the median of eight such ratios still moved by ±15–35% in A/A runs. The sides
  // alternate within every round, so a change of load between rounds reaches both pools alike.
  const pooled = (figure: keyof Figures): boolean =>
    figure === "publishP99" || figure === "p50" || figure === "p99";
  const pooledPercentile = (k: 0 | 1, figure: keyof Figures) => {
    const lists = figure === "publishP99" ? runs.publish[k] : runs.live[k];
    const all = lists.flatMap((run) => run.latencies).sort((x, y) => x - y);
    return all.length ? percentile(all, figure === "p50" ? 0.5 : 0.99) : NaN;
  };
  const medianOf = (k: 0 | 1) =>
    Object.fromEntries(
      figures.map((f) => [
        f,
        pooled(f) ? pooledPercentile(k, f) : median(pairs(f).map((pair) => pair[k][f])),
      ]),
    ) as unknown as Figures;
  const oursFigures = medianOf(0);
  const peerFigures = medianOf(1);
  return {
    ours: oursFigures,
    peer: peerFigures,
    overhead: Object.fromEntries(
      figures.map((f) => [
        f,
        pooled(f)
          ? overheadOf(f, oursFigures, peerFigures)
          : median(pairs(f).map(([o, p]) => overheadOf(f, o, p))),
      ]),
    ) as Record<keyof Figures, number>,
  };
}

const background = backgroundLoadFromEnv();
globalThis.addEventListener("unload", () => void background?.stop());
console.log(
  `events: ${EVENTS} per throughput run, ${SAMPLES} latency samples, ${WINDOW} publishes in ` +
    `flight, median of ${ROUNDS} alternating rounds; load average ${Deno.loadavg()[0].toFixed(1)}` +
    (background ? `; ${background.workers} busy loops beside the bench` : ""),
);

const nats = BROKERS.has("nats") ? await startNats() : undefined;
if (nats) {
  const mine = ours("a3s event (nats)", async () =>
    new EventBus({
      provider: await NatsProvider.connect({
        url: nats.url,
        stream: `OURS${crypto.randomUUID().slice(0, 8)}`,
        prefix: `o${crypto.randomUUID().slice(0, 8)}`,
      }),
    }));
  const result = await compare(mine, CONTROL ? mine : rawNats(nats.url), nats.pid);
  table("NATS JetStream", "a3s event", CONTROL ? "a3s event again" : "raw nats", result);
  await nats.stop();
}

const redis = BROKERS.has("redis") ? await startRedis() : undefined;
if (redis) {
  const mine = ours("a3s event (redis)", async () =>
    new EventBus({
      provider: await RedisProvider.connect({
        url: redis.url,
        prefix: `o${crypto.randomUUID().slice(0, 8)}`,
      }),
    }));
  const baselineFile = Deno.env.get("EVENT_BENCH_REDIS_BASELINE");
  const baseline = baselineFile
    ? (await import(toFileUrl(resolve(baselineFile)).href) as {
      RedisProvider: typeof RedisProvider;
    }).RedisProvider
    : undefined;
  const theirs = baseline
    ? ours("baseline (redis)", async () =>
      new EventBus({
        provider: await baseline.connect({
          url: redis.url,
          prefix: `b${crypto.randomUUID().slice(0, 8)}`,
        }),
      }))
    : CONTROL
    ? mine
    : rawRedis(redis.url);
  const result = await compare(mine, theirs, redis.pid);
  const peerName = baseline ? "baseline" : CONTROL ? "a3s event again" : "raw ioredis";
  table("Redis Streams", "a3s event", peerName, result);
  await redis.stop();
}

const database = BROKERS.has("pg") ? await createTestDatabase("a3s_event_bench") : undefined;
if (database) {
  const store = await openStore({ databaseUrl: database.url, poolSize: 8 });
  try {
    const result = await compare(
      ours("a3s event (store, pg)", async () => {
        const provider = await StoreProvider.open({ store, listenUrl: database.url });
        const bus = new EventBus({ provider });
        // The store is shared across rounds; closing the bus must not close it.
        return bus;
      }),
      pgBoss(database.url),
      // A PostgreSQL reached by URL: no process to watch, a fixed pause instead.
      () => undefined,
      PG_STEP,
    );
    table("PostgreSQL", "a3s event (store)", "pg-boss (polling)", result);
  } finally {
    await store.close();
    await database.drop();
  }
} else if (BROKERS.has("pg")) {
  console.log("SKIPPED: PostgreSQL comparison (no PostgreSQL reachable)");
}
await background?.stop();
