/**
 * The security middleware serve puts in front of every route: head size, Host check, origin
 * and content-type checks for browsers, tokens and scopes, per-client limits, the request
 * timeout, and 405 for a known path with the wrong method. Every refusal is logged and
 * counted in `a3s_security_denials_total`.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { matchedRoutes } from "hono/route";
import { A3sError, errorStyleForPath, renderError, UsageError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { AccessRule } from "../module.ts";
import type { Store } from "../store.ts";
import { counter } from "../telemetry.ts";
import { AccessTable, patternToRegExp } from "./access.ts";
import { ANONYMOUS_CALLER, bindCaller } from "./caller.ts";
import { type Cidr, cidrContains, parseCidr, parseIp } from "./addresses.ts";
import type { SecurityConfig } from "./config.ts";
import { HostCheck, isLoopbackBind } from "./host_check.ts";
import { ClientLimiter, releaseWhenBodyEnds } from "./limits.ts";
import { isJsonContentType, OriginPolicy, sentByBrowser } from "./origins.ts";
import { scopeGrants } from "./scopes.ts";
import {
  digestsEqual,
  looksLikeStoredToken,
  sha256Hex,
  type TokenIdentity,
  TokenStore,
} from "./tokens.ts";

/** Why a request was refused; the label of `a3s_security_denials_total`. */
export type DenialReason =
  | "header_too_large"
  | "bad_host"
  | "bad_origin"
  | "content_type"
  | "unauthenticated"
  | "bad_token"
  | "missing_scope"
  | "rate_limited"
  | "too_many_requests_in_flight"
  | "timeout";

const denials = counter({
  name: "a3s_security_denials_total",
  help: "Requests refused by the security layer, by reason.",
  labelNames: ["reason"],
});

/** Methods `/metrics` labels by name; anything else a client sends is counted as `other`. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The method label for metrics: a known method, else `other`, so labels stay bounded. */
export function metricMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "other";
}

/** The header a connection guard in front of serve uses to pass the client's address. */
export const PEER_HEADER = "x-a3s-peer";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Content types of responses that stream (events, NDJSON, raw bytes) and so hold a slot. */
const STREAMING_TYPES = /event-stream|ndjson|octet-stream|jsonl/i;

/** Options for {@linkcode createSecurity}. */
export interface SecurityOptions {
  /** The validated `security` section. */
  config: SecurityConfig;
  /** The bind address; decides loopback or public defaults. */
  host: string;
  /** Where stored tokens live. */
  store: Store;
  /** Where refusals are logged. */
  logger: Logger;
  /** Every module's access rules, in module order. */
  rules: readonly AccessRule[];
}

/** The installed security layer. */
export interface Security {
  /** The middleware; install it on `*` before the routes. */
  middleware(app: OpenAPIHono): MiddlewareHandler;
  /** The token store (for serve-side tools and tests). */
  tokens: TokenStore;
  /** False only when serving a public bind with no token, by explicit request. */
  authEnforced: boolean;
  /** True when bound to a loopback address. */
  loopbackBind: boolean;
}

interface ConfiguredToken {
  hash: string;
  identity: TokenIdentity;
}

