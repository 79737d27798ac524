/** The shapes every engine, the ranking and the API share. */

/** Safe-search levels, as the engines' own settings map them. */
export type SafeSearch = "off" | "moderate" | "strict";

/** How recent results must be. */
export type TimeRange = "day" | "week" | "month" | "year";

/** One engine query: what a user asked, in engine-neutral terms. */
export interface EngineQuery {
  /** The query text, trimmed. */
  query: string;
  /** 1-based result page. */
  page: number;
  /** A BCP 47 tag such as `en` or `zh-CN`; engines map it to their own parameter. */
  language?: string;
  /** How strictly the engines filter adult content. */
  safeSearch: SafeSearch;
  /** Only results from this recent period; unset: any age. */
  timeRange?: TimeRange;
}

/** One result as an engine returned it; `position` is 1-based within that engine's page. */
export interface EngineResult {
  /** The result's address, as the engine linked it. */
  url: string;
  /** Its title. */
  title: string;
  /** The engine's excerpt of the page, maybe empty; `local` marks matches with `<mark>`. */
  snippet: string;
  /** The name of the engine that returned it. */
  engine: string;
  /** Its 1-based rank on the engine's page. */
  position: number;
}

/** A merged result: the engines that found it and its consensus score. */
export interface RankedResult {
  /** The address: the shortest of the merged copies' URLs that normalize alike. */
  url: string;
  /** The title as the first engine to return it gave it. */
  title: string;
  /** The longest of the engines' excerpts. */
  snippet: string;
  /** The engines that returned it, in the order they were merged. */
  engines: string[];
  /** Each engine's 1-based position for it. */
  positions: Record<string, number>;
  /** The consensus score under the ranking method in use; higher ranks first. */
  score: number;
}

/** Why an engine gave no results. Every one of these is reported, never turned into results. */
export type EngineErrorCode =
  | "blocked" // a CAPTCHA or block page
  | "rate_limited" // HTTP 429 or the engine's own throttle page
  | "timeout"
  | "http_error"
  | "network_error"
  | "parse_error"
  | "circuit_open" // skipped: the engine's breaker is open
  | "internal_error"; // the engine failed in our own code (the local index's database, say)

/** What one engine did for one query. */
export interface EngineStat {
  /** The engine's name. */
  engine: string;
  /** How long it took, in milliseconds, cache lookups included. */
  latencyMs: number;
  /** The results it returned (0 on error). */
  count: number;
  /** True when the results came from the cache rather than the engine. */
  cached: boolean;
  /** Why it returned nothing; absent on success. */
  error?: { code: EngineErrorCode; message: string };
}

/** A failure an engine adapter reports; the runner turns it into an {@linkcode EngineStat}. */
export class EngineError extends Error {
  /** An error of kind `code`; `message` says what happened, for logs and the API. */
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
    this.name = "EngineError";
  }
}
