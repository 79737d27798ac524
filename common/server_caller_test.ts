/**
 * The caller a route sees, through the whole middleware stack serve assembles (security, then
 * bodyLimit, then a module's own middleware) over a real socket. bodyLimit replaces `c.req.raw`
 * when a body comes chunked, with no content-length; the caller must survive that.
 */
import { join } from "node:path";
import type { Context } from "hono";
import { assert, assertEquals } from "./_assert.ts";
import { loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { defineModule } from "./module.ts";
import { createRouter } from "./router.ts";
import { callerOf } from "./security/caller.ts";
import { TokenStore } from "./security/tokens.ts";
import { startServer } from "./server.ts";
import { openStore } from "./store.ts";

const CONFIG_TOKEN = "cfg-caller-token-0123456789";

const whoami = defineModule({
  name: "whoami",
  access: [
    { path: "/whoami/v1/open", scope: "whoami:read", anonymousOnLoopback: true },
    { path: "/whoami/v1/relabelled", scope: "whoami:read", anonymousOnLoopback: true },
    { path: "/whoami/v1/private", scope: "whoami:write" },
  ],
  start() {
    const app = createRouter();
    // Like power's: a module middleware that swaps the request for a relabelled copy.
    app.use("/whoami/v1/relabelled", async (c, next) => {
      const headers = new Headers(c.req.raw.headers);
      headers.set("content-type", "application/json");
      c.req.raw = new Request(c.req.raw, { headers });
      await next();
    });
    const answer = async (c: Context) =>
      c.json({
        raw: callerOf(c.req.raw),
        context: callerOf(c),
        chunked: c.req.header("transfer-encoding") ?? null,
        length: c.req.header("content-length") ?? null,
        body: await c.req.json(),
      });
    for (const path of ["/whoami/v1/open", "/whoami/v1/relabelled", "/whoami/v1/private"]) {
      app.post(path, answer);
    }
    return { routes: app };
  },
});

async function withServer(
  fn: (url: string, storedToken: { id: string; token: string }) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir();
  await Deno.writeTextFile(
    join(home, "config.json"),
    JSON.stringify({
      security: { tokens: [{ token: CONFIG_TOKEN, scopes: ["whoami:read", "whoami:write"] }] },
    }),
  );
  const config = loadConfig({ env: { A3S_HOME: home }, flags: { port: 0, bodyLimit: 1024 } });
  const store = await openStore({ sqlitePath: ":memory:" });
  const stored = await (await TokenStore.open(store)).create({ scopes: ["whoami:write"] });
  const server = await startServer({
    config,
    modules: [whoami],
    store,
    logger: createLogger("silent"),
  });
  try {
    await fn(server.url, stored);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
}

/** A body sent in pieces, as a stream: fetch sends it chunked, with no content-length. */
function chunkedBody(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const middle = Math.floor(bytes.length / 2);
  return ReadableStream.from([bytes.slice(0, middle), bytes.slice(middle)]);
}

async function post(
  url: string,
  body: string | ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("serve: a chunked body keeps its token's caller through bodyLimit", async () => {
  await withServer(async (url, stored) => {
    const text = JSON.stringify({ session: "s1", value: "SUPERSECRET-VALUE-123" });
    const callers = [
      [{ authorization: `Bearer ${CONFIG_TOKEN}` }, "token:config:0"],
      [{ "x-api-key": stored.token }, `token:${stored.id}`],
    ] as const;
    for (const [headers, expected] of callers) {
      for (const path of ["open", "relabelled", "private"]) {
        const where = `${path} as ${expected}`;
        const chunked = await post(`${url}/whoami/v1/${path}`, chunkedBody(text), headers);
        assertEquals(chunked.status, 200, where);
        const seen = await chunked.json();
        // The request did come chunked, so bodyLimit read it and replaced the request.
        assertEquals(seen.chunked, "chunked", where);
        assertEquals(seen.length, null, where);
        assertEquals(seen.body, JSON.parse(text), where);
        assertEquals(seen.raw, expected, `callerOf(c.req.raw), ${where}`);
        assertEquals(seen.context, expected, `callerOf(c), ${where}`);

        // The same with a content-length, for comparison.
        const sized = await (await post(`${url}/whoami/v1/${path}`, text, headers)).json();
        assertEquals(sized.length, String(new TextEncoder().encode(text).length), where);
        assertEquals([sized.raw, sized.context], [expected, expected], where);
      }
    }

    // No token: anonymous on the open route, chunked or not; refused on the private one.
    const anonymous = await (await post(`${url}/whoami/v1/open`, chunkedBody(text))).json();
    assertEquals([anonymous.raw, anonymous.context], ["anonymous", "anonymous"]);
    const refused = await post(`${url}/whoami/v1/private`, chunkedBody(text));
    assertEquals(refused.status, 401);
    await refused.body?.cancel();

    // bodyLimit still counts a chunked body.
    const big = JSON.stringify({ value: "x".repeat(2048) });
    const tooBig = await post(`${url}/whoami/v1/open`, chunkedBody(big), {
      authorization: `Bearer ${CONFIG_TOKEN}`,
    });
    assertEquals(tooBig.status, 413);
    assert((await tooBig.json()).detail.includes("1024"));
  });
});

Deno.test("serve: a chunked request written by hand, like curl's, names its token", async () => {
  await withServer(async (url) => {
    const { hostname, port } = new URL(url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    try {
      const body = JSON.stringify({ session: "s1", value: "SUPERSECRET-VALUE-123" });
      const size = new TextEncoder().encode(body).length.toString(16);
      const request = [
        "POST /whoami/v1/open HTTP/1.1",
        `Host: ${hostname}:${port}`,
        `Authorization: Bearer ${CONFIG_TOKEN}`,
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        "Connection: close",
        "",
        `${size}\r\n${body}\r\n0\r\n\r\n`,
      ].join("\r\n");
      await conn.write(new TextEncoder().encode(request));
      const reply = await new Response(conn.readable).text();
      assert(reply.startsWith("HTTP/1.1 200"), reply.slice(0, 200));
      assert(reply.includes('"raw":"token:config:0"'), reply);
      assert(reply.includes('"context":"token:config:0"'), reply);
      assert(!reply.includes("anonymous"), reply);
    } finally {
      try {
        conn.close();
      } catch { /* closed by the reader */ }
    }
  });
});
