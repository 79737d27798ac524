/** A slowloris client against a real `mod.ts serve`: cut off, logged, and nobody else waits. */
import { assert, assertEquals } from "../common/_assert.ts";
import { spawnServe, waitReady } from "./_serve.ts";

const encoder = new TextEncoder();

Deno.test({
  name: "serve: clients trickling headers are closed at the head deadline; others are served",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "a3s-slowloris-" });
    const serve = await spawnServe([], { A3S_HOME: home, A3S_HEADER_TIMEOUT_MS: "1000" });
    try {
      // Loading the default model keeps the process busy at first; attack a settled server.
      await waitReady(serve.url);
      const { hostname, port } = new URL(serve.url);
      const attackers = await Promise.all(
        Array.from({ length: 50 }, () => Deno.connect({ hostname, port: Number(port) })),
      );
      const started = Date.now();
      const cutOff = attackers.map(async (conn, i) => {
        await conn.write(encoder.encode(`POST /api/pull HTTP/1.1\r\nHost: localhost\r\n`));
        for (let n = 0; n < 100; n++) {
          await new Promise((r) => setTimeout(r, 100));
          try {
            await conn.write(encoder.encode(`x-${i}-${n}: a\r\n`));
          } catch {
            return Date.now() - started;
          }
        }
        return Infinity;
      });
      // While fifty connections trickle, an ordinary request is answered promptly.
      const t0 = performance.now();
      const health = await fetch(`${serve.url}/healthz`);
      assertEquals(health.status, 200);
      await health.body?.cancel();
      const waited = performance.now() - t0;
      assert(waited < 1000, `healthz took ${Math.round(waited)} ms`);

      const times = await Promise.all(cutOff);
      for (const conn of attackers) {
        try {
          conn.close();
        } catch { /* closed by the server */ }
      }
      assert(times.every((ms) => ms < 4000), `cut off after ${Math.max(...times)} ms`);
      await new Promise((r) => setTimeout(r, 100));
      const closed = serve.logs().split("\n").filter((line) =>
        line.includes('"connection closed"') && line.includes("header_timeout")
      );
      // At least the fifty: a client's spare pooled connection may time out the same way.
      assert(closed.length >= 50, `${closed.length} cut-off connections logged`);
      const metrics = await (await fetch(`${serve.url}/metrics`)).text();
      const counted = Number(
        metrics.match(/a3s_connections_closed_total\{reason="header_timeout"\} (\d+)/)?.[1],
      );
      assert(counted >= 50, `${counted} counted`);
      // Nothing reached a handler: no model was pulled into the data dir.
      const entries = [];
      for await (const entry of Deno.readDir(home)) entries.push(entry.name);
      assert(
        !entries.some((name) => name === "models" || name.startsWith("stolen")),
        entries.join(),
      );
    } finally {
      await serve.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});
