/**
 * Redis publish at each fixed number of calls in flight, the tuner, and raw `XADD`, in the same
 * interleaved rounds: `deno run -A event/bench/redis_depths.ts`. It answers which depth is best
 * at the machine's present load and whether the tuner finds it.
 *
 * Settings: `EVENT_BENCH_EVENTS` (10,000 a run), `EVENT_BENCH_ROUNDS` (7, after one unmeasured),
 * `EVENT_BENCH_DEPTHS` (`1,2,3,4`: the fixed depths), `EVENT_BENCH_VERBOSE=1` (print each of the
 * tuner's trials), `EVENT_BENCH_REDIS_BASELINE=<file>` (also another version of the provider, as
 * in `event_bench.ts`), and `EVENT_BENCH_BUSY=N` (N busy loops beside it).
 *
 * Each round runs every side once, in an order rotated by one each round, each on a fresh
 * provider and key prefix; a side's figure is the median of its rounds, and its overhead is the
 * median of its per-round ratios to raw (the same round, so a load change reaches both).
 */
import { Redis } from "ioredis";
import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EventBus } from "../bus.ts";
import { RedisProvider, type RedisProviderOptions } from "../providers/redis.ts";
import { startRedis } from "../_brokers.ts";
import { backgroundLoadFromEnv } from "./_background_load.ts";

const EVENTS = Number(Deno.env.get("EVENT_BENCH_EVENTS") ?? 10000);
const ROUNDS = Number(Deno.env.get("EVENT_BENCH_ROUNDS") ?? 7);
const DEPTHS = (Deno.env.get("EVENT_BENCH_DEPTHS") ?? "1,2,3,4").split(",").map(Number);
const VERBOSE = Deno.env.get("EVENT_BENCH_VERBOSE") === "1";
/** Publishes in flight, as in `event_bench.ts`. */
const WINDOW = 32;
const payload = (i: number) => ({ i, text: "x".repeat(200) });

/** One side: publishes one event, resolving when Redis holds it. */
interface Side {
  name: string;
  open: () => Promise<{ publish: (i: number) => Promise<unknown>; close: () => Promise<void> }>;
}

