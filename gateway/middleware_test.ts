import { assert, assertEquals } from "@a3s/common/testing";
import { SignJWT } from "jose";
import { hashSecret } from "./hash.ts";
import { base, rawRequest, startBackend, startTestGateway } from "./_test_support.ts";

const SECRET = "a-test-secret-that-is-at-least-32-bytes!";

Deno.test("API keys (hashed), basic auth and JWT guard their routers", async () => {
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { echo: { backends: [{ url: echo.url }] } },
    middlewares: {
      keys: { apiKeys: { keys: { ci: await hashSecret("k-123") } } },
      basic: { basicAuth: { users: { ada: await hashSecret("lovelace") } } },
      jwt: { jwt: { secret: SECRET, issuer: "a3s-test" } },
    },
    routers: {
      keys: { rule: { pathPrefix: ["/keys"] }, service: "echo", middlewares: ["keys"] },
      basic: { rule: { pathPrefix: ["/basic"] }, service: "echo", middlewares: ["basic"] },
      jwt: { rule: { pathPrefix: ["/jwt"] }, service: "echo", middlewares: ["jwt"] },
    },
  });
  const status = async (path: string, headers: HeadersInit = {}) => {
    const res = await fetch(`${base(gw)}${path}`, { headers });
    const body = await res.json();
    return { status: res.status, body, challenge: res.headers.get("www-authenticate") };
  };
  try {
    assertEquals((await status("/keys")).status, 401);
    assertEquals((await status("/keys", { authorization: "Bearer wrong" })).status, 401);
    const ok = await status("/keys", { authorization: "Bearer k-123" });
    assertEquals(ok.status, 200);
    assertEquals(ok.body.headers.authorization, undefined, "the key is not passed upstream");
    assertEquals((await status("/keys", { "x-api-key": "k-123" })).status, 200);

    const noCreds = await status("/basic");
    assertEquals(noCreds.status, 401);
    assert(noCreds.challenge?.startsWith("Basic realm="));
    assertEquals(
      (await status("/basic", { authorization: `Basic ${btoa("ada:wrong")}` })).status,
      401,
    );
    assertEquals(
      (await status("/basic", { authorization: `Basic ${btoa("ada:lovelace")}` })).status,
      200,
    );

    const key = new TextEncoder().encode(SECRET);
    const good = await new SignJWT({ sub: "u1" }).setProtectedHeader({ alg: "HS256" })
      .setIssuer("a3s-test").setExpirationTime("5m").sign(key);
    const expired = await new SignJWT({ sub: "u1" }).setProtectedHeader({ alg: "HS256" })
      .setIssuer("a3s-test").setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
    const wrongIssuer = await new SignJWT({ sub: "u1" }).setProtectedHeader({ alg: "HS256" })
      .setIssuer("someone-else").setExpirationTime("5m").sign(key);
    assertEquals((await status("/jwt", { authorization: `Bearer ${good}` })).status, 200);
    assertEquals((await status("/jwt", { authorization: `Bearer ${expired}` })).status, 401);
    assertEquals((await status("/jwt", { authorization: `Bearer ${wrongIssuer}` })).status, 401);
  } finally {
    await gw.close();
    await echo.close();
  }
});

Deno.test("forward-auth asks a real auth service and copies its headers", async () => {
  const auth = startBackend(
    "auth",
    (r) =>
      r.headers.get("authorization") === "Bearer letmein"
        ? new Response(null, { status: 204, headers: { "x-user": "ada" } })
        : new Response("go away", { status: 403 }),
  );
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { echo: { backends: [{ url: echo.url }] } },
    middlewares: {
      fa: { forwardAuth: { address: `${auth.url}/check`, authResponseHeaders: ["x-user"] } },
    },
    routers: { echo: { rule: {}, service: "echo", middlewares: ["fa"] } },
  });
  try {
    const denied = await fetch(`${base(gw)}/x`);
    assertEquals(denied.status, 403);
    assertEquals(await denied.text(), "go away");
    const allowed = await fetch(`${base(gw)}/x`, { headers: { authorization: "Bearer letmein" } });
    assertEquals((await allowed.json()).headers["x-user"], "ada");
    assertEquals(auth.seen.at(-1)?.headers.get("x-forwarded-uri"), "/x");
  } finally {
    await gw.close();
    await auth.close();
    await echo.close();
  }
});

