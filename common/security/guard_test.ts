import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { createLogger } from "../logger.ts";
import { openStore, type Store } from "../store.ts";
import { UsageError } from "../errors.ts";
import { metricsRegistry } from "../telemetry.ts";
import type { AccessRule } from "../module.ts";
import { loadSecurityConfig, type SecurityConfig } from "./config.ts";
import { clientAddress, clientAddressOf, createSecurity, metricMethod } from "./guard.ts";
import { parseCidr } from "./addresses.ts";
import { TokenStore } from "./tokens.ts";
import { callerOf } from "./caller.ts";

const RULES: AccessRule[] = [
  { path: "/api/chat", methods: ["POST"], scope: "power:read", anonymousOnLoopback: true },
  { path: "/api/tags", methods: ["GET"], scope: "power:read", anonymousOnLoopback: true },
  { path: "/scan/v1/*", scope: "scan:read", anonymousOnLoopback: true },
  { path: "/api/pull", methods: ["POST"], scope: "power:write" },
  { path: "/box/v1/*", scope: "box:exec" },
  { path: "/hooks/v1/*", scope: "self-authenticated" },
];

async function harness(
  env: Record<string, string> = {},
  host = "127.0.0.1",
  store?: Store,
) {
  const db = store ?? await openStore({ sqlitePath: ":memory:" });
  const config: SecurityConfig = loadSecurityConfig({}, { env });
  const security = await createSecurity({
    config,
    host,
    store: db,
    logger: createLogger("silent"),
    rules: RULES,
  });
  const app = new OpenAPIHono();
  app.use("*", requestId());
  app.use("*", security.middleware(app));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.post("/api/chat", (c) => c.json({ ok: true, caller: callerOf(c.req.raw) }));
  app.get("/api/tags", (c) => c.json({ models: [] }));
  app.post("/scan/v1/text", (c) => c.json({ caller: callerOf(c), rawCaller: callerOf(c.req.raw) }));
  app.post("/api/pull", (c) => c.json({ pulled: true }));
  app.get("/api/tags/:name", (c) => c.json({ error: "not found" }, 404));
  app.post("/box/v1/run", (c) => c.json({ ran: true }));
  app.post("/v1/files", (c) => c.json({ uploaded: true }));
  app.post(
    "/hooks/v1/telegram",
    (c) =>
      c.req.header("x-signature") === "valid"
        ? c.json({ ok: true })
        : c.json({ error: "bad" }, 401),
  );
  app.get("/slow", async (c) => {
    await new Promise((r) => setTimeout(r, 300));
    return c.json({ late: true });
  });
  app.notFound((c) => c.json({ error: "no route" }, 404));
  const call = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    app.fetch(
      new Request(`http://127.0.0.1:11434${path}`, {
        ...init,
        headers: { host: "127.0.0.1:11434", ...init.headers },
      }),
    );
  return { app, call, security, store: db, close: () => store ? Promise.resolve() : db.close() };
}

const json = { "content-type": "application/json" };

Deno.test("guard: loopback anonymous only where the rule says; tokens, scopes, revocation", async () => {
  const h = await harness();
  try {
    assertEquals(
      (await h.call("/api/chat", { method: "POST", body: "{}", headers: json })).status,
      200,
    );
    // The openai client always sends some key; an unknown one is ignored on anonymous routes.
    assertEquals(
      (await h.call("/api/tags", { headers: { authorization: "Bearer ollama" } })).status,
      200,
    );
    const pull = await h.call("/api/pull", { method: "POST", body: "{}", headers: json });
    assertEquals(pull.status, 401);
    assertEquals(pull.headers.get("www-authenticate"), 'Bearer realm="a3s"');
    assert(typeof (await pull.json()).error === "string", "Ollama-shaped error on /api");
    const box = await h.call("/box/v1/run", { method: "POST", body: "{}", headers: json });
    assertEquals(box.status, 401);
    assertEquals((await box.json()).status, 401, "problem+json on module routes");
    // A route nobody wrote a rule for needs admin.
    assertEquals((await h.call("/slow")).status, 401);

    const reader = await h.security.tokens.create({ scopes: ["power:read"] });
    const writer = await h.security.tokens.create({ scopes: ["power:write"] });
    const denied = await h.call("/api/pull", {
      method: "POST",
      body: "{}",
      headers: { ...json, authorization: `Bearer ${reader.token}` },
    });
    assertEquals(denied.status, 403);
    assertEquals(
      (await h.call("/api/pull", {
        method: "POST",
        body: "{}",
        headers: { ...json, "x-api-key": writer.token },
      })).status,
      200,
    );
    await h.security.tokens.revoke(writer.id);
    const revoked = await h.call("/api/pull", {
      method: "POST",
      body: "{}",
      headers: { ...json, "x-api-key": writer.token },
    });
    assertEquals(revoked.status, 401);
    // A forged token with a real id and a wrong secret is refused too.
    const forged = `${reader.token.slice(0, 21)}${"A".repeat(43)}`;
    assertEquals(
      (await h.call("/api/pull", {
        method: "POST",
        body: "{}",
        headers: { ...json, authorization: `Bearer ${forged}` },
      })).status,
      401,
    );
    const metrics = await metricsRegistry.getSingleMetricAsString("a3s_security_denials_total");
    assert(/reason="missing_scope"/.test(metrics) && /reason="bad_token"/.test(metrics));
  } finally {
    await h.close();
  }
});