/** Publishes per second with WINDOW in flight, and this process's CPU µs per event. */
async function publishRun(publish: (i: number) => Promise<unknown>) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < EVENTS) await publish(next++);
  }));
  const used = process.cpuUsage(cpu);
  return {
    rate: EVENTS / ((performance.now() - started) / 1000),
    cpu: (used.user + used.system) / EVENTS,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const background = backgroundLoadFromEnv();
const started = await startRedis();
if (!started) {
  console.log("SKIPPED: no redis-server");
  Deno.exit(0);
}
const redis = started;

function bus(
  name: string,
  connect: typeof RedisProvider.connect,
  options: Partial<RedisProviderOptions>,
): Side {
  return {
    name,
    open: async () => {
      const provider = await connect({
        url: redis.url,
        prefix: `d${crypto.randomUUID().slice(0, 8)}`,
        ...options,
      });
      const events = new EventBus({ provider });
      return {
        publish: (i) => events.publish("bench.e", payload(i)),
        close: async () => {
          await (provider as { destroy?: () => Promise<void> }).destroy?.();
          await events.close();
        },
      };
    },
  };
}

const sides: Side[] = [{
  name: "raw XADD",
  open: () => {
    const client = new Redis(redis.url);
    const key = `raw:${crypto.randomUUID().slice(0, 8)}`;
    // The same bytes as the bus's event (a CloudEvent around the payload), built per publish.
    const publish = (i: number) =>
      client.xadd(
        key,
        "*",
        "e",
        JSON.stringify({
          specversion: "1.0",
          id: crypto.randomUUID(),
          source: "bench",
          type: "bench.e",
          subject: "bench.e",
          time: new Date().toISOString(),
          datacontenttype: "application/json",
          data: payload(i),
        }),
      );
    return Promise.resolve({
      publish,
      close: async () => {
        await client.del(key);
        client.disconnect();
      },
    });
  },
}];
for (const [k, depth] of DEPTHS.entries()) {
  // A depth named twice runs twice (an A/A pair: the noise floor of the comparison).
  const again = DEPTHS.indexOf(depth) < k ? " again" : "";
  sides.push(
    bus(`fixed ${depth}${again}`, RedisProvider.connect.bind(RedisProvider), {
      publishCallsInFlight: depth,
      tuneCallsInFlight: false,
    }),
  );
}
sides.push(bus("tuner", RedisProvider.connect.bind(RedisProvider), {
  onTunerDecision: VERBOSE
    ? (d) =>
      console.log(
        `  tuner: held ${d.held} ${d.heldRate.toFixed(2)}/ms, tried ${d.tried} ${
          d.triedRate.toFixed(2)
        }/ms -> ${d.winner} for ${d.hold}`,
      )
    : undefined,
}));
const baselineFile = Deno.env.get("EVENT_BENCH_REDIS_BASELINE");
if (baselineFile) {
  const baseline = (await import(pathToFileURL(resolve(baselineFile)).href) as {
    RedisProvider: typeof RedisProvider;
  }).RedisProvider;
  sides.push(bus("baseline", baseline.connect.bind(baseline), {}));
}

/** The server's own CPU seconds so far (user + system), from `INFO cpu`. */
const monitor = new Redis(redis.url);
async function serverCpu(): Promise<number> {
  const info = await monitor.info("cpu");
  const field = (name: string) => Number(info.match(new RegExp(`^${name}:([0-9.]+)`, "m"))?.[1]);
  return field("used_cpu_user") + field("used_cpu_sys");
}

const serverCpus = new Map<string, number[]>(sides.map((s) => [s.name, []]));
const rates = new Map<string, number[]>(sides.map((s) => [s.name, []]));
const cpus = new Map<string, number[]>(sides.map((s) => [s.name, []]));
const ratios = new Map<string, number[]>(sides.map((s) => [s.name, []]));
for (let round = -1; round < ROUNDS; round++) {
  const order = sides.map((_, k) => sides[(k + Math.max(round, 0)) % sides.length]);
  const thisRound = new Map<string, number>();
  for (const side of order) {
    const opened = await side.open();
    const serverBefore = await serverCpu();
    const figures = await publishRun(opened.publish);
    const serverUsed = await serverCpu() - serverBefore;
    await opened.close();
    if (round >= 0) serverCpus.get(side.name)!.push(serverUsed * 1e6 / EVENTS);
    thisRound.set(side.name, figures.rate);
    if (round >= 0) {
      rates.get(side.name)!.push(figures.rate);
      cpus.get(side.name)!.push(figures.cpu);
    }
  }
  if (round < 0) continue;
  const raw = thisRound.get("raw XADD")!;
  for (const [name, rate] of thisRound) ratios.get(name)!.push(raw / rate - 1);
  if (VERBOSE) {
    console.log(
      `round ${round}: ` +
        [...thisRound].map(([name, rate]) => `${name} ${Math.round(rate)}`).join(", "),
    );
  }
}
console.log(`load ${Deno.loadavg().map((n) => n.toFixed(2)).join(" ")}`);
console.log("side            publish/s  behind raw  CPU µs/event  server µs/event");
for (const side of sides) {
  console.log(
    `${side.name.padEnd(14)} ${Math.round(median(rates.get(side.name)!)).toString().padStart(9)}  ${
      (median(ratios.get(side.name)!) * 100).toFixed(1).padStart(9)
    }%  ${median(cpus.get(side.name)!).toFixed(1).padStart(11)}  ${
      median(serverCpus.get(side.name)!).toFixed(1).padStart(15)
    }`,
  );
}
monitor.disconnect();
await redis.stop();
await background?.stop();
