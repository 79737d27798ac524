/**
 * Lane benchmarks, each beside its peer from the same run:
 * - no-op jobs/s in memory against p-queue (same concurrency);
 * - durable jobs/s on SQLite;
 * - durable jobs/s on PostgreSQL against pg-boss on the same database;
 * - scheduling latency p50/p99 of control-lane jobs while the prompt lane is saturated.
 *
 * Run: deno bench -A lane/bench/
 */
import PQueue from "p-queue";
import { PgBoss } from "pg-boss";
import { openStore, type Store } from "@a3s/common";
import { createLane } from "../create.ts";
import type { DurableLane } from "../durable_lane.ts";
import type { MemoryLane } from "../memory_lane.ts";
import { createTestDatabase, type TestDatabase } from "@a3s/common/testing";

const CONCURRENCY = 10;
const MEMORY_JOBS = 10_000;
const DURABLE_JOBS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rate = (jobs: number, ms: number) => Math.round(jobs / (ms / 1000));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// ---- in memory against p-queue ------------------------------------------------------------

const memoryLane: MemoryLane = createLane({
  maxConcurrency: CONCURRENCY,
  lanes: { query: { maxConcurrency: CONCURRENCY } },
});
const queue = new PQueue({ concurrency: CONCURRENCY });

async function laneNoops(jobs: number): Promise<void> {
  const results: Promise<unknown>[] = new Array(jobs);
  for (let i = 0; i < jobs; i++) {
    results[i] = memoryLane.submitNow("bench", "query", () => Promise.resolve(i)).result;
  }
  await Promise.all(results);
}

async function pQueueNoops(jobs: number): Promise<void> {
  const results: Promise<unknown>[] = new Array(jobs);
  for (let i = 0; i < jobs; i++) results[i] = queue.add(() => Promise.resolve(i));
  await Promise.all(results);
}

