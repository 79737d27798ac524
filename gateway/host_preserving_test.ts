import { assertEquals, assertThrows } from "@a3s/common/testing";
import { config, rawRequest, startBackend, startTestGateway } from "./_test_support.ts";

function head(path: string, host: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close`;
}

Deno.test("preserveHost: the backend sees the client's Host; otherwise its own", async () => {
  const kept = startBackend("kept");
  const own = startBackend("own");
  const gw = await startTestGateway({
    services: {
      kept: { backends: [{ url: `${kept.url}/base/` }], preserveHost: true },
      own: { backends: [{ url: own.url }] },
    },
    routers: {
      kept: { rule: { hosts: ["app.example"] }, service: "kept" },
      own: { rule: { hosts: ["other.example"] }, service: "own" },
    },
  });
  try {
    const a = await rawRequest(gw.port, head("/x/y?q=1", "app.example:8443"));
    assertEquals(a.status, 200);
    const seen = JSON.parse(a.body);
    assertEquals(seen.backend, "kept");
    assertEquals(seen.headers.host, "app.example:8443");
    assertEquals(seen.path, "/base/x/y");
    assertEquals(seen.search, "?q=1");
    assertEquals(seen.headers["x-forwarded-host"], "app.example:8443");

    const b = await rawRequest(gw.port, head("/z", "other.example"));
    const other = JSON.parse(b.body);
    assertEquals(other.backend, "own");
    assertEquals(other.headers.host, new URL(own.url).host);
    assertEquals(other.headers["x-forwarded-host"], "other.example");
  } finally {
    await gw.close();
    await kept.close();
    await own.close();
  }
});

Deno.test("preserveHost: a reload keeps serving, and https backends are refused by name", async () => {
  const kept = startBackend("kept");
  const gw = await startTestGateway({
    services: { kept: { backends: [{ url: kept.url }], preserveHost: true } },
    routers: { kept: { rule: {}, service: "kept" } },
  });
  try {
    gw.gateway.apply(gw.gateway.config);
    const res = await rawRequest(gw.port, head("/", "reloaded.example"));
    assertEquals(JSON.parse(res.body).headers.host, "reloaded.example");
    assertThrows(
      () =>
        config({
          services: { s: { backends: [{ url: "https://10.0.0.1" }], preserveHost: true } },
          routers: {},
        }),
      Error,
      "services.s.backends.0.url: preserveHost needs http backends",
    );
  } finally {
    await gw.close();
    await kept.close();
  }
});