Deno.test("guard: OpenAI-shaped 401 on /v1 and config tokens with scopes", async () => {
  const h = await harness({ A3S_TOKENS: "cfg-token-0123456789=box:exec" });
  try {
    const r = await h.call("/box/v1/run", {
      method: "POST",
      body: "{}",
      headers: { ...json, authorization: "Bearer cfg-token-0123456789" },
    });
    assertEquals(r.status, 200);
    const missing = await h.call("/v1/files", { method: "POST", body: "{}", headers: json });
    assertEquals(missing.status, 401);
    assertEquals((await missing.json()).error.type, "authentication_error");
  } finally {
    await h.close();
  }
});

Deno.test("guard: a route learns its caller: the token's id, else anonymous", async () => {
  const h = await harness({ A3S_TOKENS: "cfg-token-0123456789=power:read" });
  try {
    const caller = async (headers: Record<string, string>) =>
      (await (await h.call("/api/chat", { method: "POST", body: "{}", headers })).json()).caller;
    assertEquals(await caller(json), "anonymous");
    assertEquals(
      await caller({ ...json, authorization: "Bearer cfg-token-0123456789" }),
      "token:config:0",
    );
    // A placeholder bearer key on a route open to anonymous callers names nobody.
    assertEquals(
      await caller({ ...json, authorization: "Bearer not-a-token-0000000" }),
      "anonymous",
    );
  } finally {
    await h.close();
  }
});

