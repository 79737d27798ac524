import { assert, assertEquals } from "@a3s/common/testing";
import { createTestDatabase } from "@a3s/common/testing";
import { runCli, spawnServe, waitReady } from "./_serve.ts";

Deno.test("serve answers health, OpenAPI, docs and metrics, then stops on SIGTERM", async () => {
  const home = await Deno.makeTempDir();
  const server = await spawnServe(["--home", home]);
  try {
    const health = await fetch(`${server.url}/healthz`);
    assertEquals((await health.json()).status, "ok");
    assert(health.headers.get("x-request-id"));
    assertEquals((await waitReady(server.url)).status, "ready");
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    assertEquals(doc.openapi, "3.1.0");
    assertEquals((await fetch(`${server.url}/docs`)).status, 200);
    const notFound = await fetch(`${server.url}/no/such/route`);
    assertEquals(notFound.status, 404);
    assertEquals(notFound.headers.get("content-type"), "application/problem+json");
    await notFound.body?.cancel();
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert(metrics.includes('route="/healthz"'));
  } finally {
    const status = await server.stop("SIGTERM");
    assertEquals(status.code, 0);
    assert(server.logs().includes('"msg":"stopped"'), "graceful shutdown logged");
    assert(server.logs().includes('"msg":"request"'), "requests logged as JSON");
  }
  const stat = await Deno.stat(`${home}/a3s.db`);
  assert(stat.isFile, "SQLite store lives in the data dir");
  await Deno.remove(home, { recursive: true });
});

Deno.test("the CLI reports bad usage and bad config as one line with exit code 2", async () => {
  const unknownFlag = await runCli(["serve", "--bogus"]);
  assertEquals(unknownFlag.code, 2);
  assertEquals(unknownFlag.stderr.trim().split("\n").length, 1);
  assert(unknownFlag.stderr.includes("--bogus"));

  const badPort = await runCli(["serve", "--port", "abc"]);
  assertEquals(badPort.code, 2);
  assert(badPort.stderr.includes("--port"));

  const badEnv = await runCli(["serve"], { env: { A3S_PORT: "70000" } });
  assertEquals(badEnv.code, 2);
  assertEquals(badEnv.stderr.trim().split("\n").length, 1);
  assert(badEnv.stderr.includes("config port") && badEnv.stderr.includes("A3S_PORT"));

  const unknownCommand = await runCli(["frobnicate"]);
  assertEquals(unknownCommand.code, 2);

  const help = await runCli(["serve", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("--port"));
  const top = await runCli(["--help"]);
  assertEquals(top.code, 0);
  assert(top.stdout.includes("serve"));
});

Deno.test("a module that cannot start stops serve with one line and exit code 1", async () => {
  const home = await Deno.makeTempDir();
  try {
    const unreachable = await runCli(["serve", "--port", "0", "--home", home], {
      env: { A3S_EVENT_URL: "nats://127.0.0.1:9" },
    });
    assertEquals(unreachable.code, 1);
    const lines = unreachable.stderr.trim().split("\n").filter((line) => line.startsWith("error"));
    assertEquals(lines.length, 1, unreachable.stderr);
    assert(lines[0].includes("NATS"), lines[0]);
    assert(!unreachable.stderr.includes("    at "), "no stack trace");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("several serve processes share one PostgreSQL", async (t) => {
  const database = await createTestDatabase("a3s_serve");
  if (!database) {
    await t.step({ name: "SKIPPED: PostgreSQL unavailable", ignore: true, fn: () => {} });
    return;
  }
  const env = { A3S_DATABASE_URL: database.url };
  const homes = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const servers = await Promise.all(homes.map((home) => spawnServe(["--home", home], env)));
  try {
    for (const server of servers) {
      assertEquals((await waitReady(server.url)).status, "ready");
      assert(server.logs().includes('"store":"postgres"'));
    }
  } finally {
    for (const server of servers) assertEquals((await server.stop()).code, 0);
    await database.drop();
    for (const home of homes) await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an open event stream does not hold up a graceful shutdown", async () => {
  const home = await Deno.makeTempDir();
  const token = "e2e-token-0123456789";
  const server = await spawnServe(["--home", home], { A3S_TOKENS: token });
  const events = await fetch(`${server.url}/lane/v1/events`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assertEquals(events.status, 200);
  const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("event: ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`event stream ended before 'ready': ${seen}`);
    seen += value;
  }
  const started = Date.now();
  const status = await server.stop("SIGTERM");
  const elapsed = Date.now() - started;
  assertEquals(status.code, 0);
  assert(elapsed < 5000, `shutdown took ${elapsed} ms with a stream open`);
  assert(!server.logs().includes("shutdown timed out"));
  await reader.cancel().catch(() => {});
  await Deno.remove(home, { recursive: true });
});
