import { assert, assertEquals } from "@a3s/common/testing";
import { openStore } from "@a3s/common";
import { Guard } from "../guard.ts";
import { parsePolicy } from "../policy.ts";
import { ChannelHub } from "./hub.ts";
import {
  MAX_WEBCHAT_MESSAGE,
  MAX_WEBCHAT_PENDING,
  type StreamingResponder,
  webchatSocket,
} from "./webchat.ts";

async function withSocket(
  responder: StreamingResponder,
  fn: (open: () => Promise<WebSocket>, guard: Guard) => Promise<void>,
) {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "webchat-limits-key-0123456789",
    tee: { kind: null, device: null },
  });
  const hub = new ChannelHub(guard, [], () => Promise.resolve(""));
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request) => webchatSocket(request, guard, hub, responder),
  );
  const sockets: WebSocket[] = [];
  const open = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/?user=u1`);
    sockets.push(ws);
    await new Promise((resolve) => (ws.onopen = resolve));
    return ws;
  };
  try {
    await fn(open, guard);
  } finally {
    for (const ws of sockets) ws.close();
    await hub.close();
    await server.shutdown();
    await guard.close();
    await store.close();
  }
}

const until = async (done: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

Deno.test("WebChat: a message over the limit is refused and the socket closed with 1009", async () => {
  let calls = 0;
  const responder: StreamingResponder = async function* () {
    calls++;
    yield "x";
  };
  await withSocket(responder, async (open) => {
    const ws = await open();
    const frames: { type: string; message?: string }[] = [];
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    // Before, a 16 MiB frame was parsed and classified, holding the server for seconds.
    ws.send(JSON.stringify({ type: "message", text: "a".repeat(MAX_WEBCHAT_MESSAGE * 2 + 1) }));
    assertEquals((await closed).code, 1009);
    assertEquals(calls, 0);
    assert(frames[0]?.message?.includes("at most"), JSON.stringify(frames));
  });
});

Deno.test("WebChat: a page has at most a few messages pending; closing it cancels them", async () => {
  const signals: AbortSignal[] = [];
  let started = 0;
  const responder: StreamingResponder = async function* ({ signal }) {
    started++;
    if (signal) signals.push(signal);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    yield "late";
  };
  await withSocket(responder, async (open) => {
    const ws = await open();
    const frames: { type: string; message?: string }[] = [];
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    for (let i = 0; i < MAX_WEBCHAT_PENDING + 3; i++) {
      ws.send(JSON.stringify({ type: "message", text: `message ${i}` }));
    }
    await until(() => started === 1 && frames.length >= 3);
    // Before, every message was queued, and all of them ran after the page had gone.
    assertEquals(
      frames.filter((f) => f.message === "wait for a reply before sending more messages").length,
      3,
    );
    const closed = new Promise((resolve) => (ws.onclose = resolve));
    ws.close();
    await closed;
    await until(() => signals[0]?.aborted === true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals(started, 1, "the queued message never started");
  });
});

/** The status line the server answers a WebSocket upgrade from `origin` with. */
async function upgradeStatus(port: number, origin: string | null): Promise<string> {
  return (await upgradeReply(port, origin)).split("\r\n")[0];
}

/** The head and body the server answers a WebSocket upgrade from `origin` with. */
async function upgradeReply(port: number, origin: string | null): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [
      "GET /?user=u1 HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...(origin === null ? [] : [`Origin: ${origin}`]),
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    let text = "";
    // A refusal's body may come in a read of its own; a 101 has none, and its socket stays open.
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return text;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      const [head, body = ""] = text.split("\r\n\r\n");
      const length = Number(/^content-length: *(\d+)$/im.exec(head)?.[1] ?? 0);
      if (text.includes("\r\n\r\n") && new TextEncoder().encode(body).length >= length) {
        return text;
      }
    }
  } finally {
    conn.close();
  }
}

Deno.test("WebChat: only the page's own origin (or a configured one) may open the socket", async () => {
  const store = await openStore({ sqlitePath: ":memory:" });
  const guard = await Guard.open({
    store,
    policy: parsePolicy({}),
    hmacKey: "webchat-origin-key-0123456789",
    tee: { kind: null, device: null },
  });
  const hub = new ChannelHub(guard, [], () => Promise.resolve(""));
  const responder: StreamingResponder = async function* () {
    yield "hi";
  };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request) =>
      webchatSocket(request, guard, hub, responder, { origins: ["https://chat.corp.example"] }),
  );
  const port = server.addr.port;
  try {
    // Before, a page from any local port (a dev server, a tool's UI) drove the agent.
    for (
      const origin of ["http://localhost:3000", "http://127.0.0.2:8000", "https://evil.example"]
    ) {
      assert((await upgradeStatus(port, origin)).includes(" 403 "), origin);
    }
    // As every other refusal of the API: problem+json naming the field, not `{"error":...}`.
    const refused = await upgradeReply(port, "http://localhost:3000");
    const [head, body] = refused.split("\r\n\r\n");
    assert(/^content-type: application\/problem\+json$/im.test(head), head);
    const problem = JSON.parse(body);
    assertEquals([problem.status, problem.field, problem.type], [
      403,
      "origin",
      "urn:a3s:error:forbidden_origin",
    ]);
    assert(problem.detail.includes("security.origins"), problem.detail);
    for (const origin of [`http://127.0.0.1:${port}`, "https://chat.corp.example", null]) {
      assert((await upgradeStatus(port, origin)).includes(" 101 "), String(origin));
    }
  } finally {
    await hub.close();
    await server.shutdown();
    await guard.close();
    await store.close();
  }
});