Deno.test("guard: an invalid or revoked a3s token on a route open to anonymous loopback callers is 401", async () => {
  const h = await harness({ A3S_TOKENS: "cfg-token-0123456789=scan:read" });
  try {
    const scan = (headers: Record<string, string> = {}) =>
      h.call("/scan/v1/text", { method: "POST", body: "{}", headers: { ...json, ...headers } });

    // No token: still open on loopback, as anonymous.
    const open = await scan();
    assertEquals(open.status, 200);
    assertEquals(await open.json(), { caller: "anonymous", rawCaller: "anonymous" });

    // A valid token: its own caller, by either header.
    const configured = await scan({ authorization: "Bearer cfg-token-0123456789" });
    assertEquals(configured.status, 200);
    assertEquals((await configured.json()).caller, "token:config:0");
    const stored = await h.security.tokens.create({ scopes: ["scan:read"] });
    const ok = await scan({ "x-api-key": stored.token });
    assertEquals(ok.status, 200);
    assertEquals(await ok.json(), {
      caller: `token:${stored.id}`,
      rawCaller: `token:${stored.id}`,
    });

    // A token that is ours and not valid: 401 with the challenge and problem+json, never
    // anonymous. Ours: shaped like a stored token (forged, truncated, unknown), or anything in
    // x-api-key, our own header.
    const wrong: Record<string, string>[] = [
      { authorization: `Bearer ${stored.token.slice(0, 21)}${"A".repeat(43)}` },
      { authorization: `Bearer ${stored.token.slice(0, -1)}` },
      { authorization: `Bearer a3s_0123456789abcdef_${"B".repeat(43)}` },
      { "x-api-key": "wrong-token-xxxxxxxxxxxx" },
      { "x-api-key": `${stored.token}x` },
    ];
    for (const headers of wrong) {
      const refused = await scan(headers);
      assertEquals(refused.status, 401, JSON.stringify(headers));
      assertEquals(refused.headers.get("www-authenticate"), 'Bearer realm="a3s"');
      assertEquals(refused.headers.get("content-type"), "application/problem+json");
      const body = await refused.json();
      assertEquals(body.status, 401);
      assertEquals(body.type, "urn:a3s:error:bad_token");
      assertEquals(body.instance, "/scan/v1/text");
    }

    // A revoked token too, by either header: it does not fall back to anonymous.
    await h.security.tokens.revoke(stored.id);
    assertEquals((await scan({ "x-api-key": stored.token })).status, 401);
    assertEquals((await scan({ authorization: `Bearer ${stored.token}` })).status, 401);

    // The placeholder key an OpenAI client must send stays anonymous (documented: ollama and
    // openai clients work with no key on loopback).
    for (const placeholder of ["ollama", "unused", "sk-no-key-required"]) {
      const anonymous = await scan({ authorization: `Bearer ${placeholder}` });
      assertEquals(anonymous.status, 200, placeholder);
      assertEquals((await anonymous.json()).caller, "anonymous");
    }

    // Routes that never read our token let another party's header through: health probes,
    // and webhooks that check their platform's signature themselves.
    const bogus = { "x-api-key": "wrong-token-xxxxxxxxxxxx" };
    assertEquals((await h.call("/healthz", { headers: bogus })).status, 200);
    assertEquals(
      (await h.call("/hooks/v1/telegram", {
        method: "POST",
        body: "{}",
        headers: { ...json, ...bogus, "x-signature": "valid" },
      })).status,
      200,
    );
    // An unknown path is a 404 for anyone, token or not.
    assertEquals((await h.call("/scan/v1/nothing-here", { headers: bogus })).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("guard: a public bind still refuses a wrong token on loopback-only anonymous routes", async () => {
  const h = await harness({ A3S_TOKENS: "cfg-token-0123456789=scan:read" }, "0.0.0.0");
  try {
    const scan = (headers: Record<string, string> = {}) =>
      h.call("/scan/v1/text", { method: "POST", body: "{}", headers: { ...json, ...headers } });
    assertEquals((await scan()).status, 401);
    assertEquals((await scan({ authorization: "Bearer wrong-token-xxxxxxxxxxxx" })).status, 401);
    assertEquals((await scan({ authorization: "Bearer cfg-token-0123456789" })).status, 200);
  } finally {
    await h.close();
  }
});

Deno.test("guard: DNS-rebinding Host, foreign origins and browser text/plain posts are refused", async () => {
  const h = await harness({ A3S_ORIGINS: "https://app.example.org", A3S_ALLOWED_HOSTS: "a3s.lan" });
  try {
    assertEquals(
      (await h.call("/healthz", { headers: { host: "evil.example:11434" } })).status,
      403,
    );
    assertEquals((await h.call("/healthz", { headers: { host: "localhost:11434" } })).status, 200);
    assertEquals((await h.call("/healthz", { headers: { host: "[::1]:11434" } })).status, 200);
    assertEquals((await h.call("/healthz", { headers: { host: "a3s.lan" } })).status, 200);

    const crossSite = await h.call("/api/chat", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "text/plain", origin: "https://evil.example" },
    });
    assertEquals(crossSite.status, 403);
    assertEquals(crossSite.headers.get("access-control-allow-origin"), null);

    // An allowed origin still may not post a simple (text/plain) body.
    const simple = await h.call("/api/chat", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "text/plain", origin: "https://app.example.org" },
    });
    assertEquals(simple.status, 415);
    const ok = await h.call("/api/chat", {
      method: "POST",
      body: "{}",
      headers: { ...json, origin: "https://app.example.org" },
    });
    assertEquals(ok.status, 200);
    assertEquals(ok.headers.get("access-control-allow-origin"), "https://app.example.org");
    const refused = await h.call("/api/pull", {
      method: "POST",
      body: "{}",
      headers: { ...json, origin: "https://app.example.org" },
    });
    assertEquals(refused.status, 401);
    assertEquals(refused.headers.get("access-control-allow-origin"), "https://app.example.org");
    const preflight = await h.call("/api/chat", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.org", "access-control-request-method": "POST" },
    });
    assertEquals(preflight.status, 204);
    assert(preflight.headers.get("access-control-allow-methods")?.includes("POST"));
    // Non-browser clients (no Origin, no Sec-Fetch-*) keep working with curl's default type.
    assertEquals(
      (await h.call("/api/chat", {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      })).status,
      200,
    );
  } finally {
    await h.close();
  }
});

