/**
 * Runs one adapter for one query: builds the request, fetches it under a timeout, and turns
 * every way it can go wrong into an {@linkcode EngineError}, so one engine never fails a search.
 */
import type { BrowserPages } from "./browser_pages.ts";
import type { EngineAdapter, EngineRequest, EngineResponse } from "./engine.ts";
import { EngineError, type EngineQuery, type EngineResult } from "./types.ts";

/** The largest response body read: result pages are far smaller; anything bigger is abuse. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** How to reach an engine. */
export interface RunOptions {
  /** The engine's base URL: its default, or a mirror, proxy or fixture server. */
  baseUrl: string;
  /** Deadline for the request and its body, after which the engine counts as timed out. */
  timeoutMs: number;
  /** Aborts the request early (the whole search was cancelled). */
  signal?: AbortSignal;
  /** The fetch to use (default the global one); tests and proxies swap it. */
  fetch?: typeof fetch;
  /** Loads the page in this headless browser instead of fetching it (`render: "browser"`). */
  browser?: BrowserPages;
}

async function readBody(response: Response): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new EngineError("http_error", `response of ${declared} bytes is over the limit`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new EngineError("http_error", `response of ${bytes.byteLength} bytes is over the limit`);
  }
  return new TextDecoder().decode(bytes);
}

/** Fetches and parses one page of `adapter`'s results; throws only {@linkcode EngineError}. */
export async function runEngine(
  adapter: EngineAdapter,
  query: EngineQuery,
  options: RunOptions,
): Promise<EngineResult[]> {
  if (!options.baseUrl) {
    throw new EngineError("http_error", `${adapter.name} has no base URL configured`);
  }
  const request = adapter.buildRequest(query, options.baseUrl);
  const response = options.browser
    ? await options.browser.load(adapter.name, request, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      readySelector: adapter.readySelector,
    })
    : await fetchPage(adapter, request, options);
  try {
    return adapter.parse(response, query);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError("parse_error", `${adapter.name}: ${(error as Error).message}`);
  }
}

/** Fetches the server's page; throws only {@linkcode EngineError}. */
async function fetchPage(
  adapter: EngineAdapter,
  request: EngineRequest,
  options: RunOptions,
): Promise<EngineResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const answer = await (options.fetch ?? fetch)(request.url, {
      method: request.method ?? "GET",
      headers: request.headers,
      body: request.body,
      redirect: "follow",
      signal,
    });
    return {
      status: answer.status,
      url: answer.url || request.url,
      contentType: answer.headers.get("content-type") ?? "",
      body: await readBody(answer),
    };
  } catch (error) {
    if (error instanceof EngineError) throw error;
    if (timeout.aborted) {
      throw new EngineError("timeout", `${adapter.name} did not answer in ${options.timeoutMs} ms`);
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new EngineError("network_error", `${adapter.name}: ${message}`);
  }
}
