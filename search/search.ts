/**
 * The meta search: fan a query out to the chosen engines at once, each under its own deadline
 * and circuit breaker, merge what came back by consensus, and report every engine's latency,
 * count and error beside the results. A slow or failing engine never blocks the answer.
 */
import { type Logger, type Store, ValidationError } from "@a3s/common";
import { counter, histogram } from "@a3s/common";
import { BrowserPages } from "./browser_pages.ts";
import { CircuitBreakers } from "./circuit_breaker.ts";
import { ResultCache } from "./cache.ts";
import { ENGINE_NAMES, LOCAL_ENGINE, type SearchConfig } from "./config.ts";
import { WEB_ENGINES } from "./engines/mod.ts";
import { runEngine } from "./engine_runner.ts";
import { type LocalIndex, openLocalIndex } from "./local/local_index.ts";
import { MemoryIndex } from "./local/memory_index.ts";
import { mergeResults, type RankingMethod } from "./rank.ts";
import {
  EngineError,
  type EngineQuery,
  type EngineResult,
  type EngineStat,
  type RankedResult,
  type SafeSearch,
  type TimeRange,
} from "./types.ts";

/** What a caller may choose per search; everything has a default. */
export interface SearchOptions {
  /** Engines to ask; default: `local` and every engine enabled in the config. */
  engines?: readonly string[];
  /** Results returned, 1-100 (default 10). */
  limit?: number;
  /** 1-based page, passed to every engine (default 1). */
  page?: number;
  /** A BCP 47 tag such as `en` or `zh-CN`; unset: each engine's own default. */
  language?: string;
  /** Safe-search level (default `moderate`). */
  safeSearch?: SafeSearch;
  /** Only results from this recent period; unset: any age. */
  timeRange?: TimeRange;
  /** The merge formula for this search (default: the config's `ranking`). */
  ranking?: RankingMethod;
  /** False skips the cache for this search (results are still stored). */
  cache?: boolean;
  /** Overrides each engine's deadline for this search. */
  timeoutMs?: number;
  /** Cancels the web engines' requests (the caller went away). */
  signal?: AbortSignal;
}

/** The answer: merged results and what each engine did. */
export interface SearchResponse {
  /** The query as searched, trimmed. */
  query: string;
  /** The 1-based page asked of every engine. */
  page: number;
  /** The formula that ranked `results`. */
  ranking: RankingMethod;
  /** The merged results, best first, at most `limit` of them. */
  results: RankedResult[];
  /** What each engine asked did, in the order they were asked, failures included. */
  engines: EngineStat[];
  /** Wall time of the whole search, in milliseconds. */
  tookMs: number;
}

/** Results asked of each engine per page; engines return about ten. */
const ENGINE_PAGE_SIZE = 10;
const MAX_LIMIT = 100;

const engineRequests = counter({
  name: "a3s_search_engine_requests_total",
  help: "Engine queries by engine and outcome (ok, cached, or the error code).",
  labelNames: ["engine", "outcome"],
});
const engineSeconds = histogram({
  name: "a3s_search_engine_duration_seconds",
  help: "Engine query latency, cache hits excluded.",
  labelNames: ["engine"],
});

/** Options of {@linkcode SearchService.open}. */
export interface SearchServiceOptions {
  /** The fetch the web engines use; tests and proxies swap it. */
  fetch?: typeof fetch;
  /** The clock for the cache and the breakers, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** Where cache failures are reported; the search goes on without the cache. */
  logger?: Logger;
}

/** The search module's core, shared by the library API, the routes and the CLI. */
export class SearchService {
  readonly #breakers: CircuitBreakers;
  #browser?: BrowserPages;
  /** The agent's memories in the local index: `upsert`, `remove` and `sync` by memory id. */
  readonly memory: MemoryIndex;

  private constructor(
    readonly config: SearchConfig,
    readonly index: LocalIndex,
    private readonly cache: ResultCache,
    private readonly options: SearchServiceOptions,
  ) {
    this.#breakers = new CircuitBreakers({ ...config.breaker, now: options.now });
    this.memory = new MemoryIndex(index);
  }

