import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { eventModule } from "@a3s/event/routes";
import { laneModule } from "./routes.ts";

/** A token with lane's scopes; lane's routes need one even on loopback. */
const TOKEN = "lane-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "lane_http_" });
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: { tokens: [{ token: TOKEN, scopes: ["lane:read", "lane:write", "event:read"] }] },
      event: { pollMs: 20 },
    }),
  );
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 } });
  let attempts = 0;
  const module = laneModule({
    pollMs: 10,
    handlers: {
      stepper: (ctx) => {
        ctx.progress({ step: 1 });
        return "done";
      },
      flaky: () => {
        attempts++;
        throw new Error(`flaky failure ${attempts}`);
      },
    },
  });
  const server = await startServer({
    config,
    modules: [module, eventModule()],
    store: await openStore({ sqlitePath: `${home}/a3s.db` }),
    logger: createLogger("silent"),
  });
  try {
    await fn(server.url);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? AUTH : { ...AUTH, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

async function until<T>(fn: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await fn();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("HTTP: submit, get, list, cancel, dead-letter queue and stats", async () => {
  await withServer(async (url) => {
    const submitted = await call(url, "POST", "/lane/v1/jobs", {
      session: "s1",
      lane: "query",
      kind: "lane.echo",
      payload: { hello: "world" },
      idempotencyKey: "echo-1",
    });
    assertEquals(submitted.status, 201);
    const id = submitted.json.id as string;
    const again = await call(url, "POST", "/lane/v1/jobs", {
      session: "s1",
      lane: "query",
      kind: "lane.echo",
      payload: { hello: "world" },
      idempotencyKey: "echo-1",
    });
    assertEquals(again.json.id, id, "the idempotency key yields the same job");
    const done = await until(
      () => call(url, "GET", `/lane/v1/jobs/${id}`),
      (r) => r.json.state === "completed",
    );
    assertEquals(done.json.result, { hello: "world" });

    const sleeping = await call(url, "POST", "/lane/v1/jobs", {
      session: "s2",
      lane: "prompt",
      kind: "lane.sleep",
      payload: { ms: 60_000 },
    });
    const sleepId = sleeping.json.id as string;
    await until(
      () => call(url, "GET", `/lane/v1/jobs/${sleepId}`),
      (r) => r.json.state === "running",
    );
    const cancelled = await call(url, "POST", `/lane/v1/jobs/${sleepId}/cancel`);
    assertEquals(cancelled.json, { cancelled: true });
    const after = await until(
      () => call(url, "GET", `/lane/v1/jobs/${sleepId}`),
      (r) => r.json.state === "cancelled",
    );
    assertEquals(after.json.state, "cancelled");

    const listed = await call(url, "GET", "/lane/v1/jobs?session=s1&state=completed");
    assertEquals((listed.json.jobs as { id: string }[]).map((j) => j.id), [id]);

    const failing = await call(url, "POST", "/lane/v1/jobs", {
      session: "s3",
      lane: "skill",
      kind: "flaky",
      retry: { maxAttempts: 2, delayMs: 5 },
    });
    const failId = failing.json.id as string;
    const dlq = await until(
      () => call(url, "GET", "/lane/v1/dlq"),
      (r) => (r.json.jobs as unknown[]).length === 1,
    );
    const dead = (dlq.json.jobs as { id: string; errors: { message: string }[] }[])[0];
    assertEquals(dead.id, failId);
    assertEquals(dead.errors.map((e) => e.message), ["flaky failure 1", "flaky failure 2"]);
    const retried = await call(url, "POST", `/lane/v1/dlq/${failId}/retry`);
    assertEquals(retried.status, 200);
    await until(
      () => call(url, "GET", "/lane/v1/dlq"),
      (r) => (r.json.jobs as unknown[]).length === 1,
    );
    const purged = await call(url, "DELETE", `/lane/v1/dlq/${failId}`);
    assertEquals(purged.json, { purged: 1 });
    assertEquals((await call(url, "DELETE", `/lane/v1/dlq/${failId}`)).status, 404);

    const stats = await call(url, "GET", "/lane/v1/stats");
    const lanes = stats.json.lanes as Record<string, Record<string, number>>;
    assertEquals(lanes.query.completed, 1);
    assertEquals(lanes.prompt.cancelled, 1);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert(metrics.includes('a3s_lane_jobs_total{lane="query",outcome="completed"}'));
    const openapi = await (await fetch(`${url}/openapi.json`)).json();
    assert("/lane/v1/jobs" in openapi.paths && "/lane/v1/dlq/{id}/retry" in openapi.paths);
    assert("/lane/v1/events" in openapi.paths);
  });
});

Deno.test("HTTP: bad input is a 400 naming the field; unknown ids are 404s", async () => {
  await withServer(async (url) => {
    const cases: [unknown, string][] = [
      [{ session: "s", lane: "fastlane", kind: "lane.echo" }, "lane"],
      [{ session: "", lane: "query", kind: "lane.echo" }, "session"],
      [{ session: "s", lane: "query", kind: "no.such.kind" }, "kind"],
      [{ session: "s", lane: "query", kind: "lane.echo", priority: 0.5 }, "priority"],
      [
        { session: "s", lane: "query", kind: "lane.echo", retry: { maxAttempts: 0 } },
        "retry.maxAttempts",
      ],
      [{ session: "s", lane: "query", kind: "lane.echo", dependsOn: ["missing"] }, "dependsOn.0"],
    ];
    for (const [body, field] of cases) {
      const response = await call(url, "POST", "/lane/v1/jobs", body);
      assertEquals(response.status, 400, JSON.stringify(body));
      assertEquals(response.json.field, field);
    }
    const notJson = await fetch(`${url}/lane/v1/jobs`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: "{",
    });
    assertEquals(notJson.status, 400);
    await notJson.body?.cancel();
    assertEquals((await call(url, "GET", "/lane/v1/jobs/nope")).status, 404);
    assertEquals((await call(url, "POST", "/lane/v1/jobs/nope/cancel")).status, 404);
    assertEquals((await call(url, "POST", "/lane/v1/dlq/nope/retry")).status, 404);
    assertEquals((await call(url, "GET", "/lane/v1/jobs?state=sleeping")).status, 400);
    assertEquals((await call(url, "GET", "/lane/v1/jobs?limit=0")).status, 400);
  });
});

Deno.test("HTTP: scheduler events stream over SSE", async () => {
  await withServer(async (url) => {
    const controller = new AbortController();
    const response = await fetch(`${url}/lane/v1/events?session=sse`, {
      headers: AUTH,
      signal: controller.signal,
    });
    assertEquals(response.headers.get("content-type")?.startsWith("text/event-stream"), true);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    await call(url, "POST", "/lane/v1/jobs", {
      session: "other",
      lane: "query",
      kind: "lane.echo",
    });
    const job = await call(url, "POST", "/lane/v1/jobs", {
      session: "sse",
      lane: "query",
      kind: "lane.echo",
      payload: 1,
    });
    while (!text.includes("event: completed")) text += (await reader.read()).value ?? "";
    const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assertEquals(types, ["ready", "enqueued", "started", "completed"]);
    const data = [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]));
    assert(data.slice(1).every((event) => event.jobId === job.json.id && event.session === "sse"));
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});

Deno.test("HTTP: with the event bus, lane's stream carries seq ids and resumes from Last-Event-ID", async () => {
  await withServer(async (url) => {
    const readUntil = async (response: Response, done: (text: string) => boolean) => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!done(text) && Date.now() < deadline) text += (await reader.read()).value ?? "";
      await reader.cancel().catch(() => {});
      return text;
    };
    const first = await fetch(`${url}/lane/v1/events?session=resume&type=enqueued,completed`, {
      headers: AUTH,
    });
    const job1 = call(url, "POST", "/lane/v1/jobs", {
      session: "resume",
      lane: "query",
      kind: "lane.echo",
    });
    const text = await readUntil(first, (t) => t.includes("event: completed"));
    const job1Id = (await job1).json.id;
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
    assertEquals([...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]), [
      "ready",
      "enqueued",
      "completed",
    ]);
    assertEquals(ids.length, 2);
    // A job finished while nobody listened: a reconnect with the last id sees it.
    const job2 = await call(url, "POST", "/lane/v1/jobs", {
      session: "resume",
      lane: "query",
      kind: "lane.echo",
    });
    await until(
      () => call(url, "GET", `/lane/v1/jobs/${job2.json.id}`),
      (r) => r.json.state === "completed",
    );
    const resumed = await fetch(`${url}/lane/v1/events?session=resume&type=enqueued,completed`, {
      headers: { ...AUTH, "last-event-id": ids[1] },
    });
    const replay = await readUntil(resumed, (t) => /^event: completed$/m.test(t));
    const data = [...replay.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]));
    assert(data.some((d) => d.jobId === job2.json.id && d.type === "completed"), replay);
    assert(!data.some((d) => d.jobId === job1Id), "replayed events before the id");
    assertEquals((await call(url, "GET", "/lane/v1/events?type=finished")).status, 400);
  });
});