// interleaved rounds, so both see the same machine load; the median round is reported, which
// a burst of load from other processes moves less than a total would
{
  const laneRounds: number[] = [];
  const peerRounds: number[] = [];
  for (let round = 0; round < 40; round++) {
    let start = performance.now();
    await laneNoops(MEMORY_JOBS);
    const laneMs = performance.now() - start;
    start = performance.now();
    await pQueueNoops(MEMORY_JOBS);
    const peerMs = performance.now() - start;
    if (round >= 5) {
      laneRounds.push(laneMs);
      peerRounds.push(peerMs);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  const ratios = laneRounds.map((ms, i) => peerRounds[i] / ms);
  console.log(
    `in-memory no-op jobs/s (concurrency ${CONCURRENCY}, median of ${laneRounds.length} rounds): ` +
      `lane ${rate(MEMORY_JOBS, median(laneRounds))}, p-queue ${
        rate(MEMORY_JOBS, median(peerRounds))
      }, ` +
      `ratio ${median(ratios).toFixed(2)}x`,
  );
}

Deno.bench("p-queue: 10,000 no-op jobs", { group: "memory", baseline: true }, async () => {
  await pQueueNoops(MEMORY_JOBS);
});
Deno.bench("lane (memory): 10,000 no-op jobs", { group: "memory" }, async () => {
  await laneNoops(MEMORY_JOBS);
});

// ---- durable: SQLite ------------------------------------------------------------------------

async function durableRun(lane: DurableLane, jobs: number): Promise<number> {
  const start = performance.now();
  const handles = await lane.submitMany(
    Array.from({ length: jobs }, (_, i) => ({
      session: `s${i % 8}`,
      lane: "query" as const,
      work: { kind: "noop", payload: i },
    })),
  );
  await Promise.all(handles.map((h) => h.result));
  return performance.now() - start;
}

async function openDurable(store: Store): Promise<DurableLane> {
  const lane = await createLane({
    store,
    pollMs: 5,
    maxConcurrency: 128,
    lanes: { query: { maxConcurrency: 128 } },
  });
  lane.handle("noop", () => null);
  return lane;
}

const sqliteDir = await Deno.makeTempDir({ prefix: "lane_bench_" });
const sqliteStore = await openStore({ sqlitePath: `${sqliteDir}/a3s.db` });
const sqliteLane = await openDurable(sqliteStore);
{
  await durableRun(sqliteLane, 200);
  const ms = await durableRun(sqliteLane, DURABLE_JOBS);
  console.log(`durable SQLite jobs/s (submit + run + complete): lane ${rate(DURABLE_JOBS, ms)}`);
}
Deno.bench("lane (SQLite): 2,000 durable jobs", { group: "sqlite", n: 3, warmup: 1 }, async () => {
  await durableRun(sqliteLane, DURABLE_JOBS);
});

// ---- durable: PostgreSQL against pg-boss ----------------------------------------------------

const database: TestDatabase | undefined = await createTestDatabase("lane_bench");
let pgStore: Store | undefined;
let pgLane: DurableLane | undefined;
let boss: PgBoss | undefined;

async function bossRun(jobs: number): Promise<number> {
  const name = `bench_${crypto.randomUUID().slice(0, 8)}`;
  await boss!.createQueue(name);
  const start = performance.now();
  const { promise: finished, resolve } = Promise.withResolvers<void>();
  let done = 0;
  await boss!.work(name, {
    batchSize: 64,
    pollingIntervalSeconds: 0.5,
    burstWhenBatchFull: true,
    localConcurrency: 2,
  }, (batch: unknown[]) => {
    done += batch.length;
    if (done >= jobs) resolve();
    return Promise.resolve();
  });
  for (let i = 0; i < jobs; i += 500) {
    await boss!.insert(
      name,
      Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({ data: { i: i + k } })),
    );
  }
  await finished;
  const ms = performance.now() - start;
  await boss!.offWork(name);
  return ms;
}

if (database) {
  pgStore = await openStore({ databaseUrl: database.url, poolSize: 8 });
  pgLane = await openDurable(pgStore);
  boss = new PgBoss({ connectionString: database.url, supervise: false, schedule: false });
  boss.on("error", (error: unknown) => console.error(`pg-boss: ${error}`));
  await boss.start();
  await durableRun(pgLane, 200);
  await bossRun(200);
  // interleaved rounds, median of each, so both see the same database and machine load
  const laneRuns: number[] = [];
  const bossRuns: number[] = [];
  for (let round = 0; round < 3; round++) {
    laneRuns.push(await durableRun(pgLane, DURABLE_JOBS));
    bossRuns.push(await bossRun(DURABLE_JOBS));
  }
  const median = (runs: number[]) => runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  console.log(
    `durable PostgreSQL jobs/s (same database, median of 3): ` +
      `lane ${rate(DURABLE_JOBS, median(laneRuns))}, pg-boss ${
        rate(DURABLE_JOBS, median(bossRuns))
      }`,
  );
  Deno.bench(
    "pg-boss: 2,000 jobs",
    { group: "postgres", baseline: true, n: 3, warmup: 1 },
    async () => {
      await bossRun(DURABLE_JOBS);
    },
  );
  Deno.bench(
    "lane (PostgreSQL): 2,000 durable jobs",
    { group: "postgres", n: 3, warmup: 1 },
    async () => {
      await durableRun(pgLane!, DURABLE_JOBS);
    },
  );
} else {
  console.log("SKIPPED: PostgreSQL benchmarks (no PostgreSQL reachable)");
}

// ---- scheduling latency under load ----------------------------------------------------------

/** Submits control jobs while prompt jobs keep every slot busy; returns submit-to-start times. */
async function latencyUnderLoad(
  submit: (lane: "prompt" | "control", started: (at: number) => void) => Promise<unknown>,
  probes: number,
  gapMs: number,
): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < probes; i++) {
    for (let k = 0; k < 20; k++) pending.push(submit("prompt", () => {}));
    const submitted = performance.now();
    pending.push(submit("control", (at) => latencies.push(at - submitted)));
    await sleep(gapMs);
  }
  await Promise.all(pending);
  return latencies.sort((a, b) => a - b);
}

{
  const lane = createLane({ maxConcurrency: 16, lanes: { prompt: { maxConcurrency: 16 } } });
  const latencies = await latencyUnderLoad(
    async (name, started) => {
      const handle = lane.submitNow("load", name, async () => {
        started(performance.now());
        await sleep(1);
      });
      await handle.result;
    },
    400,
    2,
  );
  console.log(
    `scheduling latency, memory, control lane under prompt load: ` +
      `p50 ${percentile(latencies, 0.5).toFixed(3)} ms, p99 ${
        percentile(latencies, 0.99).toFixed(3)
      } ms`,
  );
  await lane.close();
}
{
  const lane = await createLane({
    store: sqliteStore,
    pollMs: 5,
    maxConcurrency: 16,
    lanes: { prompt: { maxConcurrency: 16 } },
  });
  const starts = new Map<number, (at: number) => void>();
  let next = 0;
  lane.handle<number>("probe", async (ctx) => {
    starts.get(ctx.payload)?.(performance.now());
    await sleep(1);
  });
  const latencies = await latencyUnderLoad(
    async (name, started) => {
      const id = next++;
      starts.set(id, started);
      const handle = await lane.submit("load", name, { kind: "probe", payload: id });
      await handle.result;
    },
    100,
    10,
  );
  console.log(
    `scheduling latency, durable SQLite, control lane under prompt load: ` +
      `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${
        percentile(latencies, 0.99).toFixed(1)
      } ms`,
  );
  await lane.close();
}

globalThis.addEventListener("unload", () => {
  // deno bench has no teardown hook; the data dir is removed and connections dropped on exit
  try {
    Deno.removeSync(sqliteDir, { recursive: true });
  } catch {
    // already gone
  }
});
export { boss, database, pgLane, pgStore, sqliteLane };
