/**
 * The scheduler contract, one suite run against every backend: in memory, durable on SQLite
 * and durable on PostgreSQL. What a caller of {@linkcode Lane} may rely on holds on all three.
 */
import { openStore, type Store } from "@a3s/common";
import { assert, assertEquals, assertRejects, createTestDatabase } from "@a3s/common/testing";
import { createLane } from "./create.ts";
import type { Lane, LaneOptions } from "./lane.ts";
import {
  DependencyFailedError,
  JobCancelledError,
  JobTimeoutError,
  LaneClosedError,
} from "./errors.ts";

interface Backend {
  name: string;
  /** Opens a scheduler, or returns undefined (after a SKIPPED line) where it cannot run. */
  open(options: LaneOptions): Promise<{ lane: Lane; cleanup(): Promise<void> } | undefined>;
}

const POLL_MS = 10;

async function durable(store: Store, options: LaneOptions, cleanup: () => Promise<void>) {
  // one process per case: no other process's waiter needs pruned rows kept a while
  const lane = await createLane({ ...options, store, pollMs: POLL_MS, pruneMinAgeMs: 0 });
  return {
    lane,
    async cleanup() {
      await lane.close();
      await store.close();
      await cleanup();
    },
  };
}

const BACKENDS: Backend[] = [
  {
    name: "memory",
    open(options) {
      const lane = createLane(options);
      return Promise.resolve({ lane, cleanup: () => lane.close() });
    },
  },
  {
    name: "sqlite",
    async open(options) {
      const dir = await Deno.makeTempDir({ prefix: "lane_contract_" });
      const store = await openStore({ sqlitePath: `${dir}/a3s.db` });
      return await durable(store, options, () => Deno.remove(dir, { recursive: true }));
    },
  },
  {
    name: "postgres",
    async open(options) {
      const database = await createTestDatabase("lane_c");
      if (!database) return undefined;
      const store = await openStore({ databaseUrl: database.url, poolSize: 4 });
      return await durable(store, options, () => database.drop());
    },
  },
];

/** A contract case fails loudly rather than hanging the suite. */
const CASE_DEADLINE_MS = 30_000;

function contract(name: string, options: LaneOptions, body: (lane: Lane) => Promise<void>): void {
  for (const backend of BACKENDS) {
    Deno.test(`contract (${backend.name}): ${name}`, async () => {
      const opened = await backend.open(options);
      if (!opened) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`'${name}' hung`)), CASE_DEADLINE_MS);
      });
      try {
        await Promise.race([body(opened.lane), deadline]);
      } finally {
        clearTimeout(timer);
        await opened.cleanup();
      }
    });
  }
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { opened: promise, open: () => resolve() };
}

contract("a job of a registered kind runs once and its result is kept", {}, async (lane) => {
  lane.handle<number[]>("sum", (ctx) => ctx.payload.reduce((a, b) => a + b, 0));
  const job = await lane.submit("s1", "query", { kind: "sum", payload: [1, 2, 3] });
  assertEquals(await job.result, 6);
  const info = (await lane.get(job.id))!;
  assertEquals([info.state, info.result, info.attempts, info.errors], ["completed", 6, 1, []]);
  assertEquals(info.payload, [1, 2, 3]);
  await assertRejects(() => lane.submit("s1", "query", { kind: "nope" }), Error, "no handler");
});

contract(
  "jobs start by lane rank, then priority, then submission order",
  { maxConcurrency: 1 },
  async (lane) => {
    const started: string[] = [];
    const blocker = gate();
    const release = gate();
    lane.handle("block", async () => {
      blocker.open();
      await release.opened;
    });
    lane.handle<string>("note", (ctx) => void started.push(ctx.payload));
    const first = await lane.submit("s", "query", { kind: "block" });
    await blocker.opened;
    const jobs = [
      await lane.submit("s", "prompt", { kind: "note", payload: "prompt" }),
      await lane.submit("s", "query", { kind: "note", payload: "query low" }),
      await lane.submit("s", "query", { kind: "note", payload: "query high" }, { priority: 5 }),
      await lane.submit("s", "query", { kind: "note", payload: "query low 2" }),
      await lane.submit("s", "system", { kind: "note", payload: "system" }),
    ];
    release.open();
    await first.result;
    for (const job of jobs) await job.result;
    assertEquals(started, ["system", "query high", "query low", "query low 2", "prompt"]);
  },
);