Deno.test("rate limits answer 429 with Retry-After; IP lists; CORS; rewrites; redirects", async () => {
  const echo = startBackend("echo");
  const gw = await startTestGateway({
    services: { echo: { backends: [{ url: echo.url }] } },
    middlewares: {
      rl: { rateLimit: { average: 0.5, burst: 2, by: "ip" } },
      deny: { ipAllowList: { deny: ["127.0.0.0/8"] } },
      allow: { ipAllowList: { allow: ["::1", "127.0.0.1/32"] } },
      cors: { cors: { origins: ["https://app.example"] } },
      strip: { stripPrefix: { prefixes: ["/svc"] } },
      hdr: {
        headers: {
          request: { set: { "x-added": "1" }, remove: ["x-remove"] },
          response: { set: { "x-served-by": "a3s" }, remove: [] },
        },
      },
      https: {
        redirect: {
          regex: "^http://([^/]+)/old/(.*)$",
          replacement: "https://$1/new/$2",
          permanent: true,
        },
      },
    },
    routers: {
      rl: { rule: { pathPrefix: ["/rl"] }, service: "echo", middlewares: ["rl"] },
      deny: { rule: { pathPrefix: ["/deny"] }, service: "echo", middlewares: ["deny"] },
      allow: { rule: { pathPrefix: ["/allow"] }, service: "echo", middlewares: ["allow"] },
      cors: { rule: { pathPrefix: ["/cors"] }, service: "echo", middlewares: ["cors"] },
      svc: { rule: { pathPrefix: ["/svc"] }, service: "echo", middlewares: ["strip", "hdr"] },
      old: { rule: { pathPrefix: ["/old"] }, service: "echo", middlewares: ["https"] },
    },
  });
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base(gw)}${path}`, { redirect: "manual", ...init });
  try {
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const res = await get("/rl");
      codes.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      await res.body?.cancel();
    }
    assertEquals(codes, [200, 200, 429]);
    assertEquals(retryAfter, "2");

    const denied = await get("/deny");
    assertEquals(denied.status, 403);
    await denied.body?.cancel();
    const allowed = await get("/allow");
    assertEquals(allowed.status, 200);
    await allowed.body?.cancel();

    const preflight = await get("/cors", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    assertEquals(preflight.status, 204);
    assertEquals(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    await preflight.body?.cancel();
    const foreign = await get("/cors", { headers: { origin: "https://evil.example" } });
    assertEquals(foreign.headers.get("access-control-allow-origin"), null);
    await foreign.body?.cancel();

    const rewritten = await get("/svc/users?id=1", { headers: { "x-remove": "1" } });
    assertEquals(rewritten.headers.get("x-served-by"), "a3s");
    const body = await rewritten.json();
    assertEquals(body.path, "/users");
    assertEquals(body.search, "?id=1");
    assertEquals(body.headers["x-added"], "1");
    assertEquals(body.headers["x-remove"], undefined);
    assertEquals(body.headers["x-forwarded-prefix"], "/svc");

    const moved = await get("/old/page");
    assertEquals(moved.status, 308);
    assertEquals(moved.headers.get("location"), `https://127.0.0.1:${gw.port}/new/page`);
    await moved.body?.cancel();
  } finally {
    await gw.close();
    await echo.close();
  }
});

Deno.test("compression gzips what the client accepts, only on routers that ask for it", async () => {
  const big = startBackend(
    "big",
    () => new Response("hello ".repeat(2000), { headers: { "content-type": "text/plain" } }),
  );
  const gw = await startTestGateway({
    services: { big: { backends: [{ url: big.url }] } },
    middlewares: { gz: { compress: {} } },
    routers: {
      gz: { rule: { pathPrefix: ["/gz"] }, service: "big", middlewares: ["gz"] },
      plain: { rule: { pathPrefix: ["/plain"] }, service: "big" },
    },
  });
  const raw = (path: string) =>
    rawRequest(
      gw.port,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept-Encoding: gzip`,
    );
  try {
    const gz = await raw("/gz");
    assertEquals(gz.headers.get("content-encoding"), "gzip");
    assert(gz.body.length < 1000, `compressed to ${gz.body.length} bytes`);
    const plain = await raw("/plain");
    assertEquals(plain.headers.get("content-encoding"), undefined);
    assert(plain.body.length >= 12000);
    const viaFetch = await fetch(`${base(gw)}/gz`);
    assertEquals((await viaFetch.text()).length, 12000);
  } finally {
    await gw.close();
    await big.close();
  }
});
