/**
 * URL normalization for deduplication: two results are the same page when their normalized
 * URLs are equal.
 */

/** Query parameters that track the click, not the page. */
const TRACKING_PARAMS = new Set([
  "fbclid",
  "gclid",
  "dclid",
  "msclkid",
  "yclid",
  "mc_cid",
  "mc_eid",
  "igshid",
  "ref_src",
  "_hsenc",
  "_hsmi",
  "spm",
]);

function isTracking(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith("utm_") || TRACKING_PARAMS.has(lower);
}

/** Upper-cases the hex digits of percent escapes and decodes escapes of unreserved characters. */
function normalizePercent(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * The dedupe key of a URL: scheme folded to https, host lower-cased without `www.` and the
 * default port, fragment and tracking parameters dropped, remaining parameters sorted, percent
 * escapes in one case, and no trailing slash. Returns the input trimmed when it is no URL.
 * Runs for every result of every engine, so it avoids URLSearchParams and re-encoding.
 *
 * @example
 * ```ts
 * import { normalizeUrl } from "@a3s/search";
 * normalizeUrl("HTTP://www.Example.com/a/?utm_source=x#top"); // "https://example.com/a"
 * ```
 */
export function normalizeUrl(raw: string): string {
  const trimmed = raw.trim();
  const parts = splitSimpleUrl(trimmed) ?? splitWithParser(trimmed);
  if (!parts) return trimmed;
  if (typeof parts === "string") return parts;
  let host = parts.host;
  if (host.startsWith("www.")) host = host.slice(4);
  else if (/^www\d\./.test(host)) host = host.slice(host.indexOf(".") + 1);
  let query = "";
  if (parts.search.length > 1) {
    const kept = parts.search.slice(1).split("&").filter((pair) => {
      if (!pair) return false;
      const eq = pair.indexOf("=");
      return !isTracking(eq < 0 ? pair : pair.slice(0, eq));
    });
    if (kept.length) {
      kept.sort();
      query = "?" + kept.join("&");
      if (query.includes("%")) query = normalizePercent(query);
    }
  }
  let path = parts.path;
  if (path.includes("%")) path = normalizePercent(path);
  if (path.endsWith("/")) path = path.replace(/\/+$/, "");
  return `https://${host}${path}${query}`;
}

interface UrlParts {
  host: string;
  path: string;
  search: string;
}

/** An http(s) URL in the shape engines return: ASCII, no dot segments, nothing to escape. */
const SIMPLE_URL =
  /^(https?):\/\/([A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(\?[^#\s]*)?(#.*)?$/;

/**
 * Splits the common case by hand: `new URL` costs several microseconds, and this runs for
 * every result. Anything unusual (IDN hosts, dot segments, spaces, user info) returns
 * undefined and goes to the WHATWG parser instead.
 */
function splitSimpleUrl(text: string): UrlParts | undefined {
  const match = SIMPLE_URL.exec(text);
  if (!match) return undefined;
  const [, scheme, rawHost, port, path = "/", search = ""] = match;
  if (path.includes("/.")) return undefined;
  const lowerScheme = scheme.toLowerCase();
  const defaultPort = lowerScheme === "http" ? "80" : "443";
  const host = rawHost.toLowerCase().replace(/\.$/, "");
  return { host: port && port !== defaultPort ? `${host}:${port}` : host, path, search };
}

/** The WHATWG parser for everything else; a string result is returned as the key as is. */
function splitWithParser(text: string): UrlParts | string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return url.href;
  return { host: url.host, path: url.pathname, search: url.search };
}
