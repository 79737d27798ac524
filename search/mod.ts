/**
 * `@a3s/search`: meta search. A query goes to several engines at once (a local full-text
 * index, and DuckDuckGo, Brave, Wikipedia, Sogou, 360, Google, Baidu, Bing China and SearXNG
 * when configured); their results are deduplicated and ranked by consensus. With nothing
 * configured and no internet it answers from the local index.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { defaultSearchConfig, SearchService } from "@a3s/search";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const search = await SearchService.open(store, defaultSearchConfig());
 * await search.index.upsert([{ uri: "memory:1", title: "Lanes", body: "priority queues", source: "memory" }]);
 * const { results, engines } = await search.search("priority queues", { limit: 5 });
 * console.log(results[0].url, engines[0].latencyMs);
 * await store.close();
 * ```
 * @module
 */
export {
  type SearchOptions,
  type SearchResponse,
  SearchService,
  type SearchServiceOptions,
} from "./search.ts";
export {
  type BrowserSettings,
  DEFAULT_BROWSER,
  defaultSearchConfig,
  ENGINE_NAMES,
  type EngineSettings,
  type EngineSettingsInput,
  EngineSettingsSchema,
  LOCAL_ENGINE,
  type SearchConfig,
  type SearchConfigInput,
  SearchConfigSchema,
} from "./config.ts";
export { DEFAULT_RANKING, mergeResults, ndcg, type RankingMethod, RRF_K } from "./rank.ts";
export { normalizeUrl } from "./normalize_url.ts";
export type { EngineAdapter, EngineRequest, EngineResponse } from "./engine.ts";
export { runEngine, type RunOptions } from "./engine_runner.ts";
export { BrowserPages, type PageLoadOptions } from "./browser_pages.ts";
export { WEB_ENGINES } from "./engines/mod.ts";
export { type BreakerOptions, CircuitBreakers } from "./circuit_breaker.ts";
export {
  EngineError,
  type EngineErrorCode,
  type EngineQuery,
  type EngineResult,
  type EngineStat,
  type RankedResult,
  type SafeSearch,
  type TimeRange,
} from "./types.ts";
export {
  contentHash,
  type IndexedDocument,
  type LocalBackend,
  type LocalDocument,
  type LocalHit,
  type LocalIndex,
  openLocalIndex,
  type UpsertOutcome,
} from "./local/local_index.ts";
export {
  addPath,
  addUrl,
  type FetchOptions,
  type IngestOptions,
  type IngestSummary,
} from "./local/ingest.ts";
export { type ExtractedText, extractText } from "./local/extract.ts";
export type { PostgresRanking } from "./local/postgres_index.ts";
export {
  MEMORY_SOURCE,
  MEMORY_URI_PREFIX,
  type MemoryEntry,
  memoryIdOf,
  MemoryIndex,
  type MemorySyncSummary,
  memoryUri,
} from "./local/memory_index.ts";
export { openSearchDescription } from "./opensearch.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/search";
