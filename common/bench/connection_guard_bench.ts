/**
 * What the connection guard costs per request: a keep-alive GET answered by the same handler,
 * straight from Deno.serve and through the guard, measured in the same run.
 */
import { createLogger } from "../logger.ts";
import { serveGuarded } from "../security/connection_guard.ts";

const handler = () => Response.json({ status: "ok" });
const direct = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
const guarded = await serveGuarded({
  hostname: "127.0.0.1",
  port: 0,
  handler,
  limits: { headerTimeoutMs: 10_000, idleTimeoutMs: 120_000, maxHeaderBytes: 32_768 },
  logger: createLogger("silent"),
});
const directUrl = `http://127.0.0.1:${direct.addr.port}/healthz`;
const guardedUrl = `http://127.0.0.1:${guarded.addr.port}/healthz`;

Deno.bench(
  "GET round trip, Deno.serve alone",
  { group: "round trip", baseline: true },
  async () => {
    await (await fetch(directUrl)).arrayBuffer();
  },
);
Deno.bench("GET round trip, through the connection guard", { group: "round trip" }, async () => {
  await (await fetch(guardedUrl)).arrayBuffer();
});

const body = JSON.stringify({ text: "x".repeat(64 * 1024) });
Deno.bench("64 KiB POST, Deno.serve alone", { group: "post", baseline: true }, async () => {
  await (await fetch(directUrl, { method: "POST", body })).arrayBuffer();
});
Deno.bench("64 KiB POST, through the connection guard", { group: "post" }, async () => {
  await (await fetch(guardedUrl, { method: "POST", body })).arrayBuffer();
});

globalThis.addEventListener("unload", () => {
  direct.shutdown();
  guarded.shutdown();
});