Deno.test("HTTP: an events request for an empty or control-character session is a 400 naming it", async () => {
  await withServer(async (url) => {
    for (const query of ["session=", "session=%00", "session=a%0Ab", "session=&type=progress"]) {
      const response = await call(url, "GET", `/lane/v1/events?${query}`);
      assertEquals(response.status, 400, query);
      assertEquals(response.json.field, "session", query);
      assert(
        String(response.json.detail).startsWith("session: must be"),
        JSON.stringify(response.json),
      );
    }
  });
});

Deno.test("HTTP: progress reports, never put on the bus, stream from the scheduler", async () => {
  await withServer(async (url) => {
    const response = await fetch(`${url}/lane/v1/events?session=steps&type=progress`, {
      headers: AUTH,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    await call(url, "POST", "/lane/v1/jobs", { session: "steps", lane: "query", kind: "stepper" });
    while (!text.includes("event: progress\n")) text += (await reader.read()).value ?? "";
    await reader.cancel().catch(() => {});
    const data = [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]));
    assertEquals(data.at(-1).progress, { step: 1 });
  });
});

Deno.test("HTTP: lane's routes need a token with lane's scopes and sit under its OpenAPI tag", async () => {
  await withServer(async (url) => {
    const anonymous = await fetch(`${url}/lane/v1/jobs`);
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
    assertEquals((await call(url, "GET", "/lane/v1/stats")).status, 200);
    const openapi = await (await fetch(`${url}/openapi.json`)).json();
    for (const [path, operations] of Object.entries(openapi.paths)) {
      if (!path.startsWith("/lane/")) continue;
      for (const operation of Object.values(operations as Record<string, { tags?: string[] }>)) {
        assertEquals(operation.tags, ["lane"], path);
      }
    }
  });
});

