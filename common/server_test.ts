import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { assert, assertEquals } from "./_assert.ts";
import { loadConfig } from "./config.ts";
import { A3sError, isNamedUpstreamFailure } from "./errors.ts";
import { runCommand } from "./run_command.ts";
import { createLogger } from "./logger.ts";
import { createRouter } from "./router.ts";
import { defineModule } from "./module.ts";
import { listenError, startServer } from "./server.ts";
import { openStore } from "./store.ts";
import { SELF_AUTHENTICATED } from "./security/access.ts";
import { clientAddressOf } from "./security/guard.ts";

const Echo = z.object({
  messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.string() })).min(1),
});

function echoRoute(path: string) {
  return createRoute({
    method: "post",
    path,
    request: { body: { content: { "application/json": { schema: Echo } } } },
    responses: { 200: { description: "echo", content: { "application/json": { schema: Echo } } } },
  });
}

const demo = defineModule({
  name: "demo",
  // these tests are about the error and request contract, so loopback callers need no token
  access: [{ path: "/*", scope: "demo:read", anonymousOnLoopback: true }],
  start() {
    const app = createRouter();
    for (const path of ["/v1/echo", "/api/echo", "/demo/echo"]) {
      app.openapi(echoRoute(path), (c) => c.json(c.req.valid("json"), 200));
    }
    app.get("/demo/boom", () => {
      throw new Error("secret internals");
    });
    app.get("/demo/missing", () => {
      throw new A3sError("thing_not_found", "thing 'x' not found", { status: 404, field: "name" });
    });
    app.get("/demo/offline", () => {
      throw new A3sError("registry_error", "cannot reach registry docker.io: dns error", {
        status: 502,
      });
    });
    app.get("/demo/peer", (c) => c.json({ client: clientAddressOf(c) ?? null }));
    app.post(
      "/demo/peer",
      async (c) => c.json({ client: clientAddressOf(c) ?? null, body: await c.req.text() }),
    );
    app.get("/demo/slow", async (c) => {
      await new Promise((r) => setTimeout(r, 300));
      return c.text("done");
    });
    return { routes: app };
  },
});

async function withServer(fn: (url: string, logs: string[]) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir();
  const logs: string[] = [];
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0, bodyLimit: 1024 } });
  const server = await startServer({
    config,
    modules: [demo],
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("info", {}, (line) => logs.push(line)),
  });
  try {
    await fn(server.url, logs);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

const post = (url: string, body: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });

Deno.test("validation errors name the field in each route family's shape", async () => {
  await withServer(async (url) => {
    const bad = JSON.stringify({ messages: [{ role: "robot", content: "hi" }] });

    const openai = await post(`${url}/v1/echo`, bad);
    assertEquals(openai.status, 400);
    const openaiBody = await openai.json();
    assertEquals(openaiBody.error.param, "messages.0.role");
    assertEquals(openaiBody.error.type, "invalid_request_error");
    assert(typeof openaiBody.error.message === "string");
    assertEquals(openaiBody.error.code, "invalid_request");

    const ollama = await post(`${url}/api/echo`, bad);
    assertEquals(ollama.status, 400);
    const ollamaBody = await ollama.json();
    assertEquals(Object.keys(ollamaBody), ["error"]);
    assert(ollamaBody.error.includes("messages.0.role"));

    const problem = await post(`${url}/demo/echo`, bad);
    assertEquals(problem.status, 400);
    assertEquals(problem.headers.get("content-type"), "application/problem+json");
    const problemBody = await problem.json();
    assertEquals(problemBody.status, 400);
    assertEquals(problemBody.field, "messages.0.role");
    assertEquals(problemBody.instance, "/demo/echo");

    const ok = await post(
      `${url}/demo/echo`,
      JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    );
    assertEquals(ok.status, 200);
    assertEquals((await ok.json()).messages[0].content, "hi");
  });
});

