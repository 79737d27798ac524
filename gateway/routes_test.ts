import { assert, assertEquals } from "@a3s/common/testing";
import { createLogger, loadConfig, openStore, startServer } from "@a3s/common";
import { gatewayModule } from "./routes.ts";
import { startBackend } from "./_test_support.ts";

const TOKEN = "gateway-admin-token-0123456789";

Deno.test("under serve: the gateway listens, the admin API needs a token and replaces config", async () => {
  const home = await Deno.makeTempDir({ prefix: "gateway_http_" });
  const a = startBackend("a");
  const b = startBackend("b");
  const file = `${home}/gateway.yaml`;
  await Deno.writeTextFile(
    file,
    `services:\n  s: { backends: [{ url: "${a.url}" }] }\nrouters:\n  r: { rule: {}, service: s }\n`,
  );
  await Deno.writeTextFile(
    `${home}/config.json`,
    JSON.stringify({
      security: { tokens: [{ token: TOKEN, scopes: ["admin"] }] },
      gateway: { configFile: file, port: 0, admin: true },
    }),
  );
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0 } });
  const server = await startServer({
    config,
    modules: [gatewayModule()],
    store: await openStore({ sqlitePath: `${home}/a3s.db` }),
    logger: createLogger("silent"),
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    const anonymous = await fetch(`${server.url}/gateway/v1/status`);
    assert(anonymous.status === 401 || anonymous.status === 403, String(anonymous.status));
    await anonymous.body?.cancel();

    const status = await (await fetch(`${server.url}/gateway/v1/status`, { headers: auth })).json();
    assertEquals(status.routers[0].name, "r");
    const gw = `http://127.0.0.1:${status.address.port}`;
    assertEquals((await (await fetch(gw)).json()).backend, "a");

    const bad = await fetch(`${server.url}/gateway/v1/config`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ routers: { r: { rule: {}, service: "nope" } } }),
    });
    assertEquals(bad.status, 400);
    assert(JSON.stringify(await bad.json()).includes("routers.r.service"));

    const put = await fetch(`${server.url}/gateway/v1/config`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        services: { s: { backends: [{ url: b.url }] } },
        routers: { r: { rule: {}, service: "s" } },
      }),
    });
    assertEquals(put.status, 200);
    await put.body?.cancel();
    assertEquals((await (await fetch(gw)).json()).backend, "b");

    const usage = await (await fetch(`${server.url}/gateway/v1/usage`, { headers: auth })).json();
    assertEquals(usage, { usage: [] });

    const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    assert(metrics.includes('gateway_requests_total{router="r"'), "per-router metrics exported");
  } finally {
    await server.shutdown();
    await a.close();
    await b.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("under serve without a config file or admin, the gateway stays off", async () => {
  const started = await gatewayModule().start(
    {
      config: { host: "127.0.0.1", port: 0, admin: false },
    } as Parameters<ReturnType<typeof gatewayModule>["start"]>[0],
  );
  assertEquals(started.routes, undefined);
  assertEquals(started.api?.gateway, undefined);
});
