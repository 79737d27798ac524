/**
 * Crash recovery: kill -9 a worker in the middle of a burst of 10,000 durable SQLite jobs,
 * restart it on the same file, and check every job ran, with repeats only for jobs the store
 * had not recorded as completed when the process died (at-least-once).
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import type { LaneTables } from "./_schema.ts";

const WORKER = new URL("./testdata/crash_worker.ts", import.meta.url).pathname;
const JOBS = 10_000;

function spawnWorker(db: string, log: string, count: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, db, log, String(count)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function lines(path: string): Promise<number[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map(Number);
}

Deno.test("kill -9 mid-burst of 10,000 durable jobs: all complete, repeats only for in-flight jobs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lane_crash_" });
  const db = `${dir}/a3s.db`;
  const log = `${dir}/runs.log`;
  try {
    const first = spawnWorker(db, log, JOBS);
    const deadline = Date.now() + 60_000;
    while ((await lines(log)).length < 2_000) {
      assert(Date.now() < deadline, "the first worker never got going");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // kill while the store shows leased jobs, so recovery has in-flight work to take over
    const watcher = await openStore({ sqlitePath: db });
    for (;;) {
      const { n } = await watcher.db<LaneTables>().selectFrom("lane_jobs")
        .select((eb) => eb.fn.countAll<number>().as("n")).where("state", "=", "running")
        .executeTakeFirstOrThrow();
      if (Number(n) > 0 || Date.now() > deadline) break;
    }
    first.kill("SIGKILL");
    await watcher.close();
    const status = await first.status;
    assertEquals(status.signal, "SIGKILL");

    const store = await openStore({ sqlitePath: db });
    const rows = await store.db<LaneTables>().selectFrom("lane_jobs")
      .select(["payload", "state"]).execute();
    await store.close();
    assertEquals(rows.length, JOBS, "every submitted job was stored before the kill");
    const completedAtKill = new Set(
      rows.filter((r) => r.state === "completed").map((r) => JSON.parse(r.payload).n as number),
    );
    const runningAtKill = rows.filter((r) => r.state === "running").length;
    assert(completedAtKill.size > 0 && completedAtKill.size < JOBS, "the kill came mid-burst");
    assert(runningAtKill > 0, "jobs were in flight at the kill");

    const second = spawnWorker(db, log, 0);
    const secondStatus = await second.status;
    assertEquals(secondStatus.code, 0);

    const runs = new Map<number, number>();
    for (const n of await lines(log)) runs.set(n, (runs.get(n) ?? 0) + 1);
    for (let n = 0; n < JOBS; n++) assert(runs.has(n), `job ${n} never ran`);
    assertEquals(runs.size, JOBS);
    const repeated = [...runs].filter(([, times]) => times > 1).map(([n]) => n);
    for (const n of repeated) {
      assert(!completedAtKill.has(n), `job ${n} was completed before the kill yet ran again`);
      assert(runs.get(n)! <= 2, `job ${n} ran ${runs.get(n)} times`);
    }
    // repeats are bounded by what was in flight: leased, or finished but not yet written
    assert(
      repeated.length <= runningAtKill,
      `${repeated.length} repeats but only ${runningAtKill} jobs were in flight`,
    );

    const after = await openStore({ sqlitePath: db });
    const states = await after.db<LaneTables>().selectFrom("lane_jobs")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")]).groupBy("state").execute();
    await after.close();
    assertEquals(states.map((s) => [s.state, Number(s.n)]), [["completed", JOBS]]);
    console.log(
      `crash: ${JOBS - completedAtKill.size} jobs left at the kill, ${runningAtKill} in flight, ` +
        `${repeated.length} ran twice`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