  /**
   * Opens the service on `store`: the local index and the result cache live there.
   *
   * @example
   * ```ts
   * import { openStore } from "@a3s/common";
   * import { defaultSearchConfig, SearchService } from "@a3s/search";
   * const store = await openStore({ sqlitePath: ":memory:" });
   * const search = await SearchService.open(store, defaultSearchConfig());
   * await search.index.upsert([{ uri: "memory:1", title: "Deno", body: "a runtime", source: "memory" }]);
   * const answer = await search.search("runtime");
   * console.log(answer.results[0].url); // "memory:1"
   * await store.close();
   * ```
   */
  static async open(
    store: Store,
    config: SearchConfig,
    options: SearchServiceOptions = {},
  ): Promise<SearchService> {
    const index = await openLocalIndex(store, { postgresRanking: config.postgresRanking });
    const cache = await ResultCache.open(store, config.cacheTtlSeconds, options.now);
    return new SearchService(config, index, cache, options);
  }

  /** The engines asked when a search names none. */
  defaultEngines(): string[] {
    return ENGINE_NAMES.filter((name) => {
      const enabled = this.config.engines[name]?.enabled;
      return enabled ?? name === LOCAL_ENGINE;
    });
  }

  /** Each engine's settings as they apply now, for `GET /search/v1/engines`. */
  engines(): Array<{
    name: string;
    enabled: boolean;
    baseUrl: string;
    weight: number;
    breaker: "closed" | "open" | "half_open";
    render: "http" | "browser";
  }> {
    const defaults = new Set(this.defaultEngines());
    return ENGINE_NAMES.map((name) => ({
      name,
      enabled: defaults.has(name),
      baseUrl: name === LOCAL_ENGINE ? "" : this.#baseUrl(name),
      weight: this.config.engines[name]?.weight ?? 1,
      breaker: this.#breakers.status(name),
      render: this.config.engines[name]?.render ?? "http",
    }));
  }

