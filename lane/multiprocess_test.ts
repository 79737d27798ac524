/**
 * Two worker processes on one real PostgreSQL share the queues: no job runs twice, both do
 * work, and the global, lane, session and key limits hold across them, as measured from the
 * runs each handler recorded. And two processes that handle different kinds, on SQLite and
 * PostgreSQL: each claims only jobs of the kinds it has handlers for.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { openStore, type Store } from "@a3s/common";
import type { JobInfo } from "./types.ts";
import { sql } from "kysely";
import { createTestDatabase } from "@a3s/common/testing";
import { DurableLane } from "./durable_lane.ts";
import { LANE_NAMES } from "./lanes.ts";
import { SHARED_LIMITS } from "./testdata/pg_limits.ts";

const WORKER = new URL("./testdata/pg_worker.ts", import.meta.url).pathname;
const JOBS = 240;

interface Run {
  job_id: string;
  worker: string;
  session: string;
  lane: string;
  limit_key: string | null;
  started_at: number;
  ended_at: number;
}

/** The most runs overlapping at any instant among those `keep` selects. */
function peak(runs: Run[], keep: (run: Run) => boolean): number {
  const edges: [number, number][] = [];
  for (const run of runs.filter(keep)) edges.push([run.started_at, 1], [run.ended_at, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, delta] of edges) most = Math.max(most, now += delta);
  return most;
}

Deno.test("two processes on one PostgreSQL: each job once, limits hold across processes", async () => {
  const database = await createTestDatabase("lane_mp");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url, poolSize: 2 });
  try {
    const submitter = await DurableLane.open({ store, process: false });
    submitter.handle("work", () => null);
    await sql`create table lane_test_runs (job_id text, worker text, session text, lane text,
      limit_key text, started_at double precision, ended_at double precision)`.execute(store.db());
    const submissions = Array.from({ length: JOBS }, (_, i) => {
      const key = i % 3 === 0 ? "gpu" : null;
      return {
        session: `s${i % 5}`,
        lane: i % 2 === 0 ? "query" as const : "prompt" as const,
        work: { kind: "work", payload: { ms: 2 + (i % 4) * 3, key } },
        options: { key: key ?? undefined },
      };
    });
    const handles = await submitter.submitMany(submissions);

    const workers = ["alpha", "beta"].map((name) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", WORKER, database.url, name],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn()
    );
    for (const worker of workers) {
      const reader = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let said = "";
      while (!said.includes("ready")) {
        const { value, done } = await reader.read();
        assert(!done, "a worker exited before it was ready");
        said += value;
      }
      reader.releaseLock();
    }
    for (const worker of workers) await worker.stdin.close();
    const statuses = await Promise.all(workers.map((w) => w.status));
    assertEquals(statuses.map((s) => s.code), [0, 0]);
    await submitter.close();

    const results = await Promise.all(handles.map((h) => submitter.get(h.id)));
    assertEquals(results.filter((r) => r?.state === "completed").length, JOBS);

    const runs = (await sql<Run>`select * from lane_test_runs`.execute(store.db())).rows.map(
      (r) => ({ ...r, started_at: Number(r.started_at), ended_at: Number(r.ended_at) }),
    );
    assertEquals(runs.length, JOBS, "every job ran exactly once");
    assertEquals(new Set(runs.map((r) => r.job_id)).size, JOBS);
    const byWorker = new Map<string, number>();
    for (const run of runs) byWorker.set(run.worker, (byWorker.get(run.worker) ?? 0) + 1);
    assert((byWorker.get("alpha") ?? 0) > 0 && (byWorker.get("beta") ?? 0) > 0, "both ran jobs");

    const globalPeak = peak(runs, () => true);
    assert(globalPeak <= SHARED_LIMITS.maxConcurrency, `global peak ${globalPeak}`);
    for (const lane of LANE_NAMES) {
      const limit = (SHARED_LIMITS.lanes as Record<string, { maxConcurrency: number }>)[lane]
        ?.maxConcurrency;
      if (limit === undefined) continue;
      const lanePeak = peak(runs, (r) => r.lane === lane);
      assert(lanePeak <= limit, `${lane} peak ${lanePeak} over ${limit}`);
    }
    for (let s = 0; s < 5; s++) {
      const sessionPeak = peak(runs, (r) => r.session === `s${s}`);
      assert(sessionPeak <= SHARED_LIMITS.sessionConcurrency, `session s${s} peak ${sessionPeak}`);
    }
    const gpuPeak = peak(runs, (r) => r.limit_key === "gpu");
    assert(gpuPeak <= SHARED_LIMITS.keyConcurrency.gpu, `gpu peak ${gpuPeak}`);
    const crossProcess = peak(runs, () => true);
    console.log(
      `two workers: ${
        JSON.stringify(Object.fromEntries(byWorker))
      }, global peak ${crossProcess}, ` +
        `gpu peak ${gpuPeak}`,
    );
  } finally {
    await store.close();
    await database.drop();
  }
});

