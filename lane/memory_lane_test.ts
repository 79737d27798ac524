import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { metricsRegistry } from "@a3s/common";
import { createLane } from "./create.ts";
import { LANE_NAMES, type LaneName, laneRank } from "./lanes.ts";
import type { JobHandle } from "./lane.ts";
import type { LaneEvent } from "./types.ts";

/** A seeded generator, so a failing property run can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function gate(): { wait: Promise<void>; open(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { wait: promise, open: () => resolve() };
}

Deno.test("a function job runs and its handle resolves with the value", async () => {
  const lane = createLane();
  const job = await lane.submit(
    "s1",
    "query",
    (ctx) => `${ctx.session}/${ctx.lane}/${ctx.attempt}`,
  );
  assertEquals(await job.result, "s1/query/1");
  assertEquals((await lane.get(job.id))?.state, "completed");
  await lane.close();
});

Deno.test("property: start order is lane rank, then priority, then FIFO, over random batches", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rand = random(seed);
    const lane = createLane({ maxConcurrency: 1 });
    const blocker = gate();
    const started: number[] = [];
    await lane.submit("s", "system", () => blocker.wait);
    const jobs: { index: number; rank: number; priority: number }[] = [];
    const handles: JobHandle[] = [];
    const count = 50 + Math.floor(rand() * 150);
    for (let index = 0; index < count; index++) {
      const name = LANE_NAMES[Math.floor(rand() * 6)];
      const priority = rand() < 0.5 ? 0 : Math.floor(rand() * 7) - 3;
      jobs.push({ index, rank: laneRank(name), priority });
      handles.push(await lane.submit("s", name, () => void started.push(index), { priority }));
    }
    blocker.open();
    await Promise.all(handles.map((h) => h.result));
    const expected = [...jobs].sort((a, b) =>
      a.rank - b.rank || b.priority - a.priority || a.index - b.index
    ).map((j) => j.index);
    assertEquals(started, expected, `seed ${seed}`);
    await lane.close();
  }
});

Deno.test("property: no job is lost or run twice, and limits are never exceeded", async () => {
  for (let seed = 1; seed <= 6; seed++) {
    const rand = random(seed * 7919);
    const limits = { global: 6, session: 2, key: 2 };
    const lane = createLane({
      maxConcurrency: limits.global,
      sessionConcurrency: limits.session,
      keyConcurrency: { model: limits.key },
      lanes: { prompt: { maxConcurrency: 1 }, skill: { maxConcurrency: 2 } },
    });
    const runs = new Map<string, number>();
    const running = {
      global: 0,
      lanes: new Map<string, number>(),
      sessions: new Map<string, number>(),
      keys: 0,
    };
    const high = { global: 0, lanes: new Map<string, number>(), sessions: 0, keys: 0 };
    const bump = (map: Map<string, number>, name: string, by: number) => {
      const n = (map.get(name) ?? 0) + by;
      map.set(name, n);
      return n;
    };
    const handles: JobHandle[] = [];
    for (let i = 0; i < 300; i++) {
      const laneName = LANE_NAMES[Math.floor(rand() * 6)];
      const session = `s${Math.floor(rand() * 5)}`;
      const key = rand() < 0.4 ? "model" : undefined;
      const ms = Math.floor(rand() * 3);
      const fails = rand() < 0.2;
      let failed = false;
      handles.push(
        await lane.submit(session, laneName, async (ctx) => {
          runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
          high.global = Math.max(high.global, ++running.global);
          high.lanes.set(
            laneName,
            Math.max(high.lanes.get(laneName) ?? 0, bump(running.lanes, laneName, 1)),
          );
          high.sessions = Math.max(high.sessions, bump(running.sessions, session, 1));
          if (key) high.keys = Math.max(high.keys, ++running.keys);
          await sleep(ms);
          running.global--;
          bump(running.lanes, laneName, -1);
          bump(running.sessions, session, -1);
          if (key) running.keys--;
          if (fails && !failed) {
            failed = true;
            throw new Error("transient");
          }
          return ctx.id;
        }, { key, retry: { maxAttempts: 2, delayMs: 1 } }),
      );
    }
    const results = await Promise.all(handles.map((h) => h.result));
    assertEquals(results, handles.map((h) => h.id), `seed ${seed}: every job completed`);
    for (const h of handles) {
      const info = (await lane.get(h.id))!;
      assertEquals(runs.get(h.id), info.attempts, `seed ${seed}: runs match attempts`);
      assert(info.attempts <= 2);
    }
    assert(high.global <= limits.global, `global ${high.global}`);
    assert(high.sessions <= limits.session, `session ${high.sessions}`);
    assert(high.keys <= limits.key, `key ${high.keys}`);
    assert((high.lanes.get("prompt") ?? 0) <= 1);
    assert((high.lanes.get("skill") ?? 0) <= 2);
    const marks = lane.highWater();
    assertEquals(marks.global, high.global, "the scheduler's own high-water mark agrees");
    assert(Math.max(...Object.values(marks.sessions)) <= limits.session);
    assert((marks.keys.model ?? 0) <= limits.key);
    await lane.close();
  }
});

Deno.test("property: retries follow the policy: attempts, backoff gaps, then the dead-letter queue", async () => {
  const lane = createLane();
  const policies = [
    { maxAttempts: 4, backoff: "fixed" as const, delayMs: 15 },
    { maxAttempts: 4, backoff: "exponential" as const, delayMs: 5, factor: 2 },
    { maxAttempts: 3, backoff: "exponential" as const, delayMs: 10, factor: 3, maxDelayMs: 20 },
    { maxAttempts: 5, backoff: "fixed" as const, delayMs: 10, jitter: 0.5 },
  ];
  for (const policy of policies) {
    const times: number[] = [];
    const job = await lane.submit("s", "skill", () => {
      times.push(performance.now());
      throw new Error(`attempt ${times.length}`);
    }, { retry: policy });
    const error = await assertRejects(() => job.result, Error, `attempt ${policy.maxAttempts}`);
    assertEquals(error.message, `attempt ${policy.maxAttempts}`);
    assertEquals(times.length, policy.maxAttempts);
    for (let attempt = 1; attempt < times.length; attempt++) {
      const base = policy.backoff === "fixed" ? policy.delayMs : Math.min(
        policy.delayMs * (policy.factor ?? 2) ** (attempt - 1),
        policy.maxDelayMs ?? Infinity,
      );
      const least = base * (1 - (policy.jitter ?? 0));
      const gap = times[attempt] - times[attempt - 1];
      assert(gap >= least - 2, `gap ${gap} before attempt ${attempt + 1} is under ${least}`);
    }
    const dead = (await lane.dlq.list()).find((j) => j.id === job.id)!;
    assertEquals(dead.state, "dead");
    assertEquals(dead.errors.map((e) => e.message), times.map((_, i) => `attempt ${i + 1}`));
  }
  let calls = 0;
  const picky = await lane.submit("s", "skill", () => {
    calls++;
    throw new TypeError("not retryable");
  }, { retry: { maxAttempts: 5, delayMs: 1, retryIf: (error) => !(error instanceof TypeError) } });
  await assertRejects(() => picky.result, Error, "not retryable");
  assertEquals(calls, 1, "retryIf stopped the retries");
  await lane.close();
});

Deno.test("timeouts abort the signal and fail the attempt", async () => {
  const lane = createLane();
  let aborted: unknown;
  const job = await lane.submit("s", "skill", (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = ctx.signal.reason;
        reject(ctx.signal.reason);
      });
    }), { timeoutMs: 20 });
  await assertRejects(() => job.result, Error, "timed out after 20 ms");
  assert(aborted instanceof Error);
  const info = (await lane.get(job.id))!;
  assertEquals(info.errors[0].code, "timeout");
  await lane.close();
});

Deno.test("cancel: a queued job never runs, a running one sees its signal abort", async () => {
  const lane = createLane({ maxConcurrency: 1 });
  let sawAbort = false;
  const running = await lane.submit("s", "query", (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        sawAbort = true;
        reject(ctx.signal.reason);
      });
    }));
  let ran = false;
  const queued = await lane.submit("s", "query", () => {
    ran = true;
  });
  assertEquals(await queued.cancel(), true);
  assertEquals(await running.cancel(), true);
  await assertRejects(() => running.result, Error, "cancelled");
  await assertRejects(() => queued.result, Error, "cancelled");
  assert(sawAbort);
  await sleep(5);
  assertEquals(ran, false);
  assertEquals((await lane.get(queued.id))?.state, "cancelled");
  assertEquals(await queued.cancel(), false, "cancelling twice reports it had finished");
  await lane.close();
});

Deno.test("delayed jobs wait; idempotency keys give one job; progress reaches the handle", async () => {
  const lane = createLane();
  const submitted = performance.now();
  const delayed = await lane.submit("s", "session", () => performance.now(), { delayMs: 40 });
  assert((await delayed.result as number) - submitted >= 38, "ran after its delay");

  let runs = 0;
  const first = await lane.submit("s", "query", () => ++runs, { idempotencyKey: "once" });
  const second = await lane.submit("s", "query", () => ++runs, { idempotencyKey: "once" });
  assertEquals(first.id, second.id);
  assertEquals(await second.result, 1);
  assertEquals(runs, 1);

  const seen: unknown[] = [];
  const step = gate();
  const job = await lane.submit("s", "prompt", async (ctx) => {
    await step.wait;
    ctx.progress(0.5);
    ctx.progress({ done: 1 });
    return "ok";
  });
  job.onProgress((value) => seen.push(value));
  step.open();
  await job.result;
  assertEquals(seen, [0.5, { done: 1 }]);
  assertEquals(job.progress, { done: 1 });
  await lane.close();
});

Deno.test("dependencies: a job waits for its dependencies; a dead dependency cancels dependents", async () => {
  const lane = createLane({ maxConcurrency: 4 });
  const order: string[] = [];
  const slow = await lane.submit("plan", "skill", async () => {
    await sleep(20);
    order.push("a");
  });
  const fast = await lane.submit("plan", "skill", () => void order.push("b"));
  const joined = await lane.submit("plan", "skill", () => void order.push("c"), {
    dependsOn: [slow.id, fast.id],
  });
  await joined.result;
  assertEquals(order, ["b", "a", "c"]);

  const failing = await lane.submit("plan", "skill", async () => {
    await sleep(5);
    throw new Error("step failed");
  });
  const child = await lane.submit("plan", "skill", () => "never", { dependsOn: [failing.id] });
  const grandchild = await lane.submit("plan", "skill", () => "never", { dependsOn: [child.id] });
  await assertRejects(() => child.result, Error, "did not complete");
  await assertRejects(() => grandchild.result, Error, "did not complete");
  assertEquals((await lane.get(grandchild.id))?.state, "cancelled");
  await assertRejects(
    () => lane.submit("plan", "skill", () => 1, { dependsOn: ["nope"] }),
    Error,
    "unknown job",
  );
  await lane.close();
});

Deno.test("the dead-letter queue can be listed, retried and purged", async () => {
  const lane = createLane();
  let healthy = false;
  const job = await lane.submit("s", "control", () => {
    if (!healthy) throw new Error("down");
    return "up";
  });
  await assertRejects(() => job.result, Error, "down");
  const other = await lane.submit("t", "control", () => {
    throw new Error("gone");
  });
  await assertRejects(() => other.result, Error, "gone");
  assertEquals((await lane.dlq.list()).map((j) => j.id), [job.id, other.id]);
  assertEquals((await lane.dlq.list({ session: "t" })).map((j) => j.id), [other.id]);
  healthy = true;
  const retried = await lane.dlq.retry(job.id);
  assertEquals(retried.state, "queued");
  assertEquals(await lane.handleOf(job.id)!.result, "up");
  assertEquals(await lane.dlq.purge(), 1);
  assertEquals(await lane.dlq.list(), []);
  await assertRejects(() => lane.dlq.retry(other.id), Error, "no dead job");
  await lane.close();
});

Deno.test("events follow a job through retry to completion", async () => {
  const lane = createLane();
  const events: LaneEvent[] = [];
  lane.subscribe((event) => events.push(event));
  let attempt = 0;
  const job = await lane.submit("s", "query", () => {
    if (++attempt === 1) throw new Error("first try");
    return "ok";
  }, { retry: { maxAttempts: 2, delayMs: 1 } });
  await job.result;
  assertEquals(
    events.filter((e) => e.jobId === job.id).map((e) => e.type),
    ["enqueued", "started", "failed", "retried", "started", "completed"],
  );
  await lane.close();
});

Deno.test("a lane's token bucket paces its starts", async () => {
  const lane = createLane({ lanes: { query: { rateLimit: { ratePerSecond: 50, burst: 1 } } } });
  const started: number[] = [];
  const handles = [];
  for (let i = 0; i < 6; i++) {
    handles.push(await lane.submit("s", "query", () => void started.push(performance.now())));
  }
  await Promise.all(handles.map((h) => h.result));
  const span = started[5] - started[0];
  assert(span >= 5 * 20 - 5, `6 starts at 50/s took ${span} ms`);
  await lane.close();
});

Deno.test("bad submissions are rejected naming the field", async () => {
  const lane = createLane();
  const cases: [() => Promise<unknown>, string][] = [
    [() => lane.submit("", "query", () => 1), "session"],
    [() => lane.submit("s", "fast" as LaneName, () => 1), "lane"],
    [() => lane.submit("s", "query", { kind: "unregistered" }), "kind"],
    [() => lane.submit("s", "query", () => 1, { priority: 1.5 }), "priority"],
    [() => lane.submit("s", "query", () => 1, { timeoutMs: -1 }), "timeoutMs"],
    [() => lane.submit("s", "query", () => 1, { retry: { maxAttempts: 0 } }), "retry.maxAttempts"],
  ];
  for (const [submit, field] of cases) {
    const error = await assertRejects(() => submit(), Error);
    assertEquals((error as { field?: string }).field, field);
    assertEquals((error as { status?: number }).status, 400);
  }
  await lane.close();
});

Deno.test("jobs by kind run their registered handler; metrics report lanes", async () => {
  const lane = createLane();
  lane.handle<{ a: number; b: number }>("sum", (ctx) => ctx.payload.a + ctx.payload.b);
  const job = await lane.submit("s", "skill", { kind: "sum", payload: { a: 2, b: 3 } });
  assertEquals(await job.result, 5);
  const text = await metricsRegistry.metrics();
  assert(
    /a3s_lane_wait_seconds_bucket\{le="0.001",lane="skill"\} [1-9]/.test(text),
    text.slice(0, 300),
  );
  assert(/a3s_lane_jobs_total\{lane="skill",outcome="completed"\} [1-9]/.test(text));
  assert(text.includes('a3s_lane_depth{lane="skill"} 0'));
  const stats = await lane.stats();
  assertEquals(stats.lanes.skill.completed, 1);
  await lane.close();
});

Deno.test("session ids: chat platforms' base64 ids are accepted; spaces and empty ids are not", async () => {
  const lane = createLane();
  const job = await lane.submit("dingtalk:u1:cidAb+Cd/Ef==", "query", () => "ok");
  assertEquals(await job.result, "ok");
  for (const bad of ["", "has space", "x".repeat(201)]) {
    await assertRejects(() => lane.submit(bad, "query", () => "no"), Error, "session");
  }
  await lane.close();
});
