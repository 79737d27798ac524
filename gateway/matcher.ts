/**
 * Router matching: host (with `*.` wildcards), exact path or path prefix, method and headers,
 * ordered by priority and then by how specific a rule is, so the most precise router wins.
 */
import type { RuleConfig } from "./config.ts";

/** The parts of a request a rule looks at. */
export interface MatchInput {
  /** Host without port, lower case. */
  host: string;
  /** The decoded-safe path (see {@linkcode normalizePath}). */
  path: string;
  method: string;
  headers: Headers;
}

/** True when `host` matches `pattern`; `*.example.com` needs at least one extra label. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith("*.")) {
    const suffix = p.slice(1); // ".example.com"
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return p === host;
}

/** True when `path` is `prefix` or lies below it on a segment boundary. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === "/" || prefix === path) return true;
  const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return path.startsWith(base);
}

/**
 * Resolves `.` and `..` segments and collapses repeated slashes, and refuses encoded slashes
 * and backslashes (`%2F`, `%5C`), which would let `/public/..%2Fadmin` slip past a prefix rule
 * that the backend later decodes. Returns undefined for a path to refuse.
 */
export function normalizePath(rawPath: string): string | undefined {
  // Most paths have nothing to resolve or decode: no escapes, dot segments or empty segments.
  if (!/%|\\|\/\.|\/\//.test(rawPath)) return rawPath;
  if (/%2f|%5c|\\/i.test(rawPath)) return undefined;
  const out: string[] = [];
  for (const segment of rawPath.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded === "" || decoded === ".") continue;
    if (decoded === "..") {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const joined = `/${out.join("/")}`;
  return rawPath.endsWith("/") && joined !== "/" ? `${joined}/` : joined;
}

/** True when every condition the rule sets holds for `input`. */
export function ruleMatches(rule: RuleConfig, input: MatchInput): boolean {
  if (rule.hosts && !rule.hosts.some((h) => hostMatches(h, input.host))) return false;
  if (rule.methods && !rule.methods.includes(input.method)) return false;
  if (rule.path || rule.pathPrefix) {
    const exact = rule.path?.includes(input.path) ?? false;
    const prefixed = rule.pathPrefix?.some((p) => prefixMatches(p, input.path)) ?? false;
    if (!exact && !prefixed) return false;
  }
  if (rule.headers) {
    for (const [name, want] of Object.entries(rule.headers)) {
      const got = input.headers.get(name);
      if (got === null || (want !== "*" && got !== want)) return false;
    }
  }
  return true;
}

/** How specific a rule is, for ordering routers of equal priority. */
export function specificity(rule: RuleConfig): number {
  const longestPath = Math.max(
    0,
    ...(rule.path ?? []).map((p) => p.length + 1000),
    ...(rule.pathPrefix ?? []).map((p) => p.length),
  );
  const exactHost = rule.hosts?.some((h) => !h.startsWith("*.")) ? 1 : 0;
  const hostScore = rule.hosts ? 1 + exactHost : 0;
  return longestPath * 100 + hostScore * 10 + (rule.methods ? 2 : 0) +
    Object.keys(rule.headers ?? {}).length;
}

/** Orders items by priority, then specificity, then name, highest first. */
export function orderRouters<T extends { name: string; priority: number; rule: RuleConfig }>(
  routers: T[],
): T[] {
  return [...routers].sort((a, b) =>
    b.priority - a.priority || specificity(b.rule) - specificity(a.rule) ||
    a.name.localeCompare(b.name)
  );
}
