/**
 * Access rules: which scope a request needs, and whether a loopback client may go without a
 * token. The first rule whose path and method match wins; a route that matches no rule needs
 * `admin`, so a route nobody thought about is closed, not open.
 */
import type { AccessRule } from "../module.ts";

/** What a request needs, decided from its rule and the bind. */
export interface AccessDecision {
  /** The scope a token must grant; undefined when anyone may call. */
  scope?: string;
  /** True when the request may proceed without a token. */
  anonymous: boolean;
  /** The rule's pattern, or `default` when none matched (for logs). */
  rule: string;
}

/** Routes of the server itself: liveness and readiness are public on every bind. */
const PUBLIC_PATHS = new Set(["/healthz", "/readyz"]);

/**
 * The scope of a route that checks its callers itself, such as a webhook verifying a
 * platform's signature: serve lets every request through to it, on every bind, and leaves its
 * body to it (the server's body limit does not apply, so that the handler can audit an
 * oversized request as it does any other it refuses). Use it only where the handler refuses
 * unsigned requests and bounds the body it reads.
 */
export const SELF_AUTHENTICATED = "self-authenticated";

/** The server's own read-only routes: open to loopback clients, a token elsewhere. */
export const SERVER_ACCESS: readonly AccessRule[] = [
  {
    path: "/openapi.json",
    methods: ["GET", "HEAD"],
    scope: "server:read",
    anonymousOnLoopback: true,
  },
  { path: "/docs", methods: ["GET", "HEAD"], scope: "server:read", anonymousOnLoopback: true },
  { path: "/docs/*", methods: ["GET", "HEAD"], scope: "server:read", anonymousOnLoopback: true },
  { path: "/metrics", methods: ["GET", "HEAD"], scope: "server:read", anonymousOnLoopback: true },
];

/**
 * Turns a Hono-style pattern into a regular expression: `:name` is one segment, `*` any
 * rest, and `/x/*` also matches `/x` itself.
 */
export function patternToRegExp(pattern: string): RegExp {
  let source = "";
  const trailingStar = pattern.endsWith("/*");
  const body = trailingStar ? pattern.slice(0, -2) : pattern;
  for (const segment of body.split("/").slice(1)) {
    if (segment === "*") source += "/.*";
    else if (segment.startsWith(":")) source += "/[^/]+";
    else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\*/g, ".*")}`;
  }
  if (trailingStar) source += "(?:/.*)?";
  return new RegExp(`^${source || "/"}$`);
}

/** A rule with its pattern compiled once. */
interface CompiledRule extends AccessRule {
  regex: RegExp;
}

/**
 * Decides access from the modules' rules.
 *
 * @example
 * ```ts
 * import { AccessTable } from "@a3s/common";
 * const table = new AccessTable([{ path: "/api/chat", scope: "power:read", anonymousOnLoopback: true }]);
 * table.decide("POST", "/api/chat", true); // { scope: "power:read", anonymous: true, ... }
 * table.decide("POST", "/api/pull", true); // { scope: "admin", anonymous: false, ... }
 * ```
 */
export class AccessTable {
  readonly #rules: CompiledRule[];

  /** Compiles the server's own rules, then `rules`, in order. */
  constructor(rules: readonly AccessRule[]) {
    this.#rules = [...SERVER_ACCESS, ...rules].map((rule) => ({
      ...rule,
      regex: patternToRegExp(rule.path),
    }));
  }

  /** The rule for `method` `path`: public paths, then the first match, then `admin`. */
  decide(method: string, path: string, loopbackBind: boolean): AccessDecision {
    if (PUBLIC_PATHS.has(path)) return { anonymous: true, rule: path };
    // HEAD reads like GET, so a rule for GET covers it.
    const methods = method === "HEAD" ? ["HEAD", "GET"] : [method];
    const rule = this.#rules.find((r) =>
      r.regex.test(path) && (!r.methods || r.methods.some((m) => methods.includes(m)))
    );
    if (!rule) return { scope: "admin", anonymous: false, rule: "default" };
    // A route that authenticates its callers itself (a platform's signed webhook) is open on
    // every bind: the platform cannot send our token.
    if (rule.scope === SELF_AUTHENTICATED) return { anonymous: true, rule: rule.path };
    return {
      scope: rule.scope,
      anonymous: loopbackBind && rule.anonymousOnLoopback === true,
      rule: rule.path,
    };
  }
}
