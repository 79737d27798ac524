import { assertEquals } from "@a3s/common/testing";
import { createLogger } from "@a3s/common";
import { parseGatewayConfig } from "./config_file.ts";
import { startGateway } from "./server.ts";
import { startBackend } from "./_test_support.ts";

Deno.test("privacy routing sends sensitive prompts only to local backends, and audits each decision", async () => {
  const local = startBackend("local");
  const remote = startBackend("remote");
  const remoteOnly = startBackend("remote-only");
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("info", {}, (line) => lines.push(JSON.parse(line)));
  const running = await startGateway({
    port: 0,
    logger,
    config: parseGatewayConfig(
      JSON.stringify({
        services: {
          llm: { backends: [{ url: remote.url }, { url: local.url, local: true }] },
          cloud: { backends: [{ url: remoteOnly.url }] },
        },
        middlewares: { private: { privacy: { localAtOrAbove: "Sensitive" } } },
        routers: {
          llm: { rule: { pathPrefix: ["/v1"] }, service: "llm", middlewares: ["private"] },
          cloud: { rule: { pathPrefix: ["/cloud"] }, service: "cloud", middlewares: ["private"] },
        },
      }),
      "privacy.json",
    ),
  });
  const ask = async (path: string, content: string) => {
    const res = await fetch(`http://127.0.0.1:${running.port}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content }] }),
    });
    const body = await res.json();
    return { status: res.status, backend: body.backend as string | undefined };
  };
  try {
    const sensitive = "My card is 4111 1111 1111 1111, charge it";
    for (let i = 0; i < 4; i++) assertEquals((await ask("/v1/chat", sensitive)).backend, "local");
    const normal = new Set<string | undefined>();
    for (let i = 0; i < 4; i++) normal.add((await ask("/v1/chat", "What is Debian?")).backend);
    assertEquals([...normal].sort(), ["local", "remote"]);
    // With no local backend, a sensitive request is refused rather than sent out.
    assertEquals((await ask("/cloud/chat", sensitive)).status, 503);
    assertEquals(remoteOnly.seen.length, 0);
    const decisions = lines.filter((l) => l.audit === true);
    assertEquals(decisions.length, 9);
    assertEquals(decisions[0].decision, "local-only");
    assertEquals(decisions[4].decision, "any");
    // The line's severity stays the logger's; the privacy level has its own field.
    assertEquals(decisions.map((d) => d.level), Array(9).fill("info"));
    assertEquals(decisions[0].privacyLevel, "HighlySensitive");
    assertEquals(decisions[4].privacyLevel, "Normal");
  } finally {
    await running.close();
    await Promise.all([local, remote, remoteOnly].map((b) => b.close()));
  }
});
