/** Authentication middlewares: API keys, HTTP basic, JWT (through `jose`) and forward-auth. */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { MiddlewareConfig } from "../config.ts";
import type { GatewayEnv } from "../context.ts";
import { constantTimeEqual, hashSecret } from "../hash.ts";

type Handler = MiddlewareHandler<GatewayEnv>;

function unauthorized(message: string, challenge: string): Response {
  return Response.json({ error: { status: 401, message } }, {
    status: 401,
    headers: { "www-authenticate": challenge },
  });
}

function bearer(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  const match = auth?.match(/^Bearer\s+(.+)$/i);
  return match?.[1].trim();
}

/** Accepts a request whose key (Bearer or the configured header) hashes to a configured hash. */
export function apiKeyAuth(config: NonNullable<MiddlewareConfig["apiKeys"]>): Handler {
  const entries = Object.entries(config.keys);
  return async (c, next) => {
    const key = bearer(c.req.raw.headers) ?? c.req.header(config.header);
    if (!key) return unauthorized("an API key is required", "Bearer");
    const hashed = await hashSecret(key);
    // Every stored hash is compared, so timing does not say which key matched.
    let name: string | undefined;
    for (const [n, h] of entries) if (constantTimeEqual(h, hashed)) name = n;
    if (!name) return unauthorized("the API key is not valid", "Bearer");
    c.var.state.principal = name;
    // The backend never sees the gateway's credential.
    c.var.state.headerEdits.push((h) => {
      h.delete(config.header);
      if (bearer(h)) h.delete("authorization");
    });
    await next();
  };
}

/** HTTP basic authentication against hashed passwords. */
export function basicAuth(config: NonNullable<MiddlewareConfig["basicAuth"]>): Handler {
  const challenge = `Basic realm="${config.realm}", charset="UTF-8"`;
  return async (c, next) => {
    const match = c.req.header("authorization")?.match(/^Basic\s+([A-Za-z0-9+/=]+)$/i);
    if (!match) return unauthorized("credentials are required", challenge);
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(match[1]), (ch) => ch.charCodeAt(0)));
    } catch {
      return unauthorized("malformed basic credentials", challenge);
    }
    const colon = decoded.indexOf(":");
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const stored = config.users[user];
    const hashed = await hashSecret(colon < 0 ? "" : decoded.slice(colon + 1));
    if (!stored || !constantTimeEqual(stored, hashed)) {
      return unauthorized("the user name or password is wrong", challenge);
    }
    c.var.state.principal = user;
    c.var.state.headerEdits.push((h) => h.delete("authorization"));
    await next();
  };
}

/** Bearer JWTs verified against a JWKS URL or an HS256 secret. */
export function jwtAuth(config: NonNullable<MiddlewareConfig["jwt"]>): Handler {
  const key: Uint8Array | JWTVerifyGetKey = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl))
    : new TextEncoder().encode(config.secret);
  return async (c, next) => {
    const token = bearer(c.req.raw.headers);
    if (!token) return unauthorized("a bearer token is required", "Bearer");
    let payload: JWTPayload;
    try {
      const options = { issuer: config.issuer, audience: config.audience };
      payload = typeof key === "function"
        ? (await jwtVerify(token, key, options)).payload
        : (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      return unauthorized(
        `the token is not valid: ${(error as Error).message}`,
        'Bearer error="invalid_token"',
      );
    }
    c.var.state.principal = payload.sub ?? "jwt";
    await next();
  };
}

/**
 * Asks an external service: the request's headers go to `address` with X-Forwarded-Method,
 * -Uri and -Host; a 2xx lets the request through (copying the named response headers onto it),
 * anything else is returned to the client as it is.
 */
export function forwardAuth(config: NonNullable<MiddlewareConfig["forwardAuth"]>): Handler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const headers = new Headers(c.req.raw.headers);
    headers.delete("content-length");
    headers.delete("host");
    headers.set("x-forwarded-method", c.req.method);
    headers.set("x-forwarded-uri", `${url.pathname}${url.search}`);
    headers.set("x-forwarded-host", url.host);
    headers.set("x-forwarded-for", c.env.client.remoteAddr);
    let response: Response;
    try {
      response = await fetch(config.address, {
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (error) {
      return Response.json({
        error: { status: 502, message: `auth service failed: ${(error as Error).message}` },
      }, { status: 502 });
    }
    if (response.status < 200 || response.status >= 300) {
      const out = new Headers(response.headers);
      out.delete("transfer-encoding");
      return new Response(response.body, { status: response.status, headers: out });
    }
    await response.body?.cancel();
    const copied = config.authResponseHeaders.map((n) => [n, response.headers.get(n)] as const);
    c.var.state.headerEdits.push((h) => {
      for (const [n, v] of copied) if (v !== null) h.set(n, v);
    });
    await next();
  };
}
