/** Traffic limits: token-bucket rate limits, IP allow and deny lists, request-size limits. */
import type { MiddlewareHandler } from "hono";
import type { MiddlewareConfig } from "../config.ts";
import type { GatewayEnv } from "../context.ts";
import { ipInList } from "../ip.ts";
import { TokenBuckets } from "../rate_limit.ts";
import { SharedTokenBuckets } from "../shared_rate_limit.ts";
import type { Store } from "@a3s/common";

type Handler = MiddlewareHandler<GatewayEnv>;

function problem(status: number, message: string, headers: HeadersInit = {}): Response {
  return Response.json({ error: { status, message } }, { status, headers });
}

/**
 * 429 with Retry-After once a client, key or route has used up its bucket. `shared` is the
 * store-backed bucket set when the config asks for a limit shared between processes; `name`
 * keeps different limits' buckets apart in it.
 */
export function rateLimit(
  config: NonNullable<MiddlewareConfig["rateLimit"]>,
  name: string,
  store?: Store,
): Handler {
  if (config.shared && !store) {
    throw new Error(`middleware ${name}: a shared rate limit needs a database (--database-url)`);
  }
  const buckets = config.shared && store
    ? new SharedTokenBuckets(store, config.average, config.burst)
    : new TokenBuckets(config.average, config.burst);
  return async (c, next) => {
    const scope = config.by === "route"
      ? c.env.router
      : config.by === "key" && c.var.state.principal
      ? `key:${c.var.state.principal}`
      : `ip:${c.env.client.remoteAddr}`;
    const result = await buckets.take(`${name}:${scope}`);
    if (!result.allowed) {
      return problem(429, "rate limit exceeded", {
        "retry-after": String(result.retryAfterSeconds),
        "ratelimit-remaining": "0",
      });
    }
    await next();
    c.res.headers.set("ratelimit-remaining", String(result.remaining));
  };
}

/** Denies listed addresses, then admits only listed ones when an allow list is set. */
export function ipAllowList(config: NonNullable<MiddlewareConfig["ipAllowList"]>): Handler {
  return async (c, next) => {
    const ip = c.env.client.remoteAddr;
    if (ipInList(ip, config.deny) || (config.allow.length && !ipInList(ip, config.allow))) {
      return problem(403, "client address not allowed");
    }
    await next();
  };
}

/**
 * 413 for a declared Content-Length over the limit; a chunked body is counted as it streams
 * and cut off at the limit, and the proxy then answers 413.
 */
export function bodyLimit(config: NonNullable<MiddlewareConfig["bodyLimit"]>): Handler {
  return async (c, next) => {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > config.maxBytes) {
      return problem(413, `request body over ${config.maxBytes} bytes`);
    }
    const state = c.var.state;
    if (state.body) {
      let seen = 0;
      state.body = state.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            seen += chunk.byteLength;
            if (seen > config.maxBytes) {
              state.bodyTooLarge = true;
              controller.error(new Error("request body over the limit"));
              return;
            }
            controller.enqueue(chunk);
          },
        }),
      );
    }
    await next();
  };
}
