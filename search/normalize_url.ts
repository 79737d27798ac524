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
 *
 * @example
 * ```ts
 * import { normalizeUrl } from "@a3s/search";
 * normalizeUrl("HTTP://www.Example.com/a/?utm_source=x#top"); // "https://example.com/a"
 * ```
 */
export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return raw.trim();
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return url.href;
  const host = url.hostname.toLowerCase().replace(/^www\d?\./, "");
  const kept = [...url.searchParams.entries()].filter(([name]) => !isTracking(name));
  kept.sort(([a, av], [b, bv]) => a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0);
  const query = kept.length
    ? "?" + kept.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")
    : "";
  let path = normalizePercent(url.pathname);
  if (path.length > 1 && path.endsWith("/")) path = path.replace(/\/+$/, "");
  if (path === "/") path = "";
  return `https://${host}${path}${query}`;
}