Deno.test("HTTP: a job's events arrive on the event bus as lane.<lane>.job.<state> CloudEvents", async () => {
  await withServer(async (url) => {
    const controller = new AbortController();
    const response = await fetch(`${url}/event/v1/stream?subjects=lane.>`, {
      headers: AUTH,
      signal: controller.signal,
    });
    assertEquals(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    const ok = await call(url, "POST", "/lane/v1/jobs", {
      session: "bus",
      lane: "query",
      kind: "lane.echo",
      payload: { secret: "not-on-the-bus" },
    });
    const bad = await call(url, "POST", "/lane/v1/jobs", {
      session: "bus",
      lane: "skill",
      kind: "flaky",
      retry: { maxAttempts: 1 },
    });
    assertEquals(bad.status, 201, JSON.stringify(bad.json));
    const events = () =>
      [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]))
        .filter((e) => e.subject !== undefined);
    const deadline = Date.now() + 10_000;
    while (
      !events().some((e) => e.subject === "lane.skill.job.dead_lettered") && Date.now() < deadline
    ) {
      text += (await reader.read()).value ?? "";
    }
    controller.abort();
    await reader.cancel().catch(() => {});
    const of = (id: unknown) => events().filter((e) => e.data.jobId === id).map((e) => e.subject);
    assertEquals(of(ok.json.id), [
      "lane.query.job.submitted",
      "lane.query.job.started",
      "lane.query.job.completed",
    ]);
    const failed = of(bad.json.id);
    assertEquals(failed[0], "lane.skill.job.submitted");
    assert(failed.includes("lane.skill.job.failed"), failed.join());
    assertEquals(failed.at(-1), "lane.skill.job.dead_lettered");
    const completed = events().find((e) => e.subject === "lane.query.job.completed");
    assertEquals(completed.specversion, "1.0");
    assertEquals(completed.type, "a3s.lane.job.completed");
    assertEquals(completed.partitionkey, ok.json.id);
    assertEquals(completed.data, {
      jobId: ok.json.id,
      session: "bus",
      lane: "query",
      kind: "lane.echo",
      attempt: 1,
    });
    assert(!text.includes("not-on-the-bus") && !text.includes("flaky failure"));
  });
});