  #baseUrl(name: string): string {
    return this.config.engines[name]?.baseUrl ?? WEB_ENGINES[name]?.defaultBaseUrl ?? "";
  }

  /** Checks a query and options, throwing a {@linkcode ValidationError} naming the field. */
  #validate(query: string, options: SearchOptions): { query: string; engines: string[] } {
    const trimmed = query.trim();
    if (!trimmed) throw new ValidationError("q: the query is empty", "q");
    if (trimmed.length > this.config.maxQueryLength) {
      throw new ValidationError(
        `q: the query is ${trimmed.length} characters; the limit is ${this.config.maxQueryLength}`,
        "q",
      );
    }
    const engines = options.engines?.length ? [...new Set(options.engines)] : this.defaultEngines();
    const unknown = engines.find((name) => !ENGINE_NAMES.includes(name));
    if (unknown !== undefined) {
      throw new ValidationError(
        `engines: unknown engine '${unknown}'; known: ${ENGINE_NAMES.join(", ")}`,
        "engines",
      );
    }
    const limit = options.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new ValidationError(`limit: must be an integer from 1 to ${MAX_LIMIT}`, "limit");
    }
    const page = options.page ?? 1;
    if (!Number.isInteger(page) || page < 1 || page > 50) {
      throw new ValidationError("page: must be an integer from 1 to 50", "page");
    }
    return { query: trimmed, engines };
  }

  /** Searches; see {@linkcode SearchOptions}. Never throws for an engine's failure. */
  async search(query: string, options: SearchOptions = {}): Promise<SearchResponse> {
    const started = performance.now();
    const checked = this.#validate(query, options);
    const engineQuery: EngineQuery = {
      query: checked.query,
      page: options.page ?? 1,
      language: options.language,
      safeSearch: options.safeSearch ?? "moderate",
      timeRange: options.timeRange,
    };
    const outcomes = await Promise.all(
      checked.engines.map((name) => this.#ask(name, engineQuery, options)),
    );
    const weights = Object.fromEntries(
      checked.engines.map((name) => [name, this.config.engines[name]?.weight ?? 1]),
    );
    const ranking = options.ranking ?? this.config.ranking;
    const results = mergeResults(outcomes.map((o) => o.results), weights, ranking)
      .slice(0, options.limit ?? 10);
    return {
      query: checked.query,
      page: engineQuery.page,
      ranking,
      results,
      engines: outcomes.map((o) => o.stat),
      tookMs: Math.round((performance.now() - started) * 100) / 100,
    };
  }

  /** Asks one engine; every failure becomes the stat's error. */
  async #ask(
    name: string,
    query: EngineQuery,
    options: SearchOptions,
  ): Promise<{ results: EngineResult[]; stat: EngineStat }> {
    const started = performance.now();
    const stat = (results: EngineResult[], cached: boolean, error?: EngineError) => {
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      engineRequests.inc({ engine: name, outcome: error?.code ?? (cached ? "cached" : "ok") });
      if (!cached) engineSeconds.observe({ engine: name }, latencyMs / 1000);
      return {
        results,
        stat: {
          engine: name,
          latencyMs,
          count: results.length,
          cached,
          ...(error ? { error: { code: error.code, message: error.message } } : {}),
        },
      };
    };
    const timeoutMs = options.timeoutMs ?? this.config.engines[name]?.timeoutMs ??
      this.config.timeoutMs;
    if (name === LOCAL_ENGINE) {
      try {
        return stat(await this.#local(query, timeoutMs), false);
      } catch (error) {
        return stat([], false, toEngineError(name, error));
      }
    }
    const key = await cacheKey(name, query);
    if (options.cache !== false) {
      // A cache that cannot be read is a miss, never a failed search.
      const hit = await this.cache.get(key).catch((error) => this.#cacheFailed(error));
      if (hit) return stat(hit, true);
    }
    if (!this.#breakers.allow(name)) {
      return stat(
        [],
        false,
        new EngineError("circuit_open", `${name} is paused after repeated failures`),
      );
    }
    try {
      const results = await runEngine(WEB_ENGINES[name], query, {
        baseUrl: this.#baseUrl(name),
        timeoutMs,
        signal: options.signal,
        fetch: this.options.fetch,
        browser: this.config.engines[name]?.render === "browser" ? this.#browserPages() : undefined,
      });
      this.#breakers.succeeded(name);
      await this.cache.set(key, results).catch((error) => this.#cacheFailed(error));
      return stat(results, false);
    } catch (error) {
      this.#breakers.failed(name);
      return stat([], false, toEngineError(name, error));
    }
  }

  /** The headless browser, started on the first search that needs it. */
  #browserPages(): BrowserPages {
    this.#browser ??= new BrowserPages(this.config.browser.executablePath);
    return this.#browser;
  }

  /** Stops the headless browser, if a search started one; the store stays open (the caller's). */
  async close(): Promise<void> {
    const browser = this.#browser;
    this.#browser = undefined;
    await browser?.close();
  }

  #cacheFailed(error: unknown): undefined {
    this.options.logger?.warn("search cache failed", { error: String(error) });
    return undefined;
  }

  async #local(query: EngineQuery, timeoutMs: number): Promise<EngineResult[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new EngineError("timeout", `local did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const hits = await Promise.race([
        this.index.search(query.query, {
          limit: ENGINE_PAGE_SIZE,
          offset: (query.page - 1) * ENGINE_PAGE_SIZE,
        }),
        deadline,
      ]);
      return hits.map((hit, i) => ({
        url: hit.uri,
        title: hit.title,
        snippet: hit.snippet,
        engine: LOCAL_ENGINE,
        position: i + 1,
      }));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The cache key of one engine page: a hash, so any query text makes a valid key in any store. */
async function cacheKey(engine: string, query: EngineQuery): Promise<string> {
  const parts = [
    engine,
    query.query.toLowerCase(),
    query.page,
    query.language ?? "",
    query.safeSearch,
    query.timeRange ?? "",
  ];
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(parts)),
  );
  return `${engine}:${
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

function toEngineError(name: string, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  return new EngineError(
    "internal_error",
    `${name}: ${(error as Error)?.message ?? String(error)}`,
  );
}
