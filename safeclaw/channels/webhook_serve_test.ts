/**
 * The webhooks as serve runs them, over a real socket: a refusal the server would answer itself
 * (a body over its 8 MiB limit) reaches the hub, so it is audited as every other refusal is,
 * with the address the security layer decided the request came from; an oversized body is not
 * read to its end, and a broken one is a quiet 400.
 */
import { assert, assertEquals, testDir } from "@a3s/common/testing";
import { createLogger, loadConfig, type RunningServer, startServer } from "@a3s/common";
import { safeclawModule } from "../mod.ts";
import { AUTH_FAILURE_KIND, BROKEN_BODY_REASON, MAX_WEBHOOK_BODY_BYTES } from "./hub.ts";
import type { CoalescedRecord } from "./audit_coalescer.ts";

const READER = "webhook-serve-audit-reader-0123456789";
const encoder = new TextEncoder();

async function withServe(
  fn: (server: RunningServer, logs: string[]) => Promise<void>,
  security: { trustedProxies?: string[] } = {},
  bodyLimit?: number,
): Promise<void> {
  const logs: string[] = [];
  const server = await startServer({
    config: {
      ...loadConfig({ flags: { port: 0, home: await testDir(), bodyLimit }, env: {} }),
      safeclaw: { channels: { slack: { signingSecret: "slack-secret", botToken: "xoxb-1" } } },
      security: { tokens: [{ token: READER, scopes: ["safeclaw:read"] }], ...security },
    } as ReturnType<typeof loadConfig>,
    modules: [safeclawModule({ events: false })],
    logger: createLogger("info", {}, (line) => logs.push(line)),
  });
  try {
    await fn(server, logs);
  } finally {
    await server.shutdown();
  }
}

/** The refusals audited so far, once there are `expected` of them (written after the answer). */
async function refusals(
  server: RunningServer,
  expected = 1,
): Promise<CoalescedRecord["data"][]> {
  for (let tries = 0;; tries++) {
    const res = await fetch(`${server.url}/safeclaw/v1/audit?kind=${AUTH_FAILURE_KIND}`, {
      headers: { authorization: `Bearer ${READER}` },
    });
    const body = await res.json() as { records: { data: CoalescedRecord["data"] }[] };
    if (body.records.length >= expected || tries >= 100) return body.records.map((r) => r.data);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends `head`, then whatever `body` writes, on a raw connection; what came back. */
async function raw(
  server: RunningServer,
  head: string,
  body: (conn: Deno.Conn) => Promise<void> = () => Promise.resolve(),
): Promise<string> {
  const url = new URL(server.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const reading = (async () => {
    const chunk = new Uint8Array(16 * 1024);
    let text = "";
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) break;
        text += new TextDecoder().decode(chunk.subarray(0, n));
      }
    } catch { /* reset by the server, or closed by `body` */ }
    return text;
  })();
  try {
    await conn.write(encoder.encode(head));
    await body(conn);
  } catch { /* the server closed the connection */ }
  const text = await reading;
  try {
    conn.close();
  } catch { /* already closed */ }
  return text;
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

Deno.test("serve: an endless chunked webhook body is not read to its end", async () => {
  await withServe(async (server) => {
    const host = new URL(server.url).host;
    const piece = new Uint8Array(64 * 1024).fill(120);
    const chunk = new Uint8Array([
      ...encoder.encode(`${piece.length.toString(16)}\r\n`),
      ...piece,
      13,
      10,
    ]);
    // At most 200 MiB: before, the server read every byte of it (and of an endless one).
    const limit = 200 * 1024 * 1024;
    let sent = 0;
    let stalled = false;
    const before = Deno.memoryUsage().rss;
    const text = await raw(
      server,
      `POST /safeclaw/v1/channels/slack HTTP/1.1\r\nHost: ${host}\r\n` +
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
      async (conn) => {
        while (sent < limit) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const wrote = conn.write(chunk);
          const stall = new Promise<"stall">((resolve) => {
            timer = setTimeout(() => resolve("stall"), 1000);
          });
          const outcome = await Promise.race([wrote, stall]);
          clearTimeout(timer);
          if (outcome === "stall") {
            // No one reads the rest: the sockets' buffers are full and stay full.
            stalled = true;
            conn.close();
            await wrote.catch(() => {});
            return;
          }
          sent += outcome;
        }
      },
    );
    // Either way the sender gets no further: its writes stall, or the connection is gone.
    assert(stalled || sent < limit, `the server read all ${sent} bytes`);
    assert(sent < 32 * 1024 * 1024, `the server read ${sent} bytes`);
    assert(text.startsWith("HTTP/1.1 413"), text.slice(0, 80));
    assert(/connection: close/i.test(text), text);
    assert(Deno.memoryUsage().rss - before < 128 * 1024 * 1024, "memory grew with the body");
    const reason = `body over ${MAX_WEBHOOK_BODY_BYTES} bytes, refused unread`;
    assertEquals(await refusals(server), [
      { channel: "slack", reason, client: "127.0.0.1", count: 1 },
    ]);
  });
});

