/**
 * A worker for the two-process PostgreSQL test: runs `work` jobs under shared limits and
 * records each run's start and end in `lane_test_runs`, then exits when the queues are empty.
 * It prints "ready" once connected and starts claiming when its stdin closes.
 *
 * Usage: deno run -A pg_worker.ts DATABASE_URL WORKER_NAME
 */
import { openStore } from "@a3s/common";
import { sql } from "kysely";
import { DurableLane } from "../durable_lane.ts";
import { SHARED_LIMITS } from "./pg_limits.ts";

const [url, name] = Deno.args;
const store = await openStore({ databaseUrl: url, poolSize: 4 });
// each worker may fill only half the global limit, so both must take part
const lane = await DurableLane.open({
  store,
  pollMs: 10,
  leaseMs: 10_000,
  workerId: name,
  workerConcurrency: SHARED_LIMITS.maxConcurrency / 2,
  ...SHARED_LIMITS,
});
const db = store.db<Record<string, never>>();
// both workers start claiming together, so a slow start cannot leave one of them idle
console.log("ready");
await Deno.stdin.readable.pipeTo(new WritableStream());
lane.handle("work", async (ctx) => {
  const started = performance.timeOrigin + performance.now();
  await new Promise((resolve) => setTimeout(resolve, (ctx.payload as { ms: number }).ms));
  const ended = performance.timeOrigin + performance.now();
  await sql`insert into lane_test_runs (job_id, worker, session, lane, limit_key, started_at, ended_at)
    values (${ctx.id}, ${name}, ${ctx.session}, ${ctx.lane}, ${(ctx.payload as { key: string | null }).key},
      ${started}, ${ended})`.execute(db);
  return name;
});
await lane.drain();
await lane.close();
await store.close();
