/** The shapes every engine, the ranking and the API share. */

/** Safe-search levels, as the engines' own settings map them. */
export type SafeSearch = "off" | "moderate" | "strict";

/** How recent results must be. */
export type TimeRange = "day" | "week" | "month" | "year";

/** One engine query: what a user asked, in engine-neutral terms. */
export interface EngineQuery {
  query: string;
  /** 1-based result page. */
  page: number;
  /** A BCP 47 tag such as `en` or `zh-CN`; engines map it to their own parameter. */
  language?: string;
  safeSearch: SafeSearch;
  timeRange?: TimeRange;
}

/** One result as an engine returned it; `position` is 1-based within that engine's page. */
export interface EngineResult {
  url: string;
  title: string;
  snippet: string;
  engine: string;
  position: number;
}

/** A merged result: the engines that found it and its consensus score. */
export interface RankedResult {
  url: string;
  title: string;
  snippet: string;
  /** The engines that returned it, in the order they were merged. */
  engines: string[];
  /** Each engine's 1-based position for it. */
  positions: Record<string, number>;
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
  engine: string;
  latencyMs: number;
  count: number;
  cached: boolean;
  error?: { code: EngineErrorCode; message: string };
}

/** A failure an engine adapter reports; the runner turns it into an {@linkcode EngineStat}. */
export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
    this.name = "EngineError";
  }
}
