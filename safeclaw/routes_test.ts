import { assertEquals, testDir } from "@a3s/common/testing";
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { safeclawModule } from "./mod.ts";

/** A real server with safeclaw alone, its defaults, on a fresh home. */
async function withServer(fn: (server: RunningServer) => Promise<void>): Promise<void> {
  const config = loadConfig({ env: {}, flags: { port: 0, home: await testDir() } });
  const server = await startServer({
    config,
    modules: [safeclawModule({ events: false })],
    logger: createLogger("silent"),
  });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

Deno.test("POST /safeclaw/v1/scan over a real server", async () => {
  await withServer(async (server) => {
    const post = (body: unknown) =>
      fetch(new URL("/safeclaw/v1/scan", server.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const one = await post({ text: "mail ada@example.org" });
    assertEquals(one.status, 200);
    assertEquals(await one.json(), {
      spans: [{ type: "email", start: 5, end: 20, confidence: 0.95 }],
    });
    const many = await post({ texts: ["10.0.0.1", "nothing"] });
    assertEquals((await many.json()).results.map((r: { spans: unknown[] }) => r.spans.length), [
      1,
      0,
    ]);
    const bad = await post({ text: 42 });
    assertEquals(bad.status, 400);
    assertEquals((await bad.json()).detail.includes("text"), true);
    const neither = await post({});
    assertEquals(neither.status, 400);
    await neither.body?.cancel();
  });
});

Deno.test("POST /safeclaw/v1/sanitize never gives a session's values back", async () => {
  await withServer(async (server) => {
    const sanitize = async (body: unknown) =>
      await (await fetch(new URL("/safeclaw/v1/sanitize", server.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      })).json();
    const own = await sanitize({ text: "mail ada@example.org", session: "v", mode: "placeholder" });
    assertEquals(own.text, "mail [EMAIL_1]");
    // Anyone on loopback could name the session and read its vault back through another mode
    // (the placeholder restored, and the session's own value let through unmasked).
    for (const mode of ["mask", "hash", "partial", "placeholder"]) {
      const fished = await sanitize({ text: "[EMAIL_1] ada@example.org", session: "v", mode });
      assertEquals(JSON.stringify(fished).includes("ada@example.org"), false, mode);
    }
  });
});
