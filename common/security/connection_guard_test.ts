import { assert, assertEquals } from "../_assert.ts";
import { createLogger } from "../logger.ts";
import { CONNECTION_HEADER, type GuardedServer, serveGuarded } from "./connection_guard.ts";
import { PEER_HEADER } from "./guard.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function start(limits: Partial<{ headerTimeoutMs: number; idleTimeoutMs: number }> = {}) {
  return await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: {
      headerTimeoutMs: limits.headerTimeoutMs ?? 400,
      idleTimeoutMs: limits.idleTimeoutMs ?? 400,
      maxHeaderBytes: 4096,
    },
    logger: createLogger("silent"),
    handler: async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/slow") await new Promise((r) => setTimeout(r, 800));
      // A body cut off by the guard (a refused chunk line) reads as empty.
      const body = request.body ? await request.text().catch(() => "") : "";
      return Response.json({ peer: request.headers.get(PEER_HEADER), body, path: url.pathname });
    },
  });
}

/** Reads from `conn` until it closes (or `ms` pass), returning what arrived and when. */
async function readAll(
  conn: Deno.Conn,
  ms = 5000,
): Promise<{ text: string; closedAfterMs: number }> {
  const started = Date.now();
  const chunk = new Uint8Array(8192);
  let text = "";
  const deadline = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) break;
      text += decoder.decode(chunk.subarray(0, n));
    }
  } catch { /* closed by the deadline */ }
  clearTimeout(deadline);
  try {
    conn.close();
  } catch { /* already closed */ }
  return { text, closedAfterMs: Date.now() - started };
}

async function withServer(
  limits: Parameters<typeof start>[0],
  fn: (server: GuardedServer, port: number) => Promise<void>,
) {
  const server = await start(limits);
  try {
    await fn(server, server.addr.port);
  } finally {
    await server.shutdown();
  }
}

Deno.test("guard: a client trickling its headers is cut off while others are served", async () => {
  await withServer({ headerTimeoutMs: 400 }, async (_server, port) => {
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(encoder.encode("GET / HTTP/1.1\r\nHost: localhost\r\n"));
    const trickling = (async () => {
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 50));
        try {
          await slow.write(encoder.encode(`x-${i}: a\r\n`));
        } catch {
          return i;
        }
      }
      return 40;
    })();
    const answer = readAll(slow);
    // Meanwhile an ordinary client gets its answer at once.
    const ok = await fetch(`http://127.0.0.1:${port}/fast`);
    assertEquals((await ok.json()).path, "/fast");
    const { text, closedAfterMs } = await answer;
    assert(text.startsWith("HTTP/1.1 408"), text);
    assert(closedAfterMs < 1500, `closed after ${closedAfterMs} ms`);
    assert((await trickling) < 40, "writes fail once the guard closed the connection");
  });
});

Deno.test("guard: a connection that never sends a byte is closed at the head deadline", async () => {
  await withServer({ headerTimeoutMs: 300 }, async (_server, port) => {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    const { closedAfterMs } = await readAll(silent);
    assert(closedAfterMs < 1200, `closed after ${closedAfterMs} ms`);
  });
});