Deno.test("serve: an upload that breaks off mid-body is a quiet 400 and an audit record, not an unhandled error", async () => {
  await withServe(async (server, logs) => {
    const host = new URL(server.url).host;
    await raw(
      server,
      `POST /safeclaw/v1/channels/slack HTTP/1.1\r\nHost: ${host}\r\n` +
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
      (conn) => {
        conn.close();
        return Promise.resolve();
      },
    );
    // The hub sees the body break off once the server behind learns the client left.
    assertEquals(await refusals(server), [
      { channel: "slack", reason: BROKEN_BODY_REASON, client: "127.0.0.1", count: 1 },
    ]);
    assertEquals(logs.filter((line) => /"level":"error"/.test(line)), []);
    assert(!logs.some((line) => line.includes("BadResource")), logs.join("\n"));
  });
});

Deno.test("serve: the sender is the security layer's: no header forges it, a trusted proxy's X-Forwarded-For names it", async () => {
  const refuse = async (server: RunningServer) => {
    const forged = await fetch(`${server.url}/safeclaw/v1/channels/slack`, {
      method: "POST",
      headers: { "x-forwarded-for": "198.51.100.9", "content-type": "application/json" },
      body: "{}",
    });
    assertEquals(forged.status, 401);
    await forged.body?.cancel();
  };
  await withServe(async (server) => {
    const host = new URL(server.url).host;
    // Bare LFs hiding a peer header of the client's own: refused before it reaches anything.
    const added = "x-a3s-peer: 127.0.0.1\r\n\r\n";
    const spoofed = await raw(
      server,
      `POST /safeclaw/v1/channels/slack HTTP/1.1\r\nHost: ${host}\r\nFoo: bar\n` +
        "x-a3s-peer: 6.6.6.6\ncontent-type: application/json\n" +
        `content-length: ${added.length}\n\r\n\r\n`,
    );
    assert(spoofed.startsWith("HTTP/1.1 400"), spoofed.slice(0, 80));
    // No proxy is trusted: X-Forwarded-For is the client's word, and the sender is the socket's.
    await refuse(server);
    assertEquals((await refusals(server)).map((r) => r.client), ["127.0.0.1"]);
  });
  await withServe(async (server) => {
    await refuse(server);
    assertEquals((await refusals(server)).map((r) => r.client), ["198.51.100.9"]);
  }, { trustedProxies: ["127.0.0.1/32"] });
});

Deno.test("serve: the configured body limit bounds the webhooks: a body one byte over it is a 413 and audited, one at it is read", async () => {
  const limit = 2048;
  await withServe(
    async (server) => {
      const hook = `${server.url}/safeclaw/v1/channels/slack`;
      const over = await fetch(hook, { method: "POST", body: new Uint8Array(limit + 1) });
      assertEquals([over.status, over.headers.get("connection")], [413, "close"]);
      await over.body?.cancel();
      // At the limit it is read, and refused only for want of a signature.
      const at = await fetch(hook, { method: "POST", body: new Uint8Array(limit) });
      assertEquals(at.status, 401);
      await at.body?.cancel();
      const reasons = (await refusals(server, 2)).map((r) => r.reason);
      assertEquals(
        reasons.sort(),
        [`body over ${limit} bytes, refused unread`, "missing signature headers"].sort(),
      );
    },
    {},
    limit,
  );
});