Deno.test("guard: 405 with Allow for a known path, 404 stays for a missing thing", async () => {
  const h = await harness({ A3S_TOKENS: "admin-token-0123456789" });
  try {
    const auth = { authorization: "Bearer admin-token-0123456789" };
    const wrong = await h.call("/api/tags", { method: "DELETE", headers: auth });
    assertEquals(wrong.status, 405);
    assertEquals(wrong.headers.get("allow"), "GET, HEAD");
    assertEquals((await h.call("/api/tags/x", { headers: auth })).status, 404);
    assertEquals((await h.call("/nowhere", { headers: auth })).status, 404);
    // An unknown path is a 404 for anyone: there is nothing behind it to guard.
    assertEquals((await h.call("/nowhere")).status, 404);
    assertEquals(metricMethod("GET"), "GET");
    assertEquals(metricMethod("X".repeat(2000)), "other");
  } finally {
    await h.close();
  }
});

Deno.test("guard: per-client rate and in-flight limits answer 429 with Retry-After", async () => {
  const h = await harness({
    A3S_REQUESTS_PER_MINUTE: "60",
    A3S_REQUEST_BURST: "3",
    A3S_TOKENS: "admin-token-0123456789",
  });
  try {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.call("/api/tags")).status);
    assertEquals(statuses, [200, 200, 200, 429]);
    const limited = await h.call("/api/tags");
    assert(Number(limited.headers.get("retry-after")) >= 1);
    // Another client (a token) has its own bucket.
    assertEquals(
      (await h.call("/api/tags", { headers: { "x-api-key": "admin-token-0123456789" } })).status,
      200,
    );
  } finally {
    await h.close();
  }
  const c = await harness({
    A3S_MAX_CONCURRENT_REQUESTS: "1",
    A3S_TOKENS: "admin-token-0123456789",
  });
  try {
    const auth = { "x-api-key": "admin-token-0123456789" };
    const first = c.call("/slow", { headers: auth });
    await new Promise((r) => setTimeout(r, 50));
    const second = await c.call("/slow", { headers: auth });
    assertEquals(second.status, 429);
    const done = await first;
    assertEquals(done.status, 200);
    await done.body?.cancel();
    assertEquals((await c.call("/api/tags", { headers: auth })).status, 200);
  } finally {
    await c.close();
  }
});

Deno.test("guard: oversized heads are 431; slow handlers time out with 504", async () => {
  const h = await harness({
    A3S_MAX_HEADER_BYTES: "2048",
    A3S_REQUEST_TIMEOUT_MS: "100",
    A3S_TOKENS: "admin-token-0123456789",
  });
  try {
    assertEquals(
      (await h.call("/healthz", { headers: { "x-pad": "a".repeat(4096) } })).status,
      431,
    );
    const slow = await h.call("/slow", { headers: { "x-api-key": "admin-token-0123456789" } });
    assertEquals(slow.status, 504);
    await new Promise((r) => setTimeout(r, 300)); // let the abandoned handler finish
  } finally {
    await h.close();
  }
});

Deno.test("guard: a public bind needs a token unless the insecure flag is given", async () => {
  await assertRejects(() => harness({}, "0.0.0.0"), UsageError, "refusing to serve on 0.0.0.0");
  const open = await harness({ A3S_INSECURE_NO_AUTH_ON_PUBLIC_BIND: "1" }, "0.0.0.0");
  try {
    assertEquals(open.security.authEnforced, false);
  } finally {
    await open.close();
  }
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const tokens = await TokenStore.open(store);
    const { token } = await tokens.create({ scopes: ["power:read"] });
    const h = await harness({}, "0.0.0.0", store);
    // On a public bind even the model APIs need a token; liveness does not.
    assertEquals((await h.call("/api/tags")).status, 401);
    // A self-authenticated webhook is reached without our token; it checks its own signature.
    const hook = (signature: string) =>
      h.call("/hooks/v1/telegram", {
        method: "POST",
        body: "{}",
        headers: { ...json, "x-signature": signature },
      });
    assertEquals((await hook("valid")).status, 200);
    assertEquals((await hook("forged")).status, 401);
    assertEquals((await h.call("/api/tags", { headers: { "x-api-key": token } })).status, 200);
    assertEquals((await h.call("/healthz")).status, 200);
  } finally {
    await store.close();
  }
});

