/** Builds a router's Hono middleware from one config entry. */
import type { MiddlewareHandler } from "hono";
import { compress } from "hono/compress";
import { cors } from "hono/cors";
import type { MiddlewareConfig } from "./config.ts";
import type { GatewayEnv } from "./context.ts";
import { apiKeyAuth, basicAuth, forwardAuth, jwtAuth } from "./middlewares/auth.ts";
import { bodyLimit, ipAllowList, rateLimit } from "./middlewares/limits.ts";
import { headerRewrite, redirect, stripPrefix } from "./middlewares/rewrite.ts";
import { type MeteringDeps, tokenMeter } from "./middlewares/token_meter.ts";
import { privacyRouting } from "./middlewares/privacy.ts";
import type { Logger, Store } from "@a3s/common";

/** The middleware a config entry describes (the schema guarantees exactly one kind is set). */
export function buildMiddleware(
  config: MiddlewareConfig,
  name: string,
  deps: { metering: MeteringDeps; audit?: Logger; store?: Store },
): MiddlewareHandler<GatewayEnv> {
  if (config.apiKeys) return apiKeyAuth(config.apiKeys);
  if (config.basicAuth) return basicAuth(config.basicAuth);
  if (config.jwt) return jwtAuth(config.jwt);
  if (config.forwardAuth) return forwardAuth(config.forwardAuth);
  if (config.rateLimit) return rateLimit(config.rateLimit, name, deps.store);
  if (config.ipAllowList) return ipAllowList(config.ipAllowList);
  if (config.bodyLimit) return bodyLimit(config.bodyLimit);
  if (config.headers) return headerRewrite(config.headers);
  if (config.stripPrefix) return stripPrefix(config.stripPrefix);
  if (config.redirect) return redirect(config.redirect);
  if (config.cors) {
    return cors({
      origin: config.cors.origins,
      allowMethods: config.cors.methods,
      allowHeaders: config.cors.headers,
      credentials: config.cors.credentials,
      maxAge: config.cors.maxAge,
    });
  }
  if (config.tokenMeter) return tokenMeter(config.tokenMeter, deps.metering);
  if (config.privacy) return privacyRouting(config.privacy, deps.audit);
  if (config.compress) return compress({ encoding: config.compress.encoding });
  throw new Error("middleware sets no kind");
}