Deno.test("guard: connections beyond the per-client limit are closed at once", async () => {
  const server = await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: {
      headerTimeoutMs: 2000,
      idleTimeoutMs: 2000,
      maxHeaderBytes: 4096,
      maxConnectionsPerClient: 3,
    },
    logger: createLogger("silent"),
    handler: () => new Response("ok"),
  });
  try {
    const port = server.addr.port;
    const held = await Promise.all(
      [1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    const { text, closedAfterMs } = await readAll(extra);
    assertEquals(text, "");
    assert(closedAfterMs < 1000, `closed after ${closedAfterMs} ms`);
    for (const conn of held) conn.close();
    await new Promise((r) => setTimeout(r, 100));
    // Once they are gone, the client may connect again.
    assertEquals(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "ok");
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: oversized heads and ambiguous framing are refused", async () => {
  await withServer({}, async (_server, port) => {
    const big = await Deno.connect({ hostname: "127.0.0.1", port });
    await big.write(
      encoder.encode(`GET / HTTP/1.1\r\nHost: x\r\nx-pad: ${"a".repeat(8000)}\r\n\r\n`),
    );
    assert((await readAll(big)).text.startsWith("HTTP/1.1 431"));

    const smuggle = await Deno.connect({ hostname: "127.0.0.1", port });
    await smuggle.write(
      encoder.encode(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      ),
    );
    assert((await readAll(smuggle)).text.startsWith("HTTP/1.1 400"));
  });
});

Deno.test("guard: a lone LF or CR in a request head is refused, so no line hides a forged header", async () => {
  await withServer({}, async (_server, port) => {
    const send = async (raw: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(raw));
      return (await readAll(conn, 2000)).text;
    };
    // What the guard adds after the head: the body the server reads when its head ends earlier.
    const added = `${PEER_HEADER}: 127.0.0.1\r\n\r\n`;
    const variants = {
      // A line the guard would read as one header's value, which the server reads as three.
      "bare LF mid-head": `GET /p HTTP/1.1\r\nHost: x\r\nFoo: bar\n${PEER_HEADER}: 6.6.6.6\n` +
        "Connection: close\r\n\r\n",
      // LF CRLF ends the head for the server: the guard's own header would land in the body.
      "LF CRLF ending": `POST /p HTTP/1.1\r\nHost: x\r\nFoo: bar\n${PEER_HEADER}: 6.6.6.6\n` +
        `content-length: ${added.length}\n\r\n\r\n`,
      "LF LF ending, no CRLF at all": "GET /p HTTP/1.1\nHost: x\n\n",
      "bare LF ending the request line": "GET /p HTTP/1.1\nHost: x\r\n\r\n",
      "bare CR": `GET /p HTTP/1.1\r\nHost: x\r\nFoo: bar\r${PEER_HEADER}: 6.6.6.6\r\n\r\n`,
      "bare LF before the request line": "\nGET /p HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (const [name, raw] of Object.entries(variants)) {
      const text = await send(raw);
      assert(text.startsWith("HTTP/1.1 400"), `${name}: ${text.slice(0, 80)}`);
      assert(!text.includes("6.6.6.6"), name);
      assertEquals(text.match(/HTTP\/1\.1 /g)?.length, 1, name);
    }
    // A chunk line with a lone LF in it is refused too: the server behind ends the line there.
    const chunk = await send(
      "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n",
    );
    assert(chunk.startsWith("HTTP/1.1 400"), chunk.slice(0, 80));
    // A CR that is the last byte read is not lone yet: its LF may come in the next packet.
    const split = await Deno.connect({ hostname: "127.0.0.1", port });
    await split.write(encoder.encode("GET /p HTTP/1.1\r"));
    await new Promise((r) => setTimeout(r, 50));
    await split.write(encoder.encode("\nHost: x\r\nConnection: close\r\n\r\n"));
    const { text } = await readAll(split, 2000);
    assert(text.startsWith("HTTP/1.1 200"), text.slice(0, 80));
    assert(text.includes('"peer":"127.0.0.1"'), text);
  });
});