contract(
  "a failing job is retried by its policy, then dead-lettered with its error history",
  {},
  async (lane) => {
    let calls = 0;
    lane.handle("flaky", () => {
      calls++;
      throw new Error(`down ${calls}`);
    });
    const job = await lane.submit("s", "query", { kind: "flaky" }, {
      retry: { maxAttempts: 3, delayMs: 5 },
    });
    await assertRejects(() => job.result, Error, "down 3");
    const info = (await lane.get(job.id))!;
    assertEquals(info.state, "dead");
    assertEquals(info.attempts, 3);
    assertEquals(info.errors.map((e) => [e.attempt, e.message]), [
      [1, "down 1"],
      [2, "down 2"],
      [3, "down 3"],
    ]);
    assertEquals((await lane.dlq.list()).map((j) => j.id), [job.id]);

    const requeued = await lane.dlq.retry(job.id);
    assertEquals([requeued.state, requeued.attempts], ["queued", 0]);
    for (let i = 0; i < 200 && (await lane.get(job.id))!.state !== "dead"; i++) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    assertEquals((await lane.get(job.id))!.errors.length, 6, "history kept across the retry");
    assertEquals(await lane.dlq.purge({ id: job.id }), 1);
    assertEquals(await lane.get(job.id), undefined);
  },
);

contract(
  "cancel: a queued job never runs; a running one sees its signal abort",
  {},
  async (lane) => {
    let ran = false;
    const running = gate();
    lane.handle("later", () => void (ran = true));
    lane.handle("wait", (ctx) => {
      running.open();
      return new Promise((_, reject) => {
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
      });
    });
    const queued = await lane.submit("s", "query", { kind: "later" }, { delayMs: 60_000 });
    assertEquals(await lane.cancel(queued.id), true);
    const queuedError = await assertRejects(() => queued.result, Error, "cancelled");
    assert(queuedError instanceof JobCancelledError || queuedError.message.includes("cancelled"));
    assertEquals((await lane.get(queued.id))!.state, "cancelled");

    const job = await lane.submit("s", "query", { kind: "wait" });
    await running.opened;
    assertEquals(await job.cancel(), true);
    await assertRejects(() => job.result, Error, "cancelled");
    assertEquals((await lane.get(job.id))!.state, "cancelled");
    assertEquals(ran, false);
    assertEquals(await lane.cancel(job.id), false, "a finished job cannot be cancelled");
  },
);

contract("a dependency that dies cancels its dependents", {}, async (lane) => {
  // the parent fails only once its dependent is queued: a memory scheduler runs it at once
  const queued = gate();
  lane.handle("fail", async () => {
    await queued.opened;
    throw new Error("broken");
  });
  lane.handle("after", () => "ran");
  const parent = await lane.submit("s", "query", { kind: "fail" });
  const child = await lane.submit("s", "query", { kind: "after" }, { dependsOn: [parent.id] });
  queued.open();
  await assertRejects(() => parent.result, Error, "broken");
  await assertRejects(() => child.result, Error, "did not complete");
  const info = (await lane.get(child.id))!;
  assertEquals(info.state, "cancelled");
  assertEquals(info.errors.map((e) => e.code), [new DependencyFailedError(parent.id).code]);
  await assertRejects(
    () => lane.submit("s", "query", { kind: "after" }, { dependsOn: [parent.id] }),
    DependencyFailedError,
  );
});