/** The token a request carries: `Authorization: Bearer ...` or `x-api-key`. */
export function presentedToken(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  const bearer = authorization?.match(/^\s*Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer ?? headers.get("x-api-key")?.trim() ?? undefined;
}

/**
 * Whether a token that failed to verify, sent to a route open to anonymous loopback callers,
 * was meant for us and so is refused: one shaped like a stored token (`a3s_...`), or any token
 * in `x-api-key`, a3s's own header. A bearer value of another shape is let through as anonymous:
 * the OpenAI client insists on sending some key, and "ollama" or "unused" is what people give it
 * (a configured token is any string, so a mistyped one looks the same and is let through too).
 */
function refusedOnOpenRoute(headers: Headers, token: string): boolean {
  if (looksLikeStoredToken(token)) return true;
  const bearer = headers.get("authorization")?.match(/^\s*Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer === undefined && token !== "";
}

/** The context variable the security middleware records the client's address in. */
const CLIENT_ADDRESS_VARIABLE = "a3sClientAddress";

/**
 * The client address the security middleware decided a request came from (the one its
 * per-client limits count): the connection guard's word on serve's private socket, else the
 * socket's peer, and behind a trusted proxy the nearest untrusted `X-Forwarded-For` hop. A route
 * that counts or records senders reads it here rather than from a header, which a client (or
 * a server run without the guard) could have written. `undefined` when no security middleware
 * ran, or it learned no address.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { clientAddressOf } from "@a3s/common";
 * const app = new Hono();
 * app.get("/", (c) => c.text(clientAddressOf(c) ?? "unknown"));
 * const res = await app.request("/");
 * console.log(await res.text()); // "unknown"
 * ```
 */
export function clientAddressOf(c: Context): string | undefined {
  const address = c.get(CLIENT_ADDRESS_VARIABLE) as string | undefined;
  return address !== undefined && parseIp(address) ? address : undefined;
}

/** The connection's peer: the guard's header on the internal socket, else the socket peer. */
function peerAddress(c: Context): string {
  const info = c.env as Deno.ServeHandlerInfo | undefined;
  const remote = info?.remoteAddr as Deno.Addr | undefined;
  if (remote?.transport === "unix") return c.req.header(PEER_HEADER) ?? "unix";
  if (remote && "hostname" in remote) return remote.hostname;
  return "unknown";
}

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the nearest
 * untrusted address in `X-Forwarded-For` (read from the right, since a client may write
 * anything on the left).
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trusted: readonly Cidr[],
): string {
  const isTrusted = (address: string) => {
    const bytes = parseIp(address);
    return !!bytes && trusted.some((block) => cidrContains(block, bytes));
  };
  if (!trusted.length || !forwardedFor || !isTrusted(peer)) return peer;
  const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!parseIp(hops[i])) return peer;
    if (!isTrusted(hops[i])) return hops[i];
  }
  return peer;
}

function headBytes(c: Context): number {
  let total = c.req.method.length + c.req.url.length + 12;
  c.req.raw.headers.forEach((value, name) => {
    total += name.length + value.length + 4;
  });
  return total;
}

/**
 * Builds the security layer from config: loads the token store, hashes configured tokens,
 * and refuses (with a {@linkcode UsageError}) to serve a public bind with no token unless
 * `insecureNoAuthOnPublicBind` is set.
 */
