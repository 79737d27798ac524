/**
 * Cross-origin browser requests. A page may send a "simple" POST (text/plain or a form) to
 * any URL without a preflight, so refusing unknown origins, and demanding a JSON content
 * type from browsers, is what keeps a web page from driving the API. CORS headers go only
 * to allowed origins.
 */
import { isLoopbackAddress } from "./addresses.ts";

/** Headers a browser client may send cross-origin. */
const ALLOWED_REQUEST_HEADERS =
  "authorization, content-type, x-api-key, x-request-id, openai-organization, openai-project, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout";

function patternMatches(pattern: string, origin: string): boolean {
  if (pattern === "*") return true;
  // `http://localhost:*` allows any port; `https://*.example.org` any subdomain.
  const source = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
  return new RegExp(`^${source}$`, "i").test(origin);
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return false;
    const name = url.hostname.replace(/^\[|\]$/g, "");
    return name === "localhost" || isLoopbackAddress(name);
  } catch {
    return false;
  }
}

/**
 * Decides which origins may call, and writes the CORS headers for them.
 *
 * @example
 * ```ts
 * import { OriginPolicy } from "@a3s/common";
 * const origins = new OriginPolicy(["https://app.example.org"]);
 * origins.allows("https://app.example.org", "127.0.0.1:11434"); // true
 * origins.allows("https://evil.example", "127.0.0.1:11434"); // false
 * ```
 */
export class OriginPolicy {
  readonly #patterns: readonly string[];

  /** `patterns`: exact origins, `*` wildcards in them, or `*` for all. */
  constructor(patterns: readonly string[]) {
    this.#patterns = patterns;
  }

  /**
   * True when a request with this Origin may proceed: configured origins, loopback origins
   * (as Ollama allows; not with `loopback: false`, for what a page on any local port must not
   * reach), and same-origin requests (the origin names the Host it was sent to).
   */
  allows(origin: string, host: string | undefined, options: { loopback?: boolean } = {}): boolean {
    if (this.#patterns.some((pattern) => patternMatches(pattern, origin))) return true;
    if (options.loopback !== false && isLoopbackOrigin(origin)) return true;
    if (origin === "null" || !host) return false;
    try {
      const url = new URL(origin);
      return url.host.toLowerCase() === host.trim().toLowerCase();
    } catch {
      return false;
    }
  }

  /** CORS headers for an allowed origin's actual request. */
  corsHeaders(origin: string): Record<string, string> {
    return {
      "access-control-allow-origin": origin,
      "access-control-expose-headers": "x-request-id, retry-after, www-authenticate",
      vary: "Origin",
    };
  }

  /** Headers answering an allowed origin's preflight. */
  preflightHeaders(origin: string, requestedHeaders: string | undefined): Record<string, string> {
    return {
      ...this.corsHeaders(origin),
      "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": requestedHeaders ?? ALLOWED_REQUEST_HEADERS,
      "access-control-max-age": "600",
    };
  }
}

/** True when the request came from a browser: it carries an Origin or a Sec-Fetch-* header. */
export function sentByBrowser(headers: Headers): boolean {
  return headers.has("origin") || headers.has("sec-fetch-site") || headers.has("sec-fetch-mode");
}

/** True when a content type is JSON (`application/json`, `application/x+json`, charset aside). */
export function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const type = value.split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type);
}