contract("an idempotency key gives one job", {}, async (lane) => {
  lane.handle("once", () => "done");
  const first = await lane.submit("s", "query", { kind: "once" }, { idempotencyKey: "k1" });
  const again = await lane.submit("s", "query", { kind: "once" }, { idempotencyKey: "k1" });
  assertEquals(again.id, first.id);
  assertEquals(await again.result, "done");
});

contract(
  "no more jobs of one session run at once than its limit",
  { sessionConcurrency: 1 },
  async (lane) => {
    let running = 0;
    let peak = 0;
    lane.handle("work", async () => {
      peak = Math.max(peak, ++running);
      await new Promise((resolve) => setTimeout(resolve, 15));
      running--;
    });
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await lane.submit("one", "query", { kind: "work" }));
    for (const job of jobs) await job.result;
    assertEquals(peak, 1);
    assertEquals(lane.highWater().sessions.one, 1);
  },
);

contract("a timed-out attempt fails with a timeout in its history", {}, async (lane) => {
  lane.handle("slow", (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    }));
  const job = await lane.submit("s", "query", { kind: "slow" }, { timeoutMs: 20 });
  await assertRejects(() => job.result, Error, "timed out after 20 ms");
  assertEquals((await lane.get(job.id))!.errors.map((e) => e.code), ["timeout"]);
});

contract("a closed scheduler refuses work with LaneClosedError", {}, async (lane) => {
  lane.handle("noop", () => null);
  await lane.close();
  const error = await assertRejects(
    () => lane.submit("s", "query", { kind: "noop" }),
    LaneClosedError,
  );
  assertEquals([error.code, error.status], ["lane_closed", 503]);
});

/** Polls `check` until it holds or `ms` pass; a durable scheduler prunes on its next tick. */
async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

contract(
  "retention: completed and cancelled jobs beyond a lane's count go, oldest first",
  { retention: { completed: { maxCount: 2 } } },
  async (lane) => {
    lane.handle<number>("n", (ctx) => ctx.payload);
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const job = await lane.submit("s", "query", { kind: "n", payload: n });
      await job.result;
      ids.push(job.id);
    }
    const cancelled = await lane.submit("s", "query", { kind: "n", payload: 9 }, {
      delayMs: 60_000,
    });
    await cancelled.cancel();
    ids.push(cancelled.id);
    const other = await lane.submit("s", "prompt", { kind: "n", payload: 5 });
    await other.result;
    const kept = async () => (await lane.list({ lane: "query" })).map((j) => j.id);
    assert(
      await eventually(async () => (await kept()).length === 2),
      `query kept ${(await kept()).length} jobs`,
    );
    assertEquals(await kept(), ids.slice(3), "the two that finished last are kept");
    assertEquals(await lane.get(ids[0]), undefined);
    assertEquals((await lane.get(other.id))?.state, "completed", "another lane counts apart");
  },
);

contract(
  "retention: completed jobs past their age go; dead ones stay until purged by default",
  { retention: { completed: { maxAgeMs: 40 } } },
  async (lane) => {
    lane.handle("ok", () => "done");
    lane.handle("broken", () => {
      throw new Error("broken");
    });
    const done = await lane.submit("s", "query", { kind: "ok" });
    const dead = await lane.submit("s", "query", { kind: "broken" });
    await done.result;
    await assertRejects(() => dead.result, Error, "broken");
    assertEquals((await lane.get(done.id))?.state, "completed", "kept while young");
    assert(await eventually(async () => (await lane.get(done.id)) === undefined), "never aged out");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals((await lane.dlq.list()).map((j) => j.id), [dead.id]);
  },
);

