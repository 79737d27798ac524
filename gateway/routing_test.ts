import { assert, assertEquals } from "@a3s/common/testing";
import { hostMatches, normalizePath, prefixMatches } from "./matcher.ts";
import {
  base,
  getWithHost,
  requestWithHost,
  startBackend,
  startTestGateway,
} from "./_test_support.ts";

Deno.test("host wildcards need an extra label; prefixes match on segment boundaries", () => {
  assert(hostMatches("*.example.com", "a.example.com"));
  assert(hostMatches("*.example.com", "a.b.example.com"));
  assert(!hostMatches("*.example.com", "example.com"));
  assert(!hostMatches("*.example.com", "evilexample.com"));
  assert(prefixMatches("/api", "/api"));
  assert(prefixMatches("/api", "/api/x"));
  assert(!prefixMatches("/api", "/apix"));
});

Deno.test("paths: dot segments resolve, encoded slashes and backslashes are refused", () => {
  assertEquals(normalizePath("/public/../admin"), "/admin");
  assertEquals(normalizePath("/a/./b//c"), "/a/b/c");
  assertEquals(normalizePath("/../../etc/passwd"), "/etc/passwd");
  assertEquals(normalizePath("/public/%2e%2e/admin"), "/admin");
  assertEquals(normalizePath("/public/..%2Fadmin"), undefined);
  assertEquals(normalizePath("/public/..%5cadmin"), undefined);
  assertEquals(normalizePath("/bad%zz"), undefined);
});

Deno.test("routers match host, path, method and headers, by priority then specificity", async () => {
  const a = startBackend("a");
  const b = startBackend("b");
  const c = startBackend("c");
  const d = startBackend("d");
  const gw = await startTestGateway({
    services: {
      a: { backends: [{ url: a.url }] },
      b: { backends: [{ url: b.url }] },
      c: { backends: [{ url: c.url }] },
      d: { backends: [{ url: d.url }] },
    },
    routers: {
      catchAll: { rule: { pathPrefix: ["/"] }, service: "a" },
      api: { rule: { hosts: ["*.example.com"], pathPrefix: ["/api"] }, service: "b" },
      exact: { rule: { path: ["/api/health"] }, service: "c" },
      canary: {
        rule: { pathPrefix: ["/api"], headers: { "x-canary": "1" }, methods: ["POST"] },
        service: "d",
        priority: 10,
      },
    },
  });
  const get = async (
    path: string,
    init: { host?: string; method?: string; headers?: Record<string, string> } = {},
  ) => {
    if (init.host || init.method) {
      const host = init.host ?? "localhost";
      const res = await requestWithHost(gw.port, init.method ?? "GET", path, host, init.headers);
      return res.json.backend;
    }
    const res = await fetch(`${base(gw)}${path}`, { headers: init.headers });
    return (await res.json()).backend;
  };
  try {
    assertEquals(await get("/x"), "a");
    assertEquals(await get("/api/users", { host: "shop.example.com" }), "b");
    assertEquals(await get("/api/users", { host: "example.com" }), "a");
    assertEquals(await get("/api/health", { host: "shop.example.com" }), "c");
    assertEquals(
      await get("/api/x", { method: "POST", headers: { "x-canary": "1" }, host: "s.example.com" }),
      "d",
    );
    assertEquals(await get("/api/x", { headers: { "x-canary": "1" }, host: "s.example.com" }), "b");
    // Traversal resolves before matching, so /api/../x is /x for rules and backend alike.
    const res = await fetch(`${base(gw)}/api/..%2Fx`);
    assertEquals(res.status, 400);
    await res.body?.cancel();
  } finally {
    await gw.close();
    await Promise.all([a, b, c, d].map((s) => s.close()));
  }
});

Deno.test("no matching router is 404; a spoofed Host header is refused or unrouted", async () => {
  const a = startBackend("a");
  const gw = await startTestGateway({
    services: { a: { backends: [{ url: a.url }] } },
    routers: { only: { rule: { hosts: ["app.local"] }, service: "a" } },
  });
  try {
    const miss = await getWithHost(gw.port, "/", "other.local");
    assertEquals(miss.status, 404);
    assertEquals((miss.json.error as { status: number }).status, 404);
    const bad = await getWithHost(gw.port, "/", "app.local@evil.com");
    assertEquals(bad.status, 400);
    const ok = await getWithHost(gw.port, "/", "APP.local:80");
    assertEquals(ok.json.backend, "a");
    // The client's Host reaches the backend as X-Forwarded-Host, never as its own Host.
    const headers = ok.json.headers as Record<string, string>;
    assertEquals(headers["x-forwarded-host"], "APP.local:80");
  } finally {
    await gw.close();
    await a.close();
  }
});
