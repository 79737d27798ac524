/**
 * What the security middleware costs per request, in process (no sockets): the same route
 * with no middleware, anonymous on loopback, and with a stored token (hash, one SQLite
 * lookup, constant-time compare).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { createLogger } from "../logger.ts";
import { openStore } from "../store.ts";
import { loadSecurityConfig } from "../security/config.ts";
import { createSecurity } from "../security/guard.ts";

const store = await openStore({ sqlitePath: ":memory:" });
const security = await createSecurity({
  config: loadSecurityConfig({}, { env: {} }),
  host: "127.0.0.1",
  store,
  logger: createLogger("silent"),
  rules: [
    { path: "/api/tags", scope: "power:read", anonymousOnLoopback: true },
    { path: "/api/pull", scope: "power:write" },
  ],
});
const { token } = await security.tokens.create({ scopes: ["power:write"] });

const bare = new OpenAPIHono();
bare.get("/api/tags", (c) => c.json({ models: [] }));
const guarded = new OpenAPIHono();
guarded.use("*", security.middleware(guarded));
guarded.get("/api/tags", (c) => c.json({ models: [] }));
guarded.get("/api/pull", (c) => c.json({ ok: true }));

const request = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://127.0.0.1:11434${path}`, {
    headers: { host: "127.0.0.1:11434", ...headers },
  });

Deno.bench("no middleware", { group: "middleware", baseline: true }, async () => {
  await (await bare.fetch(request("/api/tags"))).arrayBuffer();
});
Deno.bench("security, anonymous on loopback", { group: "middleware" }, async () => {
  await (await guarded.fetch(request("/api/tags"))).arrayBuffer();
});
Deno.bench("security, stored token checked", { group: "middleware" }, async () => {
  await (await guarded.fetch(request("/api/pull", { authorization: `Bearer ${token}` })))
    .arrayBuffer();
});
