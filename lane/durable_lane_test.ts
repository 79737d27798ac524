import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { NotFoundError, openStore, type Store } from "@a3s/common";
import { createTestDatabase } from "@a3s/common/testing";
import { createLane } from "./create.ts";
import type { DurableLane, DurableLaneOptions } from "./durable_lane.ts";
import type { LaneEvent } from "./types.ts";
import type { LaneTables } from "./_schema.ts";
import { newJobRow } from "./_rows.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Backend {
  name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> } | undefined>;
}

const BACKENDS: Backend[] = [
  {
    name: "sqlite",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "lane_durable_" });
      const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
      return {
        store,
        async cleanup() {
          await store.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
  {
    name: "postgres",
    async open() {
      const database = await createTestDatabase("lane_t");
      if (!database) return undefined;
      const store = await openStore({ databaseUrl: database.url, poolSize: 4 });
      return {
        store,
        async cleanup() {
          await store.close();
          await database.drop();
        },
      };
    },
  },
];

/** A scheduler bug must fail a test loudly, never hang the suite. */
const TEST_DEADLINE_MS = 60_000;
const CLEANUP_DEADLINE_MS = 15_000;

async function withinDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${what} did not finish within ${ms / 1000} s: a job or waiter hangs`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function durableTest(
  name: string,
  body: (
    open: (options?: Partial<DurableLaneOptions>) => Promise<DurableLane>,
    store: Store,
  ) => Promise<void>,
): void {
  for (const backend of BACKENDS) {
    Deno.test(`${backend.name}: ${name}`, async () => {
      const opened = await backend.open();
      if (!opened) return;
      const lanes: DurableLane[] = [];
      const open = async (options: Partial<DurableLaneOptions> = {}) => {
        const lane = await createLane(
          { store: opened.store, pollMs: 10, ...options } as DurableLaneOptions,
        );
        lanes.push(lane);
        return lane;
      };
      try {
        await withinDeadline(body(open, opened.store), TEST_DEADLINE_MS, `'${name}'`);
      } finally {
        await withinDeadline(
          (async () => {
            for (const lane of lanes) await lane.close();
            await opened.cleanup();
          })(),
          CLEANUP_DEADLINE_MS,
          `closing the lanes of '${name}'`,
        );
      }
    });
  }
}

durableTest("a job of a registered kind runs and its result is stored", async (open) => {
  const lane = await open();
  lane.handle<number[]>("sum", (ctx) => ctx.payload.reduce((a, b) => a + b, 0));
  const job = await lane.submit("s1", "query", { kind: "sum", payload: [1, 2, 3] });
  assertEquals(await job.result, 6);
  const info = (await lane.get(job.id))!;
  assertEquals(info.state, "completed");
  assertEquals(info.result, 6);
  assertEquals(info.attempts, 1);
  assertEquals(info.payload, [1, 2, 3]);
  await assertRejects(
    () => lane.submit("s1", "query", () => 1),
    Error,
    "durable jobs are {kind, payload}",
  );
  await assertRejects(() => lane.submit("s1", "query", { kind: "nope" }), Error, "no handler");
});

durableTest("strict lane order and priorities hold when claimed from the store", async (open) => {
  const submitter = await open({ process: false });
  const order: string[] = [];
  const record = (ctx: { payload: unknown }) => void order.push(ctx.payload as string);
  submitter.handle("record", record);
  const jobs = [];
  jobs.push(await submitter.submit("s", "prompt", { kind: "record", payload: "prompt" }));
  jobs.push(
    await submitter.submit("s", "skill", { kind: "record", payload: "skill-low" }, {
      priority: -1,
    }),
  );
  jobs.push(
    await submitter.submit("s", "skill", { kind: "record", payload: "skill-high" }, {
      priority: 5,
    }),
  );
  jobs.push(await submitter.submit("s", "system", { kind: "record", payload: "system" }));
  jobs.push(await submitter.submit("s", "control", { kind: "record", payload: "control" }));
  const worker = await open({ maxConcurrency: 1 });
  worker.handle("record", record);
  await Promise.all(jobs.map((job) => job.result));
  assertEquals(order, ["system", "control", "skill-high", "skill-low", "prompt"]);
});

durableTest(
  "retries with backoff, then the dead-letter queue: list, retry, purge",
  async (open) => {
    const lane = await open();
    const times: number[] = [];
    let healthy = false;
    lane.handle("flaky", () => {
      times.push(performance.now());
      if (!healthy) throw new Error(`down ${times.length}`);
      return "up";
    });
    const job = await lane.submit("s", "skill", { kind: "flaky" }, {
      retry: { maxAttempts: 3, backoff: "exponential", delayMs: 20 },
    });
    const error = await assertRejects(() => job.result, Error, "down 3");
    assert(error instanceof Error);
    assertEquals(times.length, 3);
    assert(times[1] - times[0] >= 18 && times[2] - times[1] >= 38, `gaps ${times}`);
    const dead = await lane.dlq.list();
    assertEquals(dead.map((j) => j.id), [job.id]);
    assertEquals(dead[0].errors.map((e) => e.message), ["down 1", "down 2", "down 3"]);
    healthy = true;
    await lane.dlq.retry(job.id);
    assertEquals(await lane.handleOf(job.id).result, "up");
    const info = (await lane.get(job.id))!;
    assertEquals(info.state, "completed");
    assertEquals(info.errors.length, 3, "the error history survives a requeue");

    healthy = false;
    const other = await lane.submit("t", "skill", { kind: "flaky" });
    await assertRejects(() => other.result, Error, "down");
    assertEquals(await lane.dlq.purge({ session: "t" }), 1);
    assertEquals(await lane.dlq.list(), []);
    assertEquals(await lane.get(other.id), undefined);
  },
);

durableTest("idempotency keys, dependencies, delays and cancellation", async (open) => {
  const lane = await open();
  const order: string[] = [];
  // independent jobs have no order of their own: "slow" waits for "fast" (on a loaded machine
  // a fixed sleep can end before "fast" is claimed), "join" must still wait for both
  let fastRan!: () => void;
  const fastDone = new Promise<void>((resolve) => fastRan = resolve);
  lane.handle<string>("step", async (ctx) => {
    if (ctx.payload === "slow") await fastDone;
    order.push(ctx.payload);
    if (ctx.payload === "fast") fastRan();
    return ctx.payload;
  });
  lane.handle("fail", () => {
    throw new Error("broken step");
  });
  const a = await lane.submit("plan", "skill", { kind: "step", payload: "slow" }, {
    idempotencyKey: "plan-a",
  });
  const again = await lane.submit("plan", "skill", { kind: "step", payload: "slow" }, {
    idempotencyKey: "plan-a",
  });
  assertEquals(again.id, a.id);
  const b = await lane.submit("plan", "skill", { kind: "step", payload: "fast" });
  const c = await lane.submit("plan", "skill", { kind: "step", payload: "join" }, {
    dependsOn: [a.id, b.id],
  });
  assertEquals(await c.result, "join");
  assertEquals(order, ["fast", "slow", "join"]);
  assertEquals((await lane.list({ session: "plan" })).length, 3);

  const broken = await lane.submit("plan", "skill", { kind: "fail" });
  const child = await lane.submit("plan", "skill", { kind: "step", payload: "x" }, {
    dependsOn: [broken.id],
  });
  await assertRejects(() => child.result, Error, "did not complete");
  assertEquals((await lane.get(child.id))?.state, "cancelled");

  const started = Date.now();
  const delayed = await lane.submit("plan", "query", { kind: "step", payload: "later" }, {
    delayMs: 60,
  });
  await delayed.result;
  assert(((await lane.get(delayed.id))!.startedAt ?? 0) - started >= 55);

  const parked = await lane.submit("plan", "query", { kind: "step", payload: "never" }, {
    delayMs: 10_000,
  });
  assertEquals(await parked.cancel(), true);
  await assertRejects(() => parked.result, Error, "cancelled");
  assertEquals((await lane.get(parked.id))?.state, "cancelled");
  assertEquals(await parked.cancel(), false);
});

durableTest("a running job is cancelled from another scheduler through the store", async (open) => {
  const worker = await open({ leaseMs: 300 });
  let aborted = false;
  worker.handle("wait", (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = true;
        reject(ctx.signal.reason);
      });
    }));
  const job = await worker.submit("s", "query", { kind: "wait" });
  while ((await worker.get(job.id))?.state !== "running") await sleep(5);
  const admin = await open({ process: false });
  assertEquals(await admin.cancel(job.id), true);
  await assertRejects(() => admin.handleOf(job.id).result, Error, "cancelled");
  assert(aborted);
  assertEquals((await admin.get(job.id))?.state, "cancelled");
});

durableTest(
  "an expired lease is reclaimed by another worker (crash recovery)",
  async (open, store) => {
    const submitter = await open({ process: false });
    submitter.handle("once", () => "done");
    const job = await submitter.submit("s", "query", { kind: "once" });
    // simulate a worker that claimed the job and died: its lease is already over
    await store.db<
      {
        lane_jobs: {
          id: string;
          state: string;
          lease_until: number;
          worker: string;
          attempts: number;
        };
      }
    >()
      .updateTable("lane_jobs")
      .set({ state: "running", lease_until: Date.now() - 1, worker: "dead-worker", attempts: 1 })
      .where("id", "=", job.id).execute();
    const worker = await open();
    worker.handle("once", () => "done");
    assertEquals(await job.result, "done");
    const info = (await worker.get(job.id))!;
    assertEquals(info.attempts, 2);
    assertEquals(info.errors.map((e) => e.code), ["lease_expired"]);
  },
);

durableTest("progress is stored and events are emitted", async (open) => {
  const lane = await open();
  const events: LaneEvent[] = [];
  lane.subscribe((event) => events.push(event));
  // the handler may read it before submit() returns, so it cannot be a const
  // deno-lint-ignore prefer-const
  let job: Awaited<ReturnType<typeof lane.submit>> | undefined;
  let seenByHandle: unknown;
  lane.handle("report", async (ctx) => {
    ctx.progress({ step: 1 });
    seenByHandle = job?.progress;
    await sleep(30);
    return "ok";
  });
  job = await lane.submit("s", "session", { kind: "report" });
  const seen: unknown[] = [];
  job.onProgress((value) => seen.push(value));
  await job.result;
  assertEquals(seenByHandle, { step: 1 }, "the handle sees progress while the job runs");
  assertEquals(job.progress, { step: 1 });
  assertEquals((await lane.get(job.id))?.progress, { step: 1 });
  assertEquals(
    events.filter((e) => e.jobId === job.id).map((e) => e.type),
    ["enqueued", "started", "progress", "completed"],
  );
  const stats = await lane.stats();
  assertEquals(stats.lanes.session.completed, 1);
});

durableTest("per-session and per-key limits hold in one process", async (open) => {
  const lane = await open({ sessionConcurrency: 2, keyConcurrency: { gpu: 1 } });
  let running = 0;
  let gpu = 0;
  let high = 0;
  let highGpu = 0;
  lane.handle<{ gpu: boolean }>("work", async (ctx) => {
    high = Math.max(high, ++running);
    if (ctx.payload.gpu) highGpu = Math.max(highGpu, ++gpu);
    await sleep(5);
    running--;
    if (ctx.payload.gpu) gpu--;
  });
  const handles = await lane.submitMany(
    Array.from({ length: 30 }, (_, i) => ({
      session: "one",
      lane: "query" as const,
      work: { kind: "work", payload: { gpu: i % 2 === 0 } },
      options: { key: i % 2 === 0 ? "gpu" : undefined },
    })),
  );
  await Promise.all(handles.map((h) => h.result));
  assert(high <= 2, `session high-water ${high}`);
  assert(highGpu <= 1, `gpu high-water ${highGpu}`);
  assertEquals(lane.highWater().sessions.one <= 2, true);
});

durableTest("jobs survive a restart of the scheduler", async (open, store) => {
  const first = await open({ process: false });
  first.handle("echo", (ctx) => ctx.payload);
  const job = await first.submit("s", "prompt", { kind: "echo", payload: { hello: "world" } });
  await first.close();
  const second = await createLane({ store, pollMs: 10 });
  second.handle("echo", (ctx) => ctx.payload);
  try {
    assertEquals(await second.handleOf(job.id).result, { hello: "world" });
  } finally {
    await second.close();
  }
});

durableTest("a timed-out attempt is aborted and retried under the stored policy", async (open) => {
  const lane = await open();
  let attempts = 0;
  lane.handle("slow-then-fast", (ctx) => {
    attempts++;
    if (ctx.attempt > 1) return "fast";
    return new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
    });
  });
  const job = await lane.submit("s", "skill", { kind: "slow-then-fast" }, {
    timeoutMs: 30,
    retry: { maxAttempts: 2, delayMs: 1 },
  });
  assertEquals(await job.result, "fast");
  assertEquals(attempts, 2);
  const info = (await lane.get(job.id))!;
  assertEquals(info.errors.map((e) => e.code), ["timeout"]);
});

durableTest("close hands running attempts back to the queue for the next worker", async (open) => {
  const first = await open({ closeTimeoutMs: 50 });
  first.handle("long", (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
    }));
  const job = await first.submit("s", "prompt", { kind: "long" });
  while ((await first.get(job.id))?.state !== "running") await sleep(5);
  await first.close();
  const handedBack = (await first.get(job.id))!;
  assertEquals([handedBack.state, handedBack.attempts], ["queued", 0]);
  const second = await open();
  second.handle("long", () => "finished elsewhere");
  assertEquals(await second.handleOf(job.id).result, "finished elsewhere");
});

durableTest(
  "retention prunes in batches, with dependency edges; a dependent of a pruned job still runs",
  async (open, store) => {
    const lane = await open({ retention: { completed: { maxCount: 0 } }, pruneMinAgeMs: 0 });
    const db = store.db<LaneTables>();
    const count = async (table: "lane_jobs" | "lane_job_deps") =>
      Number(
        (await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()).n,
      );
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    lane.handle("parent", async () => {
      await released;
      return 1;
    });
    lane.handle("child", () => "child ran");
    const parent = await lane.submit("s", "query", { kind: "parent" });
    const child = await lane.submit("s", "query", { kind: "child" }, { dependsOn: [parent.id] });
    assertEquals(await count("lane_job_deps"), 1);
    release();
    assertEquals(await child.result, "child ran");
    const emptied = async () => (await count("lane_jobs")) + (await count("lane_job_deps")) === 0;
    for (let i = 0; i < 500 && !(await emptied()); i++) await sleep(10);
    assertEquals([await count("lane_jobs"), await count("lane_job_deps")], [0, 0]);

    // more finished rows than one delete takes, as an upgraded store holds them
    const now = Date.now();
    const rows = Array.from({ length: 1_200 }, (_, n) => ({
      ...newJobRow({
        session: "old",
        lane: "prompt",
        rank: 5,
        kind: "parent",
        payload: n,
        retry: { maxAttempts: 1 },
        options: {},
        now: now - 3_000,
      }),
      state: "completed",
      finished_at: now - 2_000 + n,
    }));
    for (let i = 0; i < rows.length; i += 200) {
      await db.insertInto("lane_jobs").values(rows.slice(i, i + 200)).execute();
    }
    lane.handle("tick", () => null);
    await (await lane.submit("s", "query", { kind: "tick" })).result;
    for (let i = 0; i < 500 && (await count("lane_jobs")) > 0; i++) await sleep(10);
    assertEquals(await count("lane_jobs"), 0);
  },
);

durableTest(
  "a waiter on a job another process ran and pruned settles; a pruned or unknown id rejects",
  async (open, store) => {
    const db = store.db<LaneTables>();
    // A only submits; B runs "k" and keeps no finished job by count, only the minimum age
    const submitter = await open({ process: false });
    const worker = await open({ retention: { completed: { maxCount: 0 } } });
    submitter.handle("k", () => 42);
    worker.handle("k", () => 42);
    const elsewhere = await submitter.submit("s", "query", { kind: "k" });
    assertEquals(await withinDeadline(elsewhere.result, 5_000, "a job run elsewhere"), 42);
    const own = await worker.submit("s", "query", { kind: "k" });
    assertEquals(await own.result, 42);
    await sleep(100);
    assertEquals((await worker.get(own.id))?.state, "completed", "younger than the minimum age");

    // a row that goes while waited for (pruned elsewhere) rejects the waiter
    const later = await submitter.submit("s", "query", { kind: "k" }, { delayMs: 60_000 });
    const waited = later.result;
    await sleep(50);
    await db.deleteFrom("lane_jobs").where("id", "=", later.id).execute();
    const gone = await withinDeadline(
      assertRejects(() => waited, NotFoundError, "pruned"),
      5_000,
      "the waiter of a deleted job",
    );
    assertEquals(gone.field, "id");

    // a job pruned here, then asked for by id: rejects at the next poll, as an unknown id does
    const pruning = await open({ retention: { completed: { maxCount: 0 } }, pruneMinAgeMs: 0 });
    pruning.handle("p", () => "pruned soon");
    const short = await pruning.submit("s", "query", { kind: "p" });
    assertEquals(await short.result, "pruned soon");
    for (let i = 0; i < 300 && (await pruning.get(short.id)) !== undefined; i++) await sleep(10);
    assertEquals(await pruning.get(short.id), undefined);
    for (const id of [short.id, "no-such-job"]) {
      await withinDeadline(
        assertRejects(() => pruning.handleOf(id).result, NotFoundError, "not found"),
        2_000,
        `handleOf('${id}').result`,
      );
    }
  },
);

durableTest(
  "two processing schedulers: every waiter settles though the other prunes by count",
  async (open) => {
    const retention = { completed: { maxCount: 10 } };
    // each takes at most half the slots, so both run jobs the other's waiters wait for
    const options = { retention, maxConcurrency: 16, workerConcurrency: 8 };
    const a = await open(options);
    const b = await open(options);
    const ranBy = new Map<string, number>();
    const handler = (who: string) => async (ctx: { payload: unknown }) => {
      ranBy.set(who, (ranBy.get(who) ?? 0) + 1);
      await sleep(1);
      return ctx.payload;
    };
    a.handle("k", handler("a"));
    b.handle("k", handler("b"));
    const submissions = Array.from({ length: 600 }, (_, n) => ({
      session: "s",
      lane: "query" as const,
      work: { kind: "k", payload: n },
    }));
    const handles = [];
    for (let i = 0; i < submissions.length; i += 100) {
      handles.push(...await a.submitMany(submissions.slice(i, i + 100)));
    }
    const results = await withinDeadline(
      Promise.all(handles.map((h) => h.result)),
      10_000,
      "600 waiters",
    );
    assertEquals(results, submissions.map((_, n) => n));
    assert((ranBy.get("b") ?? 0) > 100, `the other ran ${ranBy.get("b") ?? 0} jobs`);
  },
);