/** Starts a kind worker and waits until it says it is ready. */
async function startKindWorker(target: string, name: string, kind: string) {
  const KIND_WORKER = new URL("./testdata/kind_worker.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", KIND_WORKER, target, name, kind],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("ready")) {
    const { value, done } = await reader.read();
    assert(!done, `worker ${name} exited before it was ready`);
    said += value;
  }
  reader.releaseLock();
  return child;
}

async function kindsApart(target: string, store: Store): Promise<void> {
  const submitter = await DurableLane.open({ store, process: false });
  for (const kind of ["a", "b"]) {
    submitter.handle(kind, () => {
      throw new Error("a process: false scheduler runs no jobs");
    });
  }
  const handles = await submitter.submitMany(
    Array.from({ length: 24 }, (_, i) => ({
      session: `s${i % 3}`,
      lane: i % 2 === 0 ? "query" as const : "skill" as const,
      work: { kind: i % 4 < 2 ? "a" : "b" },
    })),
  );
  const jobs = async () =>
    await Promise.all(handles.map(async (h) => (await submitter.get(h.id))!));
  const waitUntil = async (done: (jobs: JobInfo[]) => boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    while (!done(await jobs())) {
      assert(Date.now() < deadline, `${what} did not happen within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const workers = [await startKindWorker(target, "alpha", "a")];
  try {
    await waitUntil(
      (all) => all.filter((j) => j.kind === "a").every((j) => j.state === "completed"),
      "alpha finishing the a jobs",
    );
    // alpha had every b job in reach while it worked, and took none of them
    for (const job of (await jobs()).filter((j) => j.kind === "b")) {
      assertEquals([job.state, job.attempts, job.errors], ["queued", 0, []], job.id);
    }
    workers.push(await startKindWorker(target, "beta", "b"));
    await waitUntil(
      (all) => all.every((j) => j.state === "completed"),
      "beta finishing the b jobs",
    );
  } finally {
    for (const worker of workers) await worker.stdin.close();
    const statuses = await Promise.all(workers.map((w) => w.status));
    await submitter.close();
    assertEquals(statuses.map((s) => s.code), workers.map(() => 0));
  }
  for (const job of await jobs()) {
    const runner = job.kind === "a" ? "alpha" : "beta";
    assertEquals([job.result, job.attempts, job.errors], [runner, 1, []], job.id);
  }
}

Deno.test("two processes on one SQLite file, each with its own kinds: none claims the other's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lane_kinds_" });
  const path = `${dir}/a3s.db`;
  const store = await openStore({ sqlitePath: path });
  try {
    await kindsApart(path, store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two processes on one PostgreSQL, each with its own kinds: none claims the other's", async () => {
  const database = await createTestDatabase("lane_kinds");
  if (!database) return;
  const store = await openStore({ databaseUrl: database.url, poolSize: 2 });
  try {
    await kindsApart(database.url, store);
  } finally {
    await store.close();
    await database.drop();
  }
});
