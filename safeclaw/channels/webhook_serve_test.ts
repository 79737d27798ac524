/**
 * The webhooks as serve runs them, over a real socket: a refusal the server would answer itself
 * (a body over its 8 MiB limit) reaches the hub, so it is audited as every other refusal is,
 * with the address the request came from.
 */
import { assertEquals, testDir } from "@a3s/common/testing";
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { safeclawModule } from "../mod.ts";
import { AUTH_FAILURE_KIND, MAX_WEBHOOK_BODY_BYTES } from "./hub.ts";
import type { CoalescedRecord } from "./audit_coalescer.ts";

const READER = "webhook-serve-audit-reader-0123456789";

async function withServe(fn: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startServer({
    config: {
      ...loadConfig({ flags: { port: 0, home: await testDir() }, env: {} }),
      safeclaw: { channels: { slack: { signingSecret: "slack-secret", botToken: "xoxb-1" } } },
      security: { tokens: [{ token: READER, scopes: ["safeclaw:read"] }] },
    } as ReturnType<typeof loadConfig>,
    modules: [safeclawModule({ events: false })],
    logger: createLogger("silent"),
  });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

async function refusals(server: RunningServer): Promise<CoalescedRecord["data"][]> {
  const res = await fetch(`${server.url}/safeclaw/v1/audit?kind=${AUTH_FAILURE_KIND}`, {
    headers: { authorization: `Bearer ${READER}` },
  });
  const body = await res.json() as { records: { data: CoalescedRecord["data"] }[] };
  return body.records.map((r) => r.data);
}

Deno.test("serve: a webhook body over the server's 8 MiB limit gets its 413 and is audited with its sender", async () => {
  await withServe(async (server) => {
    const hook = `${server.url}/safeclaw/v1/channels/slack`;
    const huge = new Uint8Array(9 * 1024 * 1024);
    const sized = await fetch(hook, { method: "POST", body: huge });
    assertEquals(sized.status, 413);
    await sized.body?.cancel();
    // Without a length, the body is cut off at the hub's limit, not read to the server's.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 9; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const chunked = await fetch(hook, { method: "POST", body: stream });
    assertEquals(chunked.status, 413);
    await chunked.body?.cancel();
    const reason = `body over ${MAX_WEBHOOK_BODY_BYTES} bytes, refused unread`;
    // One record for the first, the second counted into its summary: coalesced as any refusal.
    assertEquals(await refusals(server), [
      { channel: "slack", reason, client: "127.0.0.1", count: 1 },
    ]);
  });
});
