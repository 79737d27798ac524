/**
 * The Host check against DNS rebinding: a page on `evil.example` whose name is re-pointed at
 * 127.0.0.1 reaches a loopback server with `Host: evil.example`. On a loopback bind only
 * loopback names and configured names are served.
 */
import { isLoopbackAddress } from "./addresses.ts";

/** True when `host` (a bind address or name) only accepts connections from this machine. */
export function isLoopbackBind(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, "").toLowerCase();
  return name === "localhost" || isLoopbackAddress(name);
}

/** The name part of a Host header: no port, no brackets, lower case, no trailing dot. */
export function hostName(header: string): string {
  const trimmed = header.trim().toLowerCase();
  const name = trimmed.startsWith("[")
    ? trimmed.slice(1, trimmed.indexOf("]"))
    : trimmed.replace(/:\d*$/, "");
  return name.replace(/\.$/, "");
}

function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/^\[|\]$/g, "");
  if (p.startsWith("*.")) return name.endsWith(p.slice(1)) && name.length > p.length - 1;
  return p === name;
}

/**
 * Decides whether a request's Host header may be served.
 *
 * @example
 * ```ts
 * import { HostCheck } from "@a3s/common";
 * const check = new HostCheck({ loopbackBind: true, allowedHosts: [] });
 * check.allows("localhost:11434"); // true
 * check.allows("evil.example:11434"); // false
 * ```
 */
export class HostCheck {
  readonly #loopbackBind: boolean;
  readonly #allowed: readonly string[];

  /** `loopbackBind` turns on the loopback-names default; `allowedHosts` adds names. */
  constructor(options: { loopbackBind: boolean; allowedHosts: readonly string[] }) {
    this.#loopbackBind = options.loopbackBind;
    this.#allowed = options.allowedHosts;
  }

  /** True when a request with this Host header (undefined when absent) may be served. */
  allows(header: string | undefined): boolean {
    if (this.#allowed.includes("*")) return true;
    // HTTP/1.0 clients may omit Host; browsers never do, so rebinding cannot use that.
    if (header === undefined || header === "") return true;
    const name = hostName(header);
    if (this.#allowed.some((pattern) => nameMatches(pattern, name))) return true;
    if (!this.#loopbackBind) return this.#allowed.length === 0;
    return name === "localhost" || name.endsWith(".localhost") || isLoopbackAddress(name);
  }
}
