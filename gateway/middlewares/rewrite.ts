/** Rewrites: request and response headers, path prefixes, redirects. */
import type { MiddlewareHandler } from "hono";
import type { MiddlewareConfig } from "../config.ts";
import type { GatewayEnv } from "../context.ts";
import { prefixMatches } from "../matcher.ts";

type Handler = MiddlewareHandler<GatewayEnv>;

/** Sets and removes headers on the upstream request and on the response. */
export function headerRewrite(config: NonNullable<MiddlewareConfig["headers"]>): Handler {
  return async (c, next) => {
    c.var.state.headerEdits.push((h) => {
      for (const name of config.request.remove) h.delete(name);
      for (const [name, value] of Object.entries(config.request.set)) h.set(name, value);
    });
    await next();
    for (const name of config.response.remove) c.res.headers.delete(name);
    for (const [name, value] of Object.entries(config.response.set)) c.res.headers.set(name, value);
  };
}

/** Removes the first matching prefix from the upstream path and says so in X-Forwarded-Prefix. */
export function stripPrefix(config: NonNullable<MiddlewareConfig["stripPrefix"]>): Handler {
  return async (c, next) => {
    const state = c.var.state;
    const prefix = config.prefixes.find((p) => prefixMatches(p, state.path));
    if (prefix) {
      const trimmed = prefix.replace(/\/$/, "");
      state.path = state.path.slice(trimmed.length) || "/";
      if (!state.path.startsWith("/")) state.path = `/${state.path}`;
      state.headerEdits.push((h) => h.set("x-forwarded-prefix", trimmed));
    }
    await next();
  };
}

/** Redirects when the full URL matches `regex`; `$1`-style groups fill the replacement. */
export function redirect(config: NonNullable<MiddlewareConfig["redirect"]>): Handler {
  const pattern = new RegExp(config.regex);
  return async (c, next) => {
    const url = c.req.url;
    if (!pattern.test(url)) return await next();
    return c.redirect(url.replace(pattern, config.replacement), config.permanent ? 308 : 307);
  };
}
