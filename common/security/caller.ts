/**
 * Who sent a request, as the security middleware identified it, for routes that keep state per
 * caller: `token:<id>` for a valid API token, `anonymous` for anyone else a route admits (on
 * loopback, or on a server run without authentication).
 */
import type { Context } from "hono";

/** The caller of a request no valid token came with. */
export const ANONYMOUS_CALLER = "anonymous";

/** The context variable the security middleware records the caller in. */
const CALLER_VARIABLE = "a3sCaller";

// Keyed by the request object itself, so `callerOf(c.req.raw)` works where only the request is
// at hand; an entry goes with its request. A middleware may replace `c.req.raw` with a new
// request (Hono's bodyLimit does for a chunked body, power's for a form-labelled JSON post):
// {@linkcode bindCaller} carries the caller over to every replacement.
const callers = new WeakMap<Request, string>();

/**
 * Records who sent `request`. The security middleware uses {@linkcode bindCaller}, which also
 * follows the request through later middleware; this is for a request served without one.
 *
 * @example
 * ```ts
 * import { callerOf, setCaller } from "@a3s/common";
 * const request = new Request("http://127.0.0.1/");
 * setCaller(request, "token:t1");
 * console.log(callerOf(request)); // "token:t1"
 * ```
 */
export function setCaller(request: Request, caller: string): void {
  callers.set(request, caller);
}

/**
 * Records who sent the request of `c` (the security middleware calls this once it has checked
 * the token): in the context, and on `c.req.raw` and on any request a later middleware puts in
 * its place, so `callerOf(c)` and `callerOf(c.req.raw)` both name the caller in every handler.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bindCaller, callerOf } from "@a3s/common";
 * const app = new Hono();
 * app.use("*", async (c, next) => {
 *   bindCaller(c, "token:t1");
 *   await next();
 * });
 * app.post("/", (c) => c.text(callerOf(c.req.raw))); // "token:t1"
 * ```
 */
export function bindCaller(c: Context, caller: string): void {
  c.set(CALLER_VARIABLE, caller);
  const req = c.req;
  let current: Request = req.raw;
  setCaller(current, caller);
  Object.defineProperty(req, "raw", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (next: Request) => {
      current = next;
      setCaller(next, caller);
    },
  });
}

/**
 * Who sent a request: `token:<id>`, or {@linkcode ANONYMOUS_CALLER} when no valid token came
 * with it (or no security middleware ran). Takes the request (`c.req.raw`) or, better, the
 * handler's context `c`.
 *
 * @example
 * ```ts
 * import { callerOf } from "@a3s/common";
 * console.log(callerOf(new Request("http://127.0.0.1/"))); // "anonymous"
 * ```
 */
export function callerOf(from: Request | Context): string {
  if (from instanceof Request || !("req" in from)) {
    return callers.get(from as Request) ?? ANONYMOUS_CALLER;
  }
  const recorded = from.get(CALLER_VARIABLE) as string | undefined;
  return recorded ?? callers.get(from.req.raw) ?? ANONYMOUS_CALLER;
}