Deno.test("guard: keep-alive, chunked and sized bodies pass; a forged peer header is replaced", async () => {
  await withServer({ idleTimeoutMs: 2000, headerTimeoutMs: 2000 }, async (_server, port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(
      `POST /one HTTP/1.1\r\nHost: x\r\n${PEER_HEADER}: 6.6.6.6\r\nContent-Length: 5\r\n\r\nhello` +
        "POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n" +
        "GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ));
    const { text } = await readAll(conn);
    const bodies = text.split("\r\n\r\n").slice(1).map((part) => part.match(/\{.*?\}/)?.[0]).filter(
      Boolean,
    ).map((json) => JSON.parse(json!));
    assertEquals(bodies.map((b) => b.path), ["/one", "/two", "/three"]);
    assertEquals(bodies.map((b) => b.body), ["hello", "abcde", ""]);
    assertEquals(bodies.map((b) => b.peer), ["127.0.0.1", "127.0.0.1", "127.0.0.1"]);
  });
});

Deno.test("guard: idle keep-alive connections close; a slow handler is not idle", async () => {
  await withServer({ idleTimeoutMs: 300, headerTimeoutMs: 2000 }, async (_server, port) => {
    const slow = await fetch(`http://127.0.0.1:${port}/slow`);
    assertEquals((await slow.json()).path, "/slow");

    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    const { text, closedAfterMs } = await readAll(conn);
    assert(text.startsWith("HTTP/1.1 200"), text);
    assert(closedAfterMs >= 250 && closedAfterMs < 1500, `closed after ${closedAfterMs} ms`);
  });
});

Deno.test("guard: a client that hangs up cancels the stream and aborts the request behind", async () => {
  const cancelled = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const server = await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: { headerTimeoutMs: 2000, idleTimeoutMs: 2000, maxHeaderBytes: 4096 },
    logger: createLogger("silent"),
    handler: (request) => {
      if (new URL(request.url).pathname === "/wait") {
        // Answers only once aborted, as a generation that stops on disconnect does.
        return new Promise<Response>((resolve) =>
          request.signal.addEventListener("abort", () => {
            aborted.resolve();
            resolve(new Response("stopped"));
          })
        );
      }
      let timer: ReturnType<typeof setInterval>;
      return new Response(
        new ReadableStream({
          start(controller) {
            timer = setInterval(() => controller.enqueue(encoder.encode("tick\n")), 20);
          },
          cancel() {
            clearInterval(timer);
            cancelled.resolve();
          },
        }),
      );
    },
  });
  try {
    const stream = await fetch(`http://127.0.0.1:${server.addr.port}/stream`);
    const reader = stream.body!.getReader();
    await reader.read();
    await reader.cancel();
    const waiting = new AbortController();
    const pending = fetch(`http://127.0.0.1:${server.addr.port}/wait`, { signal: waiting.signal })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    waiting.abort();
    await pending;
    const timeout = (what: string) =>
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} not seen`)), 3000));
    await Promise.race([cancelled.promise, timeout("stream cancel")]);
    await Promise.race([aborted.promise, timeout("request abort")]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: a client that leaves during a large non-streaming request aborts its signal", async () => {
  const aborted: string[] = [];
  const server = await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: { headerTimeoutMs: 2000, idleTimeoutMs: 2000, maxHeaderBytes: 4096 },
    logger: createLogger("silent"),
    handler: async (request) => {
      const body = await request.text();
      if (new URL(request.url).pathname === "/id") {
        return Response.json({ id: request.headers.get(CONNECTION_HEADER), body });
      }
      // Works until aborted (or 5 s), as a long non-streaming generation does.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        request.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          aborted.push(body.slice(0, 5));
          resolve();
        });
      });
      return new Response("done");
    },
  });
  try {
    // Deno reports these disconnects itself only for small bodies; the guard reports all.
    for (const size of [10, 64 * 1024]) {
      const leaving = new AbortController();
      const pending = fetch(`http://127.0.0.1:${server.addr.port}/work`, {
        method: "POST",
        body: `${size}`.padEnd(size, " "),
        signal: leaving.signal,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      const left = performance.now();
      leaving.abort();
      assertEquals(await pending, undefined);
      while (aborted.length < 1 && performance.now() - left < 3000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(aborted, [`${size}`.padEnd(5, " ").slice(0, 5)], `${size}-byte body`);
      aborted.length = 0;
    }
    // A client cannot name another connection: its copy of the header is dropped.
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/id`, {
      method: "POST",
      headers: { [CONNECTION_HEADER]: "1" },
      body: "x".repeat(1000),
    });
    const { id, body } = await response.json();
    assertEquals(body.length, 1000);
    assert(/^\d+$/.test(id) && id !== "1", `connection id ${id}`);
    // Requests without a body are not tagged: Deno reports their disconnects itself.
    const get = await fetch(`http://127.0.0.1:${server.addr.port}/id`, {
      headers: { [CONNECTION_HEADER]: "1" },
    });
    assertEquals((await get.json()).id, null);
  } finally {
    await server.shutdown();
  }
});

/** A server whose `/ws` accepts a WebSocket (echoing) and whose other paths answer as `start`'s. */
async function startWithUpgrades(limits: { idleTimeoutMs: number } = { idleTimeoutMs: 2000 }) {
  return await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: { headerTimeoutMs: 2000, idleTimeoutMs: limits.idleTimeoutMs, maxHeaderBytes: 4096 },
    logger: createLogger("silent"),
    handler: async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/ws") {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onmessage = (event) => socket.send(`echo ${event.data}`);
        return response;
      }
      if (url.pathname === "/empty") return new Response(null, { status: 204 });
      if (url.pathname === "/stream") {
        // No length: Deno sends it chunked, so the guard must follow chunks to find its end.
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(encoder.encode("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
              controller.enqueue(encoder.encode("more"));
              controller.close();
            },
          }),
        );
      }
      const body = request.body ? await request.text().catch(() => "") : "";
      const peer = request.headers.get(PEER_HEADER);
      return Response.json({ peer, body, path: url.pathname }, { status: 404 });
    },
  });
}

