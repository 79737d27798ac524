/**
 * The adapter contract: an engine turns a query into one HTTP request and the engine's
 * response into results, or into an {@linkcode EngineError} when the page is a block page.
 */
import { EngineError, type EngineQuery, type EngineResult } from "./types.ts";

/** The HTTP request an adapter wants sent. */
export interface EngineRequest {
  /** The full URL, query string included. */
  url: string;
  /** The HTTP method (default `GET`). */
  method?: "GET" | "POST";
  /** Request headers, such as {@linkcode BROWSER_HEADERS}. */
  headers?: Record<string, string>;
  /** The request body, for `POST` forms. */
  body?: string;
}

/** What came back, after redirects. */
export interface EngineResponse {
  /** The HTTP status code. */
  status: number;
  /** The final URL, so a redirect to a CAPTCHA page is visible. */
  url: string;
  /** The `content-type` header, or `""` when there was none. */
  contentType: string;
  /** The body, decoded as UTF-8. */
  body: string;
}

/** One search engine. */
export interface EngineAdapter {
  /** Stable lower-case id used in `engines=` and in results. */
  readonly name: string;
  /** Where requests go unless the config names another base URL (fixture servers do). */
  readonly defaultBaseUrl: string;
  /** Consensus weight unless the config overrides it. */
  readonly defaultWeight: number;
  /** The request for one page of `query`, sent to `baseUrl` (the default or the configured one). */
  buildRequest(query: EngineQuery, baseUrl: string): EngineRequest;
  /**
   * A CSS selector present once the results are on the page, which a headless browser waits
   * for when the engine runs with `render: "browser"`; unset: it waits for the network to settle.
   */
  readonly readySelector?: string;
  /** Results of one page, positions from 1; throws {@linkcode EngineError} for block pages. */
  parse(response: EngineResponse, query: EngineQuery): EngineResult[];
}

/** A desktop browser's headers: the engines serve their full HTML only to browsers. */
export const BROWSER_HEADERS: Readonly<Record<string, string>> = {
  "user-agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "accept-language": "en-US,en;q=0.9",
};

/** Joins a base URL and a path, keeping any path prefix the base has (fixture servers use one). */
export function joinUrl(base: string, path: string, params: Record<string, string | undefined>) {
  const url = new URL(base.replace(/\/+$/, "") + path);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return url.href;
}

/**
 * The checks every engine shares: 429 is a rate limit, other 4xx/5xx an HTTP error. Runs after
 * the adapter's own block-page check, since engines serve CAPTCHAs with 403, 429 or even 200.
 */
export function checkStatus(engine: string, response: EngineResponse): void {
  if (response.status === 429) {
    throw new EngineError("rate_limited", `${engine} answered 429 Too Many Requests`);
  }
  if (response.status >= 400) {
    throw new EngineError("http_error", `${engine} answered HTTP ${response.status}`);
  }
}

/** Throws `blocked` when `test` matches the final URL or the body. */
export function detectBlock(
  engine: string,
  response: EngineResponse,
  markers: { url?: RegExp; body?: RegExp },
  what = "a CAPTCHA page",
): void {
  if (markers.url?.test(response.url) || markers.body?.test(response.body)) {
    throw new EngineError("blocked", `${engine} answered with ${what} instead of results`);
  }
}

/** Numbers results from 1 and drops empty and non-http ones. */
export function numbered(
  engine: string,
  raw: ReadonlyArray<{ url: string; title: string; snippet: string }>,
): EngineResult[] {
  const results: EngineResult[] = [];
  for (const item of raw) {
    if (!item.title || !/^https?:\/\//i.test(item.url)) continue;
    results.push({ ...item, engine, position: results.length + 1 });
  }
  return results;
}