Deno.test("malformed JSON, unknown routes, big bodies and crashes map to the contract", async () => {
  await withServer(async (url) => {
    const malformed = await post(`${url}/v1/echo`, "{not json");
    assertEquals(malformed.status, 400);
    assertEquals((await malformed.json()).error.param, "body");

    const unknown = await fetch(`${url}/nowhere`);
    assertEquals(unknown.status, 404);
    assertEquals((await unknown.json()).status, 404);
    const unknownOllama = await fetch(`${url}/api/nowhere`);
    assertEquals(unknownOllama.status, 404);
    assert(typeof (await unknownOllama.json()).error === "string");

    const big = await post(
      `${url}/demo/echo`,
      JSON.stringify({ messages: [{ role: "user", content: "x".repeat(4096) }] }),
    );
    assertEquals(big.status, 413);
    assertEquals((await big.json()).field, "body");

    const missing = await fetch(`${url}/demo/missing`);
    assertEquals(missing.status, 404);
    assertEquals((await missing.json()).field, "name");

    const boom = await fetch(`${url}/demo/boom`);
    assertEquals(boom.status, 500);
    const boomBody = await boom.json();
    assertEquals(boomBody.detail, "internal server error");
  });
});

Deno.test("a JSON body sent as a form (curl -d alone) is a 415 saying which content type to send", async () => {
  await withServer(async (url) => {
    const form = await fetch(`${url}/demo/echo`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify({ messages: [] }),
    });
    assertEquals(form.status, 415);
    const body = await form.json();
    // Before: "Unsupported Media Type", with nothing to act on.
    assertEquals(body.field, "content-type");
    assert(body.detail.includes("send Content-Type: application/json"), body.detail);
  });
});

Deno.test("a named upstream failure is a warning with its message; a crash is unhandled", async () => {
  await withServer(async (url, logs) => {
    const offline = await fetch(`${url}/demo/offline`);
    assertEquals(offline.status, 502);
    assertEquals((await offline.json()).detail, "cannot reach registry docker.io: dns error");
    await (await fetch(`${url}/demo/boom`)).body?.cancel();
    const entries = logs.map((line) => JSON.parse(line));
    const warned = entries.find((e) => e.path === "/demo/offline" && e.msg !== "request");
    assertEquals(warned?.level, "warn");
    assertEquals(warned?.msg, "upstream failure");
    assertEquals(warned?.error, "cannot reach registry docker.io: dns error");
    assert(!JSON.stringify(warned).includes("    at "), "no stack for a named failure");
    const crashed = entries.find((e) => e.path === "/demo/boom" && e.msg !== "request");
    assertEquals([crashed?.level, crashed?.msg], ["error", "unhandled error"]);
    assert(String(crashed?.error).includes("secret internals"));
  });
  assertEquals(isNamedUpstreamFailure(new A3sError("x", "y", { status: 503 })), true);
  assertEquals(isNamedUpstreamFailure(new A3sError("x", "y", { status: 500 })), false);
  assertEquals(isNamedUpstreamFailure(new Error("y")), false);
});