Deno.test("guard: an upgrade the server does not accept leaves the connection guarded", async () => {
  const server = await startWithUpgrades();
  try {
    const port = server.addr.port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(
      "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ));
    const chunk = new Uint8Array(8192);
    const first = decoder.decode(chunk.subarray(0, (await conn.read(chunk)) ?? 0));
    assert(first.startsWith("HTTP/1.1 404"), first);
    // Deno keeps the connection for more requests: the next one is still checked.
    const body = "{}";
    await conn.write(encoder.encode(
      `POST /after HTTP/1.1\r\nHost: x\r\n${PEER_HEADER}: 203.0.113.77\r\nFoo: bar\nx-b: c\r\n` +
        `content-length: ${body.length}\r\n\r\n${body}`,
    ));
    const { text } = await readAll(conn, 3000);
    assert(text.startsWith("HTTP/1.1 400"), text.slice(0, 80));
    assert(!text.includes("203.0.113.77"), text);

    // A clean request after a refused upgrade is served, with the guard's own peer header.
    const again = await Deno.connect({ hostname: "127.0.0.1", port });
    await again.write(encoder.encode(
      "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
        `GET /two HTTP/1.1\r\nHost: x\r\n${PEER_HEADER}: 203.0.113.77\r\nConnection: close\r\n\r\n`,
    ));
    const both = (await readAll(again, 3000)).text;
    assertEquals(both.match(/HTTP\/1\.1 404/g)?.length, 2, both);
    assert(both.includes('"path":"/two"') && both.includes('"peer":"127.0.0.1"'), both);
    assert(!both.includes("203.0.113.77"), both);
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: after HEAD, 204 and chunked answers that look like a 101, an upgrade refused stays guarded", async () => {
  const server = await startWithUpgrades();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    // Pipelined: the guard must find the refused upgrade's answer among the others'.
    await conn.write(encoder.encode(
      "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
        `GET /last HTTP/1.1\r\nHost: x\r\nFoo: bar\n${PEER_HEADER}: 203.0.113.77\r\n\r\n`,
    ));
    const { text } = await readAll(conn, 3000);
    assert(text.includes("HTTP/1.1 204"), text);
    assert(text.includes('"path":"/nope"'), text);
    // The last request's bare LF is refused rather than passed through to the server.
    assert(text.trimEnd().endsWith('LF without CR in the request head"}'), text);
    assert(!text.includes("203.0.113.77"), text);
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: an accepted WebSocket upgrade passes through both ways", async () => {
  const server = await startWithUpgrades();
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/ws`);
    const reply = new Promise<string>((resolve, reject) => {
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onerror = () => reject(new Error("websocket failed"));
    });
    await new Promise((resolve) => socket.onopen = resolve);
    socket.send("hi");
    assertEquals(await reply, "echo hi");
    const closed = new Promise((resolve) => socket.onclose = resolve);
    socket.close();
    await closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: a response that closes the connection closes the client's at once", async () => {
  const server = await serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    limits: { headerTimeoutMs: 3000, idleTimeoutMs: 3000, maxHeaderBytes: 4096 },
    logger: createLogger("silent"),
    // Refuses a declared length unread, as the channel hub's 413 does.
    handler: () =>
      Response.json({ error: "payload too large" }, {
        status: 413,
        headers: { connection: "close" },
      }),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(encoder.encode(
      `POST /big HTTP/1.1\r\nHost: x\r\ncontent-length: 5000000\r\n\r\n${"a".repeat(1000)}`,
    ));
    const { text, closedAfterMs } = await readAll(conn, 6000);
    assert(text.startsWith("HTTP/1.1 413"), text.slice(0, 80));
    assert(text.includes("payload too large"), text);
    assert(closedAfterMs < 1500, `closed after ${closedAfterMs} ms`);

    // A client still sending its body gets the whole answer, then the end of the stream.
    const sender = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await sender.write(encoder.encode(
      "POST /big HTTP/1.1\r\nHost: x\r\ncontent-length: 5000000\r\n\r\n",
    ));
    let sending = true;
    const writing = (async () => {
      const block = new Uint8Array(16 * 1024).fill(97);
      try {
        while (sending) await sender.write(block);
      } catch { /* the guard closed the connection */ }
    })();
    const answer = await readAll(sender, 6000);
    sending = false;
    await writing;
    assert(answer.text.startsWith("HTTP/1.1 413"), answer.text.slice(0, 80));
    assert(answer.text.includes("payload too large"), answer.text);
    assert(answer.closedAfterMs < 2500, `closed after ${answer.closedAfterMs} ms`);
  } finally {
    await server.shutdown();
  }
});
