import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { GatewayConfigError, parseGatewayConfig } from "./config_file.ts";
import { startGateway } from "./server.ts";
import { startBackend } from "./_test_support.ts";

Deno.test("config errors name the file, the key and the line, for YAML and JSON", () => {
  const yaml = `services:
  app:
    backends:
      - url: http://127.0.0.1:9000
routers:
  app:
    rule: { pathPrefix: ["/"] }
    service: missing
`;
  const e = assertThrows(() => parseGatewayConfig(yaml, "gw.yaml"), GatewayConfigError);
  assertEquals(e.message, "gw.yaml:8: routers.app.service: no service named 'missing'");
  assertEquals(e.line, 8);

  const typo = assertThrows(
    () =>
      parseGatewayConfig(
        "services:\n  a:\n    backends: [{url: 'http://x'}]\n    timeout: 5\n",
        "t.yaml",
      ),
    GatewayConfigError,
  );
  assertEquals(typo.key, "services.a.timeout");
  assertEquals(typo.line, 4);

  const json =
    '{\n  "services": {\n    "a": {\n      "backends": [{ "url": "ftp://x" }]\n    }\n  }\n}';
  const bad = assertThrows(() => parseGatewayConfig(json, "gw.json"), GatewayConfigError);
  assertEquals(bad.key, "services.a.backends.0.url");
  assertEquals(bad.line, 4);

  const syntax = assertThrows(
    () => parseGatewayConfig("routers: [\n", "s.yaml"),
    GatewayConfigError,
  );
  assert(syntax.message.startsWith("s.yaml:"), syntax.message);

  const both = assertThrows(
    () =>
      parseGatewayConfig("middlewares:\n  m:\n    cors: { origins: ['*'] }\n    compress: {}\n"),
    GatewayConfigError,
  );
  assertEquals(both.key, "middlewares.m");
});

Deno.test("hot reload applies a good file, keeps the running config on a bad one, and drops no request", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/gateway.yaml`;
  let releaseSlow!: () => void;
  const slowGate = new Promise<void>((r) => (releaseSlow = r));
  const a = startBackend("a", async (r) => {
    if (new URL(r.url).pathname === "/slow") await slowGate;
    return Response.json({ backend: "a" });
  });
  const b = startBackend("b");
  const write = (url: string) =>
    Deno.writeTextFile(
      file,
      `services:\n  s:\n    backends: [{ url: "${url}" }]\nrouters:\n  r:\n    rule: {}\n    service: s\n`,
    );
  await write(a.url);
  const running = await startGateway({ configFile: file, port: 0, reloadDebounceMs: 20 });
  const url = `http://127.0.0.1:${running.port}`;
  const until = async (check: () => Promise<boolean> | boolean) => {
    for (let i = 0; i < 150; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("condition not reached");
  };
  try {
    // A request in flight on the old config...
    const slow = fetch(`${url}/slow`).then((r) => r.json());
    await until(() => a.seen.length > 0);
    // ...survives the switch to a new backend.
    await write(b.url);
    await until(async () => (await (await fetch(url)).json()).backend === "b");
    releaseSlow();
    assertEquals((await slow).backend, "a");

    await Deno.writeTextFile(file, "routers:\n  r:\n    service: nowhere\n");
    await until(() => running.lastReloadError() !== undefined);
    assert(running.lastReloadError()!.includes("gateway.yaml:"), running.lastReloadError());
    assertEquals((await (await fetch(url)).json()).backend, "b");
  } finally {
    await running.close();
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});
