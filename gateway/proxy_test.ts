import { assert, assertEquals } from "@a3s/common/testing";
import { base, rawRequest, startBackend, startTestGateway } from "./_test_support.ts";

Deno.test("forwarding headers are set, spoofed ones replaced, hop-by-hop ones stripped", async () => {
  const a = startBackend(
    "a",
    () =>
      new Response("ok", {
        headers: { "keep-alive": "timeout=5", "x-secret-hop": "1", connection: "x-secret-hop" },
      }),
  );
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { a: { backends: [{ url: a.url }] }, echo: { backends: [{ url: echo.url }] } },
    routers: {
      a: { rule: { path: ["/hop"] }, service: "a" },
      echo: { rule: { pathPrefix: ["/"] }, service: "echo" },
    },
  });
  try {
    const res = await fetch(`${base(gw)}/echo?q=1`, {
      headers: {
        "x-forwarded-for": "6.6.6.6",
        forwarded: "for=6.6.6.6",
        "x-real-ip": "6.6.6.6",
        "x-custom": "kept",
        "proxy-authorization": "Basic abc",
        te: "trailers",
        connection: "x-drop-me",
        "x-drop-me": "1",
      },
    });
    const body = await res.json();
    const h = body.headers as Record<string, string>;
    assertEquals(body.path, "/echo");
    assertEquals(body.search, "?q=1");
    assertEquals(h["x-forwarded-for"], "127.0.0.1");
    assertEquals(h["x-real-ip"], "127.0.0.1");
    assertEquals(h["x-forwarded-proto"], "http");
    assert(h["forwarded"].startsWith("for=127.0.0.1;"), h["forwarded"]);
    assertEquals(h["x-custom"], "kept");
    assertEquals(h["proxy-authorization"], undefined);
    assertEquals(h["x-drop-me"], undefined);
    assertEquals(h["te"], undefined);
    const hop = await fetch(`${base(gw)}/hop`);
    assertEquals(await hop.text(), "ok");
    assertEquals(hop.headers.get("x-secret-hop"), null);
    assertEquals(hop.headers.get("keep-alive"), null);
  } finally {
    await gw.close();
    await a.close();
    await echo.close();
  }
});

Deno.test("a trusted proxy's X-Forwarded-For is extended, not replaced", async () => {
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    trustedProxies: ["127.0.0.0/8"],
    services: { echo: { backends: [{ url: echo.url }] } },
    routers: { echo: { rule: {}, service: "echo" } },
  });
  try {
    const res = await fetch(`${base(gw)}/`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    const h = (await res.json()).headers as Record<string, string>;
    assertEquals(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assertEquals(h["x-real-ip"], "203.0.113.9");
  } finally {
    await gw.close();
    await echo.close();
  }
});

Deno.test("SSE streams through event by event; request bodies stream up", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const sse = startBackend("sse", async (request) => {
    if (request.method === "POST") {
      let bytes = 0;
      for await (const chunk of request.body!) bytes += chunk.byteLength;
      return Response.json({ bytes });
    }
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode("data: first\n\n"));
        await released;
        controller.enqueue(encoder.encode("data: second\n\n"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const gw = await startTestGateway({
    services: { sse: { backends: [{ url: sse.url }] } },
    routers: { sse: { rule: {}, service: "sse" } },
  });
  try {
    const res = await fetch(`${base(gw)}/events`);
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The first event arrives while the backend is still holding the second.
    assertEquals((await reader.read()).value, "data: first\n\n");
    release();
    assertEquals((await reader.read()).value, "data: second\n\n");
    assert((await reader.read()).done);

    const chunks = 64;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (--uploadLeft < 0) return controller.close();
        controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    let uploadLeft = chunks;
    const posted = await fetch(`${base(gw)}/upload`, { method: "POST", body: upload });
    assertEquals((await posted.json()).bytes, chunks * 16 * 1024);
  } finally {
    await gw.close();
    await sse.close();
  }
});

Deno.test("WebSocket upgrades pass through, with the backend's subprotocol", async () => {
  const ws = startBackend("ws", (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "chat" });
    socket.onmessage = (e) => socket.send(`echo:${e.data}`);
    return response;
  });
  const gw = await startTestGateway({
    services: { ws: { backends: [{ url: ws.url }] } },
    routers: { ws: { rule: { pathPrefix: ["/ws"] }, service: "ws" } },
  });
  try {
    const client = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, ["chat", "other"]);
    const opened = new Promise<void>((resolve, reject) => {
      client.onopen = () => resolve();
      client.onerror = () => reject(new Error("client socket failed"));
    });
    await opened;
    assertEquals(client.protocol, "chat");
    const reply = new Promise<string>((resolve) => (client.onmessage = (e) => resolve(e.data)));
    client.send("hello");
    assertEquals(await reply, "echo:hello");
    const closed = new Promise<void>((resolve) => (client.onclose = () => resolve()));
    client.close();
    await closed;
  } finally {
    await gw.close();
    await ws.close();
  }
});

