import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { eventModule } from "./routes.ts";
import { EventBus } from "./bus.ts";
import { StoreProvider } from "./providers/store.ts";

const TOKEN = "event-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function withServer(fn: (url: string, home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "event_http_" });
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: { tokens: [{ token: TOKEN, scopes: ["event:read", "event:write"] }] },
      event: { pollMs: 20 },
    }),
  );
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 } });
  const server = await startServer({
    config,
    modules: [eventModule()],
    store: await openStore({ sqlitePath: `${home}/a3s.db` }),
    logger: createLogger("silent"),
  });
  try {
    await fn(server.url, home);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

async function post(url: string, body: unknown) {
  const response = await fetch(`${url}/event/v1/publish`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** Reads SSE frames until `count` events with an id arrived. */
async function readEvents(
  response: Response,
  count: number,
): Promise<{ id: string; data: Record<string, unknown> }[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { id: string; data: Record<string, unknown> }[] = [];
  let buffer = "";
  const deadline = setTimeout(() => reader.cancel(), 5000);
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (id && data) events.push({ id, data: JSON.parse(data) });
      }
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
  }
  return events;
}

Deno.test("event routes: publish, list subjects, delete a consumer, bad input names the field", () =>
  withServer(async (url, home) => {
    const ok = await post(url, { subject: "demo.one", data: { n: 1 }, key: "k" });
    assertEquals(ok.status, 201);
    assertEquals(ok.json.subject, "demo.one");
    assertEquals(ok.json.duplicate, false);
    const again = await post(url, { subject: "demo.one", data: { n: 1 }, id: ok.json.id });
    assertEquals(again.json.duplicate, true);
    const bad = await post(url, { subject: "demo..two", data: 1 });
    assertEquals(bad.status, 400);
    assertEquals(bad.json.field, "subject");
    const missing = await post(url, { data: 1 });
    assertEquals(missing.status, 400);
    assertEquals(missing.json.field, "subject");
    const header = await post(url, { subject: "demo.x", headers: { "Bad-Name": "v" } });
    assertEquals(header.status, 400);
    assertEquals(header.json.field, "headers.Bad-Name");
    const subjects = await (await fetch(`${url}/event/v1/subjects`, { headers: AUTH })).json();
    // A consumer created by another process on the same database, deleted over HTTP.
    const store = await openStore({ sqlitePath: `${home}/a3s.db` });
    const other = new EventBus({ provider: await StoreProvider.open({ store }) });
    await (await other.consume("audit", "demo.>", () => {})).stop();
    await other.close();
    await store.close();
    const remove = (name: string) =>
      fetch(`${url}/event/v1/consumers/${name}`, { method: "DELETE", headers: AUTH });
    const deleted = await remove("audit");
    assertEquals(await deleted.json(), { deleted: true });
    const gone = await remove("audit");
    assertEquals(gone.status, 404);
    assertEquals((await gone.json()).field, "name");
    assertEquals(subjects, { subjects: [{ subject: "demo.one", events: 1 }] });
    const anonymous = await fetch(`${url}/event/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject: "demo.one" }),
    });
    await anonymous.body?.cancel();
    assert(anonymous.status === 401 || anonymous.status === 403, `got ${anonymous.status}`);
  }));

Deno.test("event routes: SSE stream of several patterns resumes from Last-Event-ID", () =>
  withServer(async (url) => {
    const stream = `${url}/event/v1/stream?subjects=lane.>,box.*.started`;
    const live = await fetch(stream, { headers: AUTH });
    assertEquals(live.status, 200);
    const reading = readEvents(live, 3);
    await new Promise((r) => setTimeout(r, 100));
    await post(url, { subject: "lane.query.job", data: 1 });
    await post(url, { subject: "box.b1.stopped", data: 2 });
    await post(url, { subject: "box.b1.started", data: 3 });
    await post(url, { subject: "lane.x", data: 4 });
    const first = await reading;
    assertEquals(first.map((e) => e.data.data), [1, 3, 4]);
    assertEquals(first[0].data.specversion, "1.0");
    const resumed = await fetch(stream, { headers: { ...AUTH, "last-event-id": first[0].id } });
    const rest = await readEvents(resumed, 2);
    assertEquals(rest.map((e) => e.data.data), [3, 4]);
    const bad = await fetch(`${url}/event/v1/stream?subjects=lane.>.x`, { headers: AUTH });
    assertEquals(bad.status, 400);
    assertEquals((await bad.json()).field, "subjects");
    // A seq that no provider hands out is a 400, from the query or the header; before, the
    // stream opened and stayed empty.
    for (
      const headers of [{ ...AUTH, "last-event-id": "abc" }, { ...AUTH, "last-event-id": "-1" }]
    ) {
      const wrong = await fetch(stream, { headers });
      assertEquals(wrong.status, 400);
      assertEquals((await wrong.json()).field, "after");
    }
    const wrongQuery = await fetch(`${stream}&after=12x`, { headers: AUTH });
    assertEquals(wrongQuery.status, 400);
    assertEquals((await wrongQuery.json()).field, "after");
    const redisId = await fetch(`${stream}&after=1700000000000-0`, { headers: AUTH });
    assertEquals(redisId.status, 200);
    await redisId.body?.cancel();
  }));

Deno.test("event module: its API is the bus; consumers show up with their lag", async () => {
  const home = await Deno.makeTempDir({ prefix: "event_api_" });
  const store = await openStore({ sqlitePath: `${home}/a3s.db` });
  const module = eventModule();
  const controller = new AbortController();
  const started = await module.start({
    config: { ...(await import("./config.ts")).EventConfigSchema.parse({}) },
    server: loadConfig({ env: { A3S_HOME: home } }),
    store,
    metrics: (await import("@a3s/common")).metricsRegistry,
    logger: createLogger("silent"),
    shutdown: controller.signal,
    modules: {},
    policy: new (await import("@a3s/common")).AccessPolicy(),
  });
  try {
    const bus = started.api as EventBus;
    assertEquals(bus.provider.kind, "store");
    const worker = await bus.consume("audit", "safeclaw.>", () => {});
    await worker.stop();
    await bus.publish("safeclaw.decision", { allow: true });
    const response = await started.routes!.request("/event/v1/consumers");
    const body = await response.json();
    assertEquals(body.consumers, [{
      name: "audit",
      pattern: "safeclaw.>",
      pending: 1,
      unacked: 0,
    }]);
    const deleted = await started.routes!.request("/event/v1/consumers/audit", {
      method: "DELETE",
    });
    assertEquals(await deleted.json(), { deleted: true });
    assertEquals(await bus.consumers(), []);
  } finally {
    await started.close?.();
    await store.close();
    await Deno.remove(home, { recursive: true });
  }
});