Deno.test("clientAddress: X-Forwarded-For counts only behind a trusted proxy", () => {
  const trusted = [parseCidr("10.0.0.0/8")!];
  assertEquals(clientAddress("203.0.113.9", "1.2.3.4", trusted), "203.0.113.9");
  assertEquals(clientAddress("10.0.0.2", "198.51.100.7", trusted), "198.51.100.7");
  // A client's own forged entry on the left is skipped past: the proxy appended the truth.
  assertEquals(
    clientAddress("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", trusted),
    "198.51.100.7",
  );
  assertEquals(clientAddress("10.0.0.2", "garbage", trusted), "10.0.0.2");
  assertEquals(clientAddress("10.0.0.2", "1.2.3.4", []), "10.0.0.2");
});

Deno.test("config: bad security values name the key and the source, never the token", () => {
  let message = "";
  try {
    loadSecurityConfig({}, { env: { A3S_TOKENS: "short=power:read" } });
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.startsWith("config security.tokens.0.token:"), message);
  assert(message.endsWith("(from env A3S_TOKENS)") && !message.includes("short"), message);
  try {
    loadSecurityConfig({ security: { requestsPerMinute: -1 } }, { env: {} });
  } catch (error) {
    message = (error as Error).message;
  }
  assert(message.includes("security.requestsPerMinute") && message.includes("config file"));
});

Deno.test("clientAddressOf: the address the middleware decided, trusted proxies honoured, never a header on its own", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  try {
    const security = await createSecurity({
      config: loadSecurityConfig({}, { env: { A3S_TRUSTED_PROXIES: "10.0.0.0/8" } }),
      host: "127.0.0.1",
      store,
      logger: createLogger("silent"),
      rules: RULES,
    });
    const app = new OpenAPIHono();
    app.use("*", security.middleware(app));
    app.post("/hooks/v1/telegram", (c) => c.json({ client: clientAddressOf(c) ?? null }));
    const from = async (
      remote: Deno.Addr | undefined,
      headers: Record<string, string> = {},
    ) => {
      const request = new Request("http://127.0.0.1:11434/hooks/v1/telegram", {
        method: "POST",
        body: "{}",
        headers: { host: "127.0.0.1:11434", ...json, ...headers },
      });
      const res = await app.fetch(request, remote && { remoteAddr: remote });
      return (await res.json()).client;
    };
    const tcp = (hostname: string): Deno.Addr => ({ transport: "tcp", hostname, port: 4000 });
    const guarded: Deno.Addr = { transport: "unix", path: "/run/a3s.sock" };
    assertEquals(await from(tcp("203.0.113.9")), "203.0.113.9");
    // A peer header is the connection guard's word only on its private socket.
    assertEquals(await from(tcp("203.0.113.9"), { "x-a3s-peer": "6.6.6.6" }), "203.0.113.9");
    assertEquals(await from(guarded, { "x-a3s-peer": "198.51.100.4" }), "198.51.100.4");
    // Behind a trusted proxy, the nearest untrusted hop; X-Forwarded-For from anyone else is not.
    assertEquals(
      await from(tcp("10.0.0.2"), { "x-forwarded-for": "198.51.100.7" }),
      "198.51.100.7",
    );
    assertEquals(
      await from(tcp("203.0.113.9"), { "x-forwarded-for": "198.51.100.7" }),
      "203.0.113.9",
    );
    // No address known: none is made up.
    assertEquals(await from(undefined, { "x-a3s-peer": "6.6.6.6" }), null);
    assertEquals(await from(guarded), null);
    const bare = new OpenAPIHono();
    bare.get("/", (c) => c.json({ client: clientAddressOf(c) ?? null }));
    assertEquals(await (await bare.request("/")).json(), { client: null });
  } finally {
    await store.close();
  }
});
