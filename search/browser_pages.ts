/**
 * Loads engine pages in headless Chromium (through `playwright-core`), for engines whose result
 * page is built by script: the server's HTML has no results, the page after its scripts ran
 * does. One browser is started on first use and shared; each page load gets its own context
 * (its own cookies), closed when the page has been read.
 */
import type { Browser } from "playwright-core";
import type { EngineRequest, EngineResponse } from "./engine.ts";
import { EngineError } from "./types.ts";

/** How one page is loaded. */
export interface PageLoadOptions {
  /** Deadline for the whole load, scripts included. */
  timeoutMs: number;
  /** Aborts the load (the search was cancelled). */
  signal?: AbortSignal;
  /**
   * A CSS selector that appears once the results are rendered. The load returns when it
   * appears, or half a second after the page's network went quiet, with the page as it is then
   * (a block page, no results: the parser decides).
   */
  readySelector?: string;
}

/** How long a page may still draw after its network went quiet. */
const SETTLE_MS = 500;

/** Resource types a results page does not need to build its result list. */
const SKIPPED_RESOURCES = new Set(["image", "media", "font"]);

/**
 * A shared headless Chromium that loads engine pages.
 *
 * @example
 * ```ts
 * import { BrowserPages, DEFAULT_BROWSER, runEngine, WEB_ENGINES } from "@a3s/search";
 * const browser = new BrowserPages(DEFAULT_BROWSER);
 * const results = await runEngine(WEB_ENGINES.baidu, {
 *   query: "deno",
 *   page: 1,
 *   safeSearch: "moderate",
 * }, { baseUrl: WEB_ENGINES.baidu.defaultBaseUrl, timeoutMs: 15_000, browser });
 * console.log(results.length);
 * await browser.close();
 * ```
 */
export class BrowserPages {
  #browser?: Promise<Browser>;

  /** Uses the Chromium at `executablePath`; nothing starts until the first load. */
  constructor(private readonly executablePath: string) {}

  #launch(): Promise<Browser> {
    this.#browser ??= (async () => {
      const { chromium } = await import("playwright-core");
      return await chromium.launch({ executablePath: this.executablePath, headless: true });
    })();
    // A failed start is not cached: the next search tries again (the binary may be installed).
    this.#browser.catch(() => (this.#browser = undefined));
    return this.#browser;
  }

  /** Loads `request` and returns the rendered page; throws only {@linkcode EngineError}. */
  async load(
    engine: string,
    request: EngineRequest,
    options: PageLoadOptions,
  ): Promise<EngineResponse> {
    if ((request.method ?? "GET") !== "GET") {
      throw new EngineError("internal_error", `${engine}: the browser loads GET requests only`);
    }
    const deadline = Date.now() + options.timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    let browser: Browser;
    try {
      browser = await this.#launch();
    } catch (error) {
      throw new EngineError(
        "internal_error",
        `${engine}: headless Chromium at ${this.executablePath} did not start: ${
          (error as Error).message.split("\n")[0]
        }`,
      );
    }
    const { "user-agent": userAgent, ...headers } = request.headers ?? {};
    const context = await browser.newContext({ userAgent, extraHTTPHeaders: headers });
    const abort = () => void context.close().catch(() => {});
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      await context.route(
        "**/*",
        (route) =>
          SKIPPED_RESOURCES.has(route.request().resourceType()) ? route.abort() : route.continue(),
      );
      const page = await context.newPage();
      const response = await page.goto(request.url, {
        waitUntil: "domcontentloaded",
        timeout: left(),
      });
      // Results come from the page's own requests: once the network has been quiet a moment
      // they are drawn, or never will be (a block page, an empty answer). Waiting for the
      // selector alone would hold a block page until the deadline.
      const settled = page.waitForLoadState("networkidle", { timeout: left() })
        .then(() => page.waitForTimeout(SETTLE_MS));
      const ready = options.readySelector
        ? page.waitForSelector(options.readySelector, { timeout: left() })
        : settled;
      // The loser of the race fails when the context closes; that is expected, not an error.
      settled.catch(() => {});
      ready.catch(() => {});
      await Promise.race([ready, settled]).catch(() => {});
      return {
        status: response?.status() ?? 200,
        url: page.url(),
        contentType: "text/html",
        body: await page.content(),
      };
    } catch (error) {
      if (error instanceof EngineError) throw error;
      const message = (error as Error).message.split("\n")[0];
      if (options.signal?.aborted) throw new EngineError("timeout", `${engine}: cancelled`);
      if ((error as Error).name === "TimeoutError" || Date.now() >= deadline) {
        throw new EngineError("timeout", `${engine} did not render in ${options.timeoutMs} ms`);
      }
      throw new EngineError("network_error", `${engine}: ${message}`);
    } finally {
      options.signal?.removeEventListener("abort", abort);
      await context.close().catch(() => {});
    }
  }

  /** Closes the browser, if one was started. */
  async close(): Promise<void> {
    const browser = this.#browser;
    this.#browser = undefined;
    if (browser) await (await browser.catch(() => undefined))?.close();
  }
}
