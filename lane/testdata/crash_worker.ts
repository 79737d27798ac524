/**
 * A worker for the crash test: optionally submits N durable jobs, then runs them until none
 * is left. Each handler call appends the job's number to a log with a plain write(2) on an
 * O_APPEND descriptor: the kernel keeps it through a kill -9 of this process.
 *
 * Usage: deno run -A crash_worker.ts DB_PATH LOG_PATH COUNT
 */
import { openStore } from "@a3s/common";
import { DurableLane } from "../durable_lane.ts";

const [dbPath, logPath, countText] = Deno.args;
const count = Number(countText ?? "0");
const store = await openStore({ sqlitePath: dbPath });
const lane = await DurableLane.open({
  store,
  leaseMs: 1_000,
  pollMs: 10,
  lanes: { query: { maxConcurrency: 64 } },
  // the test reads every completed row back, so none may be pruned
  retention: { completed: {} },
});
const log = Deno.openSync(logPath, { append: true, create: true });
const encoder = new TextEncoder();
lane.handle("record", async (ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  log.writeSync(encoder.encode(`${(ctx.payload as { n: number }).n}\n`));
  return null;
});
if (count > 0) {
  for (let start = 0; start < count; start += 1_000) {
    const chunk = [];
    for (let n = start; n < Math.min(count, start + 1_000); n++) {
      chunk.push({ session: `s${n % 16}`, lane: "query" as const, work: { kind: "record", payload: { n } } });
    }
    await lane.submitMany(chunk);
  }
  console.log("submitted");
}
await lane.drain();
await lane.close();
log.close();
await store.close();
console.log("drained");