Deno.test("a hanging backend gives 504 after the timeout; a dead one 502; retries go elsewhere", async () => {
  // Answers only once the gateway gives up and drops the connection.
  const hang = startBackend(
    "hang",
    (request) =>
      new Promise<Response>((resolve) =>
        request.signal.addEventListener("abort", () => resolve(new Response("late")))
      ),
  );
  const good = startBackend("good");
  // A listener that accepts and immediately resets every connection.
  const resetter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of resetter) conn.close();
  })();
  const resetUrl = `http://127.0.0.1:${(resetter.addr as Deno.NetAddr).port}`;
  const gw = await startTestGateway({
    services: {
      hang: { backends: [{ url: hang.url }], timeoutMs: 200, retries: 0 },
      reset: { backends: [{ url: resetUrl }], retries: 0 },
      mixed: {
        backends: [{ url: resetUrl }, { url: good.url }],
        retries: 1,
        loadBalancer: { strategy: "round-robin" },
      },
    },
    routers: {
      hang: { rule: { pathPrefix: ["/hang"] }, service: "hang" },
      reset: { rule: { pathPrefix: ["/reset"] }, service: "reset" },
      mixed: { rule: { pathPrefix: ["/mixed"] }, service: "mixed" },
    },
  });
  try {
    const started = performance.now();
    const hung = await fetch(`${base(gw)}/hang`);
    assertEquals(hung.status, 504);
    assert((await hung.json()).error.message.includes("200 ms"));
    assert(performance.now() - started < 3000);
    const reset = await fetch(`${base(gw)}/reset`);
    assertEquals(reset.status, 502);
    await reset.body?.cancel();
    // Every GET succeeds: a reset on the first backend is retried on the second.
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base(gw)}/mixed`);
      assertEquals(res.status, 200);
      assertEquals((await res.json()).backend, "good");
    }
    // A POST with a body is not replayed.
    const posts = await Promise.all(
      [0, 1].map(() =>
        fetch(`${base(gw)}/mixed`, { method: "POST", body: "x" }).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        })
      ),
    );
    assert(posts.every((s) => s === 200 || s === 502), String(posts));
  } finally {
    await gw.close();
    resetter.close();
    await hang.close();
    await good.close();
  }
});

Deno.test("slowloris, header floods and oversized bodies are refused without hurting others", async () => {
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { echo: { backends: [{ url: echo.url }] } },
    middlewares: { small: { bodyLimit: { maxBytes: 1024 } } },
    routers: { echo: { rule: {}, service: "echo", middlewares: ["small"] } },
  });
  try {
    // A client that sends half a head and stalls holds one connection, not the gateway.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
    await slow.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    const ok = await fetch(`${base(gw)}/`);
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
    slow.close();

    const flood = Array.from({ length: 4000 }, (_, i) => `X-Flood-${i}: ${"v".repeat(40)}`)
      .join("\r\n");
    const flooded = await rawRequest(
      gw.port,
      `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${flood}`,
    );
    // Deno.serve (hyper) refuses a head with too many header lines before the gateway runs.
    assertEquals(flooded.status, 400);

    const declared = await fetch(`${base(gw)}/`, { method: "POST", body: "x".repeat(2048) });
    assertEquals(declared.status, 413);
    await declared.body?.cancel();
    const streamed = await fetch(`${base(gw)}/`, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(512));
          c.close();
        },
      }),
    });
    assertEquals(streamed.status, 413);
    await streamed.body?.cancel();
  } finally {
    await gw.close();
    await echo.close();
  }
});

Deno.test("a client that leaves while the backend is still thinking cancels the upstream request", async () => {
  let upstreamAborted = false;
  const slow = startBackend(
    "slow",
    (request) =>
      new Promise<Response>((resolve) =>
        request.signal.addEventListener("abort", () => {
          upstreamAborted = true;
          resolve(new Response("late"));
        })
      ),
  );
  const gw = await startTestGateway({
    services: { slow: { backends: [{ url: slow.url }], timeoutMs: 10_000 } },
    routers: { slow: { rule: {}, service: "slow" } },
  });
  try {
    const leaving = new AbortController();
    const pending = fetch(`${base(gw)}/think`, { signal: leaving.signal }).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    leaving.abort();
    await pending;
    // Within about a second (the wait before the client is watched), long before the 10 s
    // timeout, the backend sees the request go and the slot is free.
    for (let i = 0; i < 150 && !upstreamAborted; i++) await new Promise((r) => setTimeout(r, 20));
    assert(upstreamAborted, "the backend never saw the request cancelled");
    assertEquals(gw.gateway.backends()[0].active, 0);
  } finally {
    await gw.close();
    await slow.close();
  }
});