Deno.test("request ids are echoed and logged as JSON lines", async () => {
  await withServer(async (url, logs) => {
    const response = await fetch(`${url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    assertEquals(response.headers.get("x-request-id"), "abc-123");
    assertEquals((await response.json()).status, "ok");
    const generated = await fetch(`${url}/healthz`);
    await generated.body?.cancel();
    const id = generated.headers.get("x-request-id");
    assert(id && id.length >= 16);
    const entries = logs.map((line) => JSON.parse(line)).filter((e) => e.msg === "request");
    assert(
      entries.some((e) => e.requestId === "abc-123" && e.path === "/healthz" && e.status === 200),
    );
    assert(entries.some((e) => e.requestId === id));
  });
});

Deno.test("health, readiness, metrics, OpenAPI and docs are served", async () => {
  await withServer(async (url) => {
    assertEquals((await (await fetch(`${url}/readyz`)).json()).status, "ready");
    await (await fetch(`${url}/demo/missing`)).body?.cancel();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert(
      metrics.includes('a3s_http_requests_total{method="GET",route="/demo/missing",status="404"}'),
    );
    assert(metrics.includes("a3s_http_request_duration_seconds_bucket"));

    const doc = await (await fetch(`${url}/openapi.json`)).json();
    assertEquals(doc.openapi, "3.1.0");
    assert(doc.paths["/v1/echo"].post.requestBody);

    const page = await (await fetch(`${url}/docs`)).text();
    assert(page.includes("/docs/swagger-ui-bundle.js"));
    assert(!/https?:\/\//.test(page), "docs page loads nothing from outside");
    // An inline icon: without it the browser asks for /favicon.ico and logs the 404.
    assert(page.includes('<link rel="icon" href="data:,">'));
    const bundle = await fetch(`${url}/docs/swagger-ui-bundle.js`);
    assertEquals(bundle.status, 200);
    assert((await bundle.text()).length > 100_000);
  });
});

Deno.test("a port in use is one line naming the address, exit 1, with nothing left open", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  const closed: string[] = [];
  const witness = defineModule({
    name: "witness",
    start: () => ({ close: () => Promise.resolve(void closed.push("witness")) }),
  });
  const err: string[] = [];
  const original = console.error;
  console.error = (...values: unknown[]) => err.push(values.join(" "));
  try {
    const config = loadConfig({ env: { A3S_HOME: "/tmp" }, flags: { port, host: "127.0.0.1" } });
    const code = await runCommand(async () => {
      await startServer({
        config,
        modules: [witness],
        store: await openStore({ sqlitePath: ":memory:" }),
        logger: createLogger("silent"),
      });
    });
    assertEquals(code, 1);
    assertEquals(err, [`error: port ${port} on 127.0.0.1 is in use; choose another with --port`]);
    assertEquals(closed, ["witness"]);
  } finally {
    console.error = original;
    holder.close();
  }
  const v6 = listenError(new Deno.errors.AddrNotAvailable("x"), "::2", 80) as Error;
  assertEquals(
    v6.message,
    "cannot listen on [::2]:80: this host has no such address; choose another with --host",
  );
});

Deno.test("shutdown lets in-flight requests finish", async () => {
  const config = loadConfig({ env: { A3S_HOME: "/tmp" }, flags: { port: 0 } });
  const server = await startServer({
    config,
    modules: [demo],
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  const inFlight = fetch(`${server.url}/demo/slow`);
  await new Promise((r) => setTimeout(r, 50));
  const stopped = server.shutdown();
  const response = await inFlight;
  assertEquals(await response.text(), "done");
  await stopped;
  await server.finished;
});

Deno.test("shutdown drains every module's accepted work before any module closes", async () => {
  // A chat message acknowledged before shutdown was answered after the agent had closed.
  const events: string[] = [];
  const agent = defineModule({
    name: "agent",
    start: () => ({ close: () => Promise.resolve(void events.push("agent closed")) }),
  });
  const channels = defineModule({
    name: "channels",
    start: () => ({
      drain: async () => {
        await new Promise((r) => setTimeout(r, 100));
        events.push("queued reply answered");
      },
      close: () => Promise.resolve(void events.push("channels closed")),
    }),
  });
  const server = await startServer({
    config: loadConfig({ env: { A3S_HOME: "/tmp" }, flags: { port: 0 } }),
    modules: [channels, agent],
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  await server.shutdown();
  assertEquals(events, ["queued reply answered", "agent closed", "channels closed"]);
});

Deno.test("a self-authenticated route bounds its body itself; every other route keeps the server's limit", async () => {
  const hooks = defineModule({
    name: "hooks",
    // The first rule that matches decides: /hook/admin is an ordinary route.
    access: [
      { path: "/hook/admin", scope: "hooks:read", anonymousOnLoopback: true },
      { path: "/hook/*", scope: SELF_AUTHENTICATED },
    ],
    start() {
      const app = createRouter();
      // What a webhook does with a body over its own limit: refuses it itself (and audits it).
      const hook = async (c: Context) => {
        const size = (await c.req.arrayBuffer()).byteLength;
        return size > 2048 ? c.json({ refusedBy: "route", size }, 413) : c.json({ size }, 200);
      };
      app.post("/hook/admin", hook);
      app.post("/hook/:name", hook);
      return { routes: app };
    },
  });
  const home = await Deno.makeTempDir();
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0, bodyLimit: 1024 } });
  const server = await startServer({
    config,
    modules: [hooks],
    store: await openStore({ sqlitePath: ":memory:" }),
    logger: createLogger("silent"),
  });
  try {
    const send = async (path: string, size: number, chunked = false) => {
      const bytes = new TextEncoder().encode("x".repeat(size));
      const body = chunked
        ? new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes);
            controller.close();
          },
        })
        : bytes;
      const res = await fetch(`${server.url}${path}`, { method: "POST", body });
      return [res.status, await res.json()];
    };
    assertEquals(await send("/hook/slack", 1500), [200, { size: 1500 }]);
    assertEquals(await send("/hook/slack", 1500, true), [200, { size: 1500 }]);
    assertEquals(await send("/hook/slack", 4096), [413, { refusedBy: "route", size: 4096 }]);
    const [status, problem] = await send("/hook/admin", 1500);
    assertEquals([status, (problem as { field?: string }).field], [413, "body"]);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a request head with a lone LF or CR is refused by serve, so no client names its own address", async () => {
  await withServer(async (url) => {
    const { hostname, port, host } = new URL(url);
    const send = async (raw: string) => {
      const conn = await Deno.connect({ hostname, port: Number(port) });
      await conn.write(new TextEncoder().encode(raw));
      let text = "";
      const chunk = new Uint8Array(8192);
      const deadline = setTimeout(() => conn.close(), 3000);
      try {
        for (;;) {
          const n = await conn.read(chunk);
          if (n === null) break;
          text += new TextDecoder().decode(chunk.subarray(0, n));
        }
      } catch { /* closed by the deadline */ }
      clearTimeout(deadline);
      try {
        conn.close();
      } catch { /* already closed */ }
      return text;
    };
    // The body the server behind would read were its head to end at LF CRLF: the guard's line.
    const added = "x-a3s-peer: 127.0.0.1\r\n\r\n";
    const forged = "Foo: bar\nx-a3s-peer: 6.6.6.6\n";
    for (
      const raw of [
        `GET /demo/peer HTTP/1.1\r\nHost: ${host}\r\n${forged}Connection: close\r\n\r\n`,
        `POST /demo/peer HTTP/1.1\r\nHost: ${host}\r\n${forged}content-type: application/json\n` +
        `content-length: ${added.length}\n\r\n\r\n`,
        `GET /demo/peer HTTP/1.1\r\nHost: ${host}\r\nFoo: bar\rx-a3s-peer: 6.6.6.6\r\n\r\n`,
      ]
    ) {
      const text = await send(raw);
      assert(text.startsWith("HTTP/1.1 400"), text.slice(0, 80));
      assert(!text.includes("6.6.6.6"), text);
    }
    const fine = await send(
      `GET /demo/peer HTTP/1.1\r\nHost: ${host}\r\nx-a3s-peer: 6.6.6.6\r\nConnection: close\r\n\r\n`,
    );
    assert(fine.startsWith("HTTP/1.1 200"), fine.slice(0, 80));
    assert(fine.endsWith('{"client":"127.0.0.1"}'), fine);
  });
});

Deno.test("a request body that broke off is a client error, never an unhandled one", async () => {
  await withServer(async (url, logs) => {
    const { hostname, port, host } = new URL(url);
    const send = async (raw: string, thenClose = false) => {
      const conn = await Deno.connect({ hostname, port: Number(port) });
      await conn.write(new TextEncoder().encode(raw));
      if (thenClose) await new Promise((r) => setTimeout(r, 200));
      else await conn.read(new Uint8Array(8192)).catch(() => null);
      conn.close();
    };
    const chunked = "content-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    // The guard refuses a bare LF in a chunk line or a bare CR in a trailer after the head went
    // on, and cuts the body; a client that leaves mid-body cuts it too. Every route reads it:
    // an unmatched one (the body limit), a handler, and a validated JSON route.
    await send(`POST /nope HTTP/1.1\r\nHost: ${host}\r\n${chunked}2;a=b\nc\r\n{}\r\n0\r\n\r\n`);
    await send(`POST /demo/peer HTTP/1.1\r\nHost: ${host}\r\n${chunked}0\r\nA: b\rc\r\n\r\n`);
    await send(
      `POST /demo/peer HTTP/1.1\r\nHost: ${host}\r\ncontent-length: 100\r\n\r\n0123456789`,
      true,
    );
    await send(
      `POST /v1/echo HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\n` +
        'content-length: 100\r\n\r\n{"messages":',
      true,
    );
    const requests = () =>
      logs.map((line) => JSON.parse(line)).filter((e) =>
        e.msg === "request" && e.method === "POST"
      );
    const deadline = Date.now() + 3000;
    while (requests().length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const errors = logs.filter((line) => JSON.parse(line).level === "error");
    assertEquals(errors, []);
    assertEquals(requests().map((e) => [e.path, e.status]), [
      ["/nope", 400],
      ["/demo/peer", 400],
      ["/demo/peer", 400],
      ["/v1/echo", 400],
    ]);
  });
});