contract(
  "retention: dead jobs beyond a configured count go; a retried one leaves the count",
  { retention: { dead: { maxCount: 1 } } },
  async (lane) => {
    let healed = false;
    lane.handle<number>("broken", (ctx) => {
      if (healed && ctx.payload === 0) return "healed";
      throw new Error(`broken ${ctx.payload}`);
    });
    const first = await lane.submit("s", "query", { kind: "broken", payload: 0 });
    await assertRejects(() => first.result, Error, "broken 0");
    healed = true;
    await lane.dlq.retry(first.id);
    assert(await eventually(async () => (await lane.get(first.id))?.state === "completed"));
    const second = await lane.submit("s", "query", { kind: "broken", payload: 1 });
    await assertRejects(() => second.result, Error, "broken 1");
    const third = await lane.submit("s", "query", { kind: "broken", payload: 2 });
    await assertRejects(() => third.result, Error, "broken 2");
    assert(await eventually(async () => (await lane.dlq.list()).length === 1));
    assertEquals((await lane.dlq.list()).map((j) => j.id), [third.id]);
    assertEquals((await lane.get(first.id))?.state, "completed", "the retried job is kept");
  },
);

/**
 * Runs `stubborn` (which keeps running 80 ms after its signal aborts) with one slot, queues
 * `next` behind it, aborts it with `abort`, and returns what happened in which order.
 */
async function abortOrder(
  lane: Lane,
  submitOptions: { timeoutMs?: number },
  abort: (id: string) => Promise<unknown>,
): Promise<{ order: string[]; reason: unknown; outcome: unknown }> {
  const order: string[] = [];
  const started = gate();
  let reason: unknown;
  lane.handle("stubborn", (ctx) => {
    started.open();
    return new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        reason = ctx.signal.reason;
        order.push("aborted");
        setTimeout(() => {
          order.push("settled");
          reject(ctx.signal.reason);
        }, 80);
      }, { once: true });
    });
  });
  lane.handle("next", () => void order.push("next started"));
  const job = await lane.submit("s", "query", { kind: "stubborn" }, submitOptions);
  await started.opened;
  const next = await lane.submit("s", "query", { kind: "next" });
  await abort(job.id);
  await next.result;
  const outcome = await job.result.then((value) => ({ value }), (error) => error);
  return { order, reason, outcome };
}

contract(
  "cancelling a running job aborts its signal; its slot frees once the handler settles",
  { maxConcurrency: 1 },
  async (lane) => {
    const { order, reason, outcome } = await abortOrder(lane, {}, (id) => lane.cancel(id));
    assert(reason instanceof JobCancelledError, `aborted with ${reason}`);
    assertEquals(order, ["aborted", "settled", "next started"]);
    assert(outcome instanceof Error && outcome.message.includes("cancelled"), `${outcome}`);
  },
);

contract(
  "a job's timeout aborts its signal; its slot frees once the handler settles",
  { maxConcurrency: 1 },
  async (lane) => {
    const { order, reason, outcome } = await abortOrder(
      lane,
      { timeoutMs: 30 },
      () => Promise.resolve(),
    );
    assert(reason instanceof JobTimeoutError, `aborted with ${reason}`);
    assertEquals(order, ["aborted", "settled", "next started"]);
    assert(outcome instanceof Error && outcome.message.includes("timed out"), `${outcome}`);
  },
);

contract(
  "an aborted handler that never settles frees its slot after the grace period",
  { maxConcurrency: 1, abortGraceMs: 150 },
  async (lane) => {
    let abortedAt = 0;
    const started = gate();
    lane.handle("hung", (ctx) => {
      started.open();
      ctx.signal.addEventListener("abort", () => void (abortedAt = performance.now()));
      return new Promise(() => {});
    });
    let nextAt = 0;
    lane.handle("next", () => void (nextAt = performance.now()));
    const hung = await lane.submit("s", "query", { kind: "hung" }, { timeoutMs: 20 });
    await started.opened;
    const next = await lane.submit("s", "query", { kind: "next" });
    await assertRejects(() => hung.result, JobTimeoutError);
    await next.result;
    assert(abortedAt > 0, "the signal aborted");
    assert(nextAt - abortedAt >= 140, `the next job started ${nextAt - abortedAt} ms after`);
    assertEquals((await lane.get(hung.id))?.state, "dead");
  },
);
