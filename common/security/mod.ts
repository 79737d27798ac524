/**
 * The security plumbing serve puts in front of every route: API tokens and scopes, the Host
 * and origin checks, per-client limits, and the address classification the access policy
 * uses. See `common/policy.ts` for request-chosen paths and URLs.
 *
 * @example
 * ```ts
 * import { scopeGrants } from "@a3s/common";
 * console.log(scopeGrants(["admin"], "box:exec")); // true
 * ```
 * @module
 */
export * from "./addresses.ts";
export * from "./access.ts";
export * from "./caller.ts";
export * from "./config.ts";
export * from "./guard.ts";
export * from "./host_check.ts";
export * from "./limits.ts";
export * from "./origins.ts";
export * from "./scopes.ts";
export * from "./tokens.ts";
