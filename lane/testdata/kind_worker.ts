/**
 * A worker for the test of processes that handle different kinds on one store: it registers a
 * handler for one kind only, whose result names the worker, prints "ready", and runs jobs
 * until its stdin closes.
 *
 * Usage: deno run -A kind_worker.ts STORE WORKER_NAME KIND
 * (STORE: a postgres:// URL, else a SQLite file path)
 */
import { openStore } from "@a3s/common";
import { DurableLane } from "../durable_lane.ts";

const [target, name, kind] = Deno.args;
const store = await openStore(
  /^postgres(ql)?:/.test(target) ? { databaseUrl: target, poolSize: 2 } : { sqlitePath: target },
);
const lane = await DurableLane.open({ store, pollMs: 10, leaseMs: 2_000, workerId: name });
lane.handle(kind, () => name);
console.log("ready");
await Deno.stdin.readable.pipeTo(new WritableStream());
await lane.close();
await store.close();