export async function createSecurity(options: SecurityOptions): Promise<Security> {
  const { config, logger } = options;
  const tokens = await TokenStore.open(options.store);
  const configured: ConfiguredToken[] = config.tokens.map((entry, index) => ({
    hash: sha256Hex(entry.token),
    identity: {
      id: `config:${index}`,
      name: entry.name ?? `config:${index}`,
      scopes: entry.scopes,
    },
  }));
  const loopbackBind = isLoopbackBind(options.host);
  const tokenCount = configured.length + await tokens.activeCount();
  let authEnforced = true;
  if (!loopbackBind && tokenCount === 0) {
    if (!config.insecureNoAuthOnPublicBind) {
      throw new UsageError(
        `refusing to serve on ${options.host} with no API token: create one with 'a3s token create --scope admin' or set A3S_TOKENS (or pass --insecure-no-auth-on-public-bind to serve everyone without authentication)`,
      );
    }
    authEnforced = false;
    logger.warn(
      "INSECURE: serving a non-loopback address with no API token; anyone who can reach it can run anything",
      { host: options.host },
    );
  }
  const table = new AccessTable(options.rules);
  const proxies = config.trustedProxies.map((block) => parseCidr(block)!);
  const hosts = new HostCheck({ loopbackBind, allowedHosts: config.allowedHosts });
  const origins = new OriginPolicy(config.origins);
  const limiter = new ClientLimiter({
    requestsPerMinute: config.requestsPerMinute,
    burst: config.requestBurst,
    maxConcurrent: config.maxConcurrentRequests,
  });

  async function identify(token: string): Promise<TokenIdentity | undefined> {
    const hash = sha256Hex(token);
    // Every configured token is compared, match or not, so timing says nothing.
    let found: TokenIdentity | undefined;
    for (const entry of configured) if (digestsEqual(hash, entry.hash)) found ??= entry.identity;
    return found ?? await tokens.verify(token);
  }

  function middleware(app: OpenAPIHono): MiddlewareHandler {
    let routeTable: { regex: RegExp; method: string }[] | undefined;
    const allowedMethods = (path: string): string[] => {
      routeTable ??= app.routes
        .filter((r) => r.method !== "ALL" && r.path !== "*" && r.path !== "/*")
        .map((r) => ({ regex: patternToRegExp(r.path), method: r.method }));
      const methods = new Set(routeTable.filter((r) => r.regex.test(path)).map((r) => r.method));
      if (methods.has("GET")) methods.add("HEAD");
      return [...methods].sort();
    };

    return async (c, next) => {
      const path = c.req.path;
      const method = c.req.method;
      const address = clientAddress(peerAddress(c), c.req.header("x-forwarded-for"), proxies);
      c.set(CLIENT_ADDRESS_VARIABLE, address);
      const origin = c.req.header("origin");
      const deny = (
        reason: DenialReason,
        status: number,
        message: string,
        extra: { field?: string; headers?: Record<string, string> } = {},
      ): Response => {
        denials.inc({ reason });
        logger.warn("request refused", {
          requestId: c.get("requestId"),
          reason,
          method: method.slice(0, 16),
          path: path.slice(0, 200),
          client: address,
          status,
        });
        const error = new A3sError(reason, message, { status, field: extra.field });
        const { contentType, body } = renderError(errorStyleForPath(path), error, path);
        return new Response(JSON.stringify(body), {
          status,
          headers: {
            "content-type": contentType,
            "x-request-id": c.get("requestId") ?? "",
            // An allowed page may read why it was refused (a 401 or a 429, say).
            ...(origin !== undefined && reason !== "bad_origin" &&
                origins.allows(origin, c.req.header("host"))
              ? origins.corsHeaders(origin)
              : {}),
            ...extra.headers,
          },
        });
      };

      if (headBytes(c) > config.maxHeaderBytes) {
        return deny(
          "header_too_large",
          431,
          `request headers exceed ${config.maxHeaderBytes} bytes`,
          {
            field: "headers",
          },
        );
      }
      const host = c.req.header("host");
      if (!hosts.allows(host)) {
        return deny(
          "bad_host",
          403,
          "host not allowed: add it to allowedHosts (A3S_ALLOWED_HOSTS)",
          {
            field: "host",
          },
        );
      }
      if (origin !== undefined && !origins.allows(origin, host)) {
        return deny("bad_origin", 403, "origin not allowed: add it to origins (A3S_ORIGINS)", {
          field: "origin",
        });
      }
      if (
        origin !== undefined && method === "OPTIONS" &&
        c.req.header("access-control-request-method")
      ) {
        return new Response(null, {
          status: 204,
          headers: origins.preflightHeaders(origin, c.req.header("access-control-request-headers")),
        });
      }
      const hasBody = BODY_METHODS.has(method) && c.req.raw.body !== null &&
        c.req.header("content-length") !== "0";
      if (
        hasBody && !isJsonContentType(c.req.header("content-type") ?? null) &&
        (config.requireJsonContentType === "always" || sentByBrowser(c.req.raw.headers))
      ) {
        return deny("content_type", 415, "content-type must be application/json", {
          field: "content-type",
        });
      }

      const decision = table.decide(method, path, loopbackBind);
      const token = presentedToken(c.req.raw.headers);
      let identity: TokenIdentity | undefined;
      if (token !== undefined) identity = await identify(token);
      // A path no route or middleware serves answers 404 to anyone: nothing there to guard.
      const routed = () =>
        matchedRoutes(c).some((r) => r.path !== "*" && r.path !== "/*") ||
        allowedMethods(path).length > 0;
      // A route open to anonymous loopback callers still checks an a3s token it is sent: one
      // that is not valid (mistyped, revoked) is refused, never quietly taken for anonymous, or
      // its caller's sessions would land among every anonymous caller's. Another client's
      // placeholder key stays anonymous (see refusedOnOpenRoute). Routes with no scope (health
      // probes, self-authenticated webhooks) never read our token: a header there may be
      // another party's.
      const badTokenOnOpenRoute = decision.anonymous && decision.scope !== undefined &&
        token !== undefined && !identity && refusedOnOpenRoute(c.req.raw.headers, token);
      if (authEnforced && (!decision.anonymous || badTokenOnOpenRoute) && routed()) {
        const challenge = { "www-authenticate": 'Bearer realm="a3s"' };
        if (token === undefined) {
          return deny(
            "unauthenticated",
            401,
            "an API token is required: send 'Authorization: Bearer <token>' or 'x-api-key'",
            { headers: challenge },
          );
        }
        if (!identity) {
          return deny("bad_token", 401, "the API token is not valid or was revoked", {
            headers: challenge,
          });
        }
        if (decision.scope && !scopeGrants(identity.scopes, decision.scope)) {
          return deny("missing_scope", 403, `the API token lacks the '${decision.scope}' scope`);
        }
      }

      const caller = identity ? `token:${identity.id}` : ANONYMOUS_CALLER;
      // In the context and on the request, following any request a later middleware puts in
      // its place (bodyLimit does for a chunked body), so every handler sees this caller.
      bindCaller(c, caller);
      // Anonymous callers are limited one address at a time, not as one.
      const slot = limiter.acquire(identity ? caller : `addr:${address}`);
      if (!slot.ok) {
        return deny(
          slot.reason === "rate" ? "rate_limited" : "too_many_requests_in_flight",
          429,
          slot.reason === "rate"
            ? "too many requests: slow down"
            : "too many requests in flight for this client",
          { headers: { "retry-after": String(slot.retryAfterSeconds) } },
        );
      }

      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        if (config.requestTimeoutMs > 0) {
          const timedOut = new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), config.requestTimeoutMs);
          });
          const outcome = await Promise.race([next().then(() => "done" as const), timedOut]);
          if (outcome === "timeout") {
            slot.release();
            c.res = deny("timeout", 504, `no response within ${config.requestTimeoutMs} ms`);
            return;
          }
        } else {
          await next();
        }
      } catch (error) {
        slot.release();
        throw error;
      } finally {
        clearTimeout(timer);
      }

      let response = c.res;
      if (response.status === 404) {
        // A 404 from a route that exists for this method (a missing model) stays a 404.
        const allow = allowedMethods(path);
        if (allow.length && !allow.includes(method)) {
          await response.body?.cancel();
          const error = new A3sError(
            "method_not_allowed",
            `${method.slice(0, 16)} is not allowed on ${path}; allowed: ${allow.join(", ")}`,
            { status: 405 },
          );
          const { contentType, body } = renderError(errorStyleForPath(path), error, path);
          response = new Response(JSON.stringify(body), {
            status: 405,
            headers: {
              "content-type": contentType,
              allow: allow.join(", "),
              "x-request-id": c.get("requestId") ?? "",
            },
          });
        }
      }
      if (origin !== undefined) {
        response = new Response(response.body, response);
        for (const [name, value] of Object.entries(origins.corsHeaders(origin))) {
          response.headers.set(name, value);
        }
      }
      c.res = undefined;
      // A stream holds its slot until it ends; a finished answer frees it now, which spares
      // every ordinary response a wrapping stream.
      if (STREAMING_TYPES.test(response.headers.get("content-type") ?? "")) {
        c.res = releaseWhenBodyEnds(response, slot.release);
      } else {
        slot.release();
        c.res = response;
      }
    };
  }

  return { middleware, tokens, authEnforced, loopbackBind };
}
