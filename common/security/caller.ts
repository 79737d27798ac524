/**
 * Who sent a request, as the security middleware identified it, for routes that keep state per
 * caller: `token:<id>` for a valid API token, `anonymous` for anyone else a route admits (on
 * loopback, or on a server run without authentication).
 */

/** The caller of a request no valid token came with. */
export const ANONYMOUS_CALLER = "anonymous";

// Keyed by the request object itself: the middleware and the routes see the same one, and an
// entry goes with its request.
const callers = new WeakMap<Request, string>();

/**
 * Records who sent `request` (the security middleware calls this once it has checked the token).
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
 * Who sent `request`: `token:<id>`, or {@linkcode ANONYMOUS_CALLER} when no valid token came
 * with it (or no security middleware ran).
 *
 * @example
 * ```ts
 * import { callerOf } from "@a3s/common";
 * console.log(callerOf(new Request("http://127.0.0.1/"))); // "anonymous"
 * ```
 */
export function callerOf(request: Request): string {
  return callers.get(request) ?? ANONYMOUS_CALLER;
}
