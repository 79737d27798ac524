/** The HTTP API on a real server, over the real namespace driver. */
import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { eventModule } from "@a3s/event/routes";
import { boxModule } from "./routes.ts";
import { openBoxRuntime } from "./runtime.ts";
import { addBusybox } from "./_test_support.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

const TOKEN = "box-test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const home = await makeTestHomeDir("a3sbh");
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: { tokens: [{ token: TOKEN, scopes: ["box:exec", "event:read"] }] },
      event: { pollMs: 20 },
    }),
  );
  const seed = await openStore({ sqlitePath: `${home}/a3s.db` });
  const runtime = await openBoxRuntime({ store: seed, home });
  await addBusybox(runtime.images);
  runtime.close();
  await seed.close();
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 } });
  const server = await startServer({
    config,
    modules: [boxModule(), eventModule()],
    store: await openStore({ sqlitePath: `${home}/a3s.db` }),
    logger: createLogger("silent"),
  });
  try {
    await fn(server.url);
  } finally {
    await server.shutdown();
    removeTestHome(home);
  }
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
) {
  const response = await fetch(`${url}${path}`, {
    method,
    signal,
    headers: body === undefined ? AUTH : { ...AUTH, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

Deno.test("box HTTP API: the OpenAPI pattern for a log size is one a client can use", async () => {
  await withServer(async (url) => {
    const doc = await (await fetch(`${url}/openapi.json`)).json();
    const { pattern } = doc.components.schemas.BoxCreateRequest.properties.logOptions.properties
      .maxSize;
    // JSON Schema patterns are ECMA-262 source with no flags, as a generated client reads them.
    const client = new RegExp(pattern, "u");
    for (const size of ["20m", "20M", "10MiB", "1.5g", "4096", "512 kb"]) {
      assert(client.test(size), `${pattern} refuses ${size}`);
    }
    assert(!client.test("lots"));
    assert(!pattern.endsWith("/i"), pattern);
  });
});

Deno.test("box HTTP API: create, exec (JSON and SSE), logs, stats, delete", async () => {
  await withServer(async (url) => {
    const anonymous = await fetch(`${url}/box/v1/boxes`);
    await anonymous.body?.cancel();
    assert(anonymous.status === 401 || anonymous.status === 403, `got ${anonymous.status}`);

    const bad = await call(url, "POST", "/box/v1/boxes", {
      image: "busybox",
      limits: { memoryBytes: 5 },
    });
    assertEquals(bad.status, 400);
    assertEquals(bad.json.field, "limits.memoryBytes");
    const badLog = await call(url, "POST", "/box/v1/boxes", {
      image: "busybox",
      logOptions: { maxSize: "lots" },
    });
    assertEquals([badLog.status, badLog.json.field], [400, "logOptions.maxSize"]);

    const missing = await call(url, "POST", "/box/v1/boxes", { image: "nosuch:1" });
    assertEquals([missing.status, missing.json.field], [404, "image"]);

    const refused = await call(url, "POST", "/box/v1/boxes", {
      image: "busybox",
      volumes: [{ host: "/etc", guest: "/host-etc" }],
    });
    assertEquals([refused.status, refused.json.field], [403, "volumes.0.host"]);

    const created = await call(url, "POST", "/box/v1/boxes", {
      image: "busybox",
      name: "api-box",
      command: ["sh", "-c", "echo started; sleep 60"],
      logOptions: { maxSize: "1m", maxFile: 2 },
    });
    assertEquals(created.status, 201);
    assertEquals([created.json.state, created.json.driver], ["running", "namespace"]);
    // `inspect` shows the bound the box's logs keep to.
    assertEquals(created.json.logBound, { maxSize: 1024 * 1024, maxFiles: 2 });

    const exec = await call(url, "POST", "/box/v1/boxes/api-box/exec", {
      command: ["sh", "-c", "cat; echo bad >&2; exit 4"],
      stdin: "piped in",
    });
    assertEquals(exec.json, { exitCode: 4, signal: 0, stdout: "piped in", stderr: "bad\n" });

    // Input larger than a pipe holds, to a command that echoes it: written before the output
    // was read, `cat` filled its stdout and waited for a reader, and the request never ended.
    // To a command that reads none of it, the write failed and the answer was a 500.
    const input = "0123456789abcdef".repeat(65536);
    const echoed = await call(url, "POST", "/box/v1/boxes/api-box/exec", {
      command: ["cat"],
      stdin: input,
    }, AbortSignal.timeout(30_000));
    assertEquals([echoed.status, echoed.json.exitCode, echoed.json.stdout === input], [
      200,
      0,
      true,
    ]);
    const unread = await call(url, "POST", "/box/v1/boxes/api-box/exec", {
      command: ["true"],
      stdin: input,
    }, AbortSignal.timeout(30_000));
    assertEquals([unread.status, unread.json.exitCode], [200, 0], JSON.stringify(unread.json));

    const streamed = await fetch(`${url}/box/v1/boxes/api-box/exec`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ command: ["sh", "-c", "echo one; echo two >&2"], stream: true }),
    });
    assertEquals(streamed.headers.get("content-type")?.startsWith("text/event-stream"), true);
    const events = await streamed.text();
    assert(/event: stdout\ndata: one/.test(events), events);
    assert(/event: stderr\ndata: two/.test(events), events);
    assert(events.includes('event: exit\ndata: {"exitCode":0,"signal":0}'), events);

    // An exec that prints more than a JSON answer holds (6 MiB): its start and end come back,
    // the middle counted; before, all of it was held in the server's memory.
    const flood = await call(url, "POST", "/box/v1/boxes/api-box/exec", {
      command: ["sh", "-c", "head -c 6291456 /dev/zero | tr '\\0' a; echo end"],
    });
    assertEquals(flood.json.exitCode, 0);
    assert(flood.json.stdout.length < 4.5 * 1024 * 1024, `${flood.json.stdout.length} characters`);
    assert(flood.json.stdout.includes("[... 2097156 bytes of output dropped ...]"));
    assert(flood.json.stdout.endsWith("aaaend\n"));

    const logs = await call(url, "GET", "/box/v1/boxes/api-box/logs");
    assertEquals(logs.json.stdout, "started\n");
    const stats = await call(url, "GET", "/box/v1/boxes/api-box/stats");
    assertEquals(stats.status, 200);
    const list = await call(url, "GET", "/box/v1/boxes");
    assertEquals(list.json.boxes.length, 1);
    const info = await call(url, "GET", "/box/v1/info");
    assertEquals(info.json.defaultDriver, "namespace");

    const running = await call(url, "DELETE", "/box/v1/boxes/api-box");
    assertEquals(running.status, 409);
    const removed = await call(url, "DELETE", "/box/v1/boxes/api-box?force=true");
    assertEquals(removed.status, 200);
    assertEquals((await call(url, "GET", "/box/v1/boxes/api-box")).status, 404);
  });
});

Deno.test("box HTTP API: a box's lifecycle arrives on the event bus as box.<id>.<state>", async () => {
  await withServer(async (url) => {
    const controller = new AbortController();
    const response = await fetch(`${url}/event/v1/stream?subjects=box.>`, {
      headers: AUTH,
      signal: controller.signal,
    });
    assertEquals(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: ready")) text += (await reader.read()).value ?? "";
    const created = await call(url, "POST", "/box/v1/boxes", {
      image: "busybox",
      name: "bus-box",
      command: ["sh", "-c", "echo output-not-on-the-bus; exit 3"],
      env: { TOKEN_NOT_ON_THE_BUS: "s3cret" },
    });
    assertEquals(created.status, 201, JSON.stringify(created.json));
    const id = created.json.id as string;
    for (let i = 0; i < 200; i++) {
      if ((await call(url, "GET", "/box/v1/boxes/bus-box")).json.state === "exited") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals((await call(url, "DELETE", "/box/v1/boxes/bus-box")).status, 200);
    const events = () =>
      [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]))
        .filter((e) => e.subject !== undefined);
    const deadline = Date.now() + 10_000;
    while (!events().some((e) => e.subject.endsWith(".removed")) && Date.now() < deadline) {
      text += (await reader.read()).value ?? "";
    }
    controller.abort();
    await reader.cancel().catch(() => {});
    assertEquals(events().map((e) => e.subject), [
      `box.${id}.created`,
      `box.${id}.started`,
      `box.${id}.exited`,
      `box.${id}.removed`,
    ]);
    const exited = events()[2];
    assertEquals([exited.specversion, exited.type, exited.partitionkey], [
      "1.0",
      "a3s.box.exited",
      id,
    ]);
    assertEquals(exited.data, {
      boxId: id,
      name: "bus-box",
      image: "busybox",
      driver: "namespace",
      exitCode: 3,
      reason: "exited",
    });
    assert(!text.includes("output-not-on-the-bus") && !text.includes("s3cret"), text);
  });
});
