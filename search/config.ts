/** The `search` config section: engines, timeouts, cache, ranking and the fetch policy. */
import { z } from "zod";
import {
  type AccessPolicyConfig,
  type AccessPolicyConfigInput,
  AccessPolicyConfigSchema,
} from "@a3s/common";
import { LOCAL_ENGINE } from "./engine_names.ts";
import { WEB_ENGINES } from "./engines/mod.ts";
import { DEFAULT_RANKING, type RankingMethod } from "./rank.ts";

export { LOCAL_ENGINE };

/** Every engine name a request or the config may use. */
export const ENGINE_NAMES: readonly string[] = [LOCAL_ENGINE, ...Object.keys(WEB_ENGINES)];

/** Engines whose page a headless browser can render: the HTML ones, not the JSON APIs. */
const BROWSER_ENGINES = Object.values(WEB_ENGINES).filter((e) => e.readySelector).map((e) =>
  e.name
);

/** Debian's Chromium, which `apt-get install chromium` puts here. */
export const DEFAULT_BROWSER = "/usr/bin/chromium";

/** One engine's settings, validated. */
export interface EngineSettings {
  /** Asked when a search names no engines; unset: on for `local`, off for the web engines. */
  enabled?: boolean;
  /** Where its requests go instead of the engine's own host (a mirror, a proxy, a SearXNG). */
  baseUrl?: string;
  /** Its weight in consensus ranking (default 1). */
  weight: number;
  /** Overrides the section's `timeoutMs` for this engine. */
  timeoutMs?: number;
  /**
   * How its page is loaded: `http` (the default) fetches the server's HTML; `browser` loads it
   * in headless Chromium and parses the page as its scripts left it, for engines that build
   * their results with JavaScript. Slower (a browser page per query), so off unless needed.
   */
  render?: "http" | "browser";
}

/** One engine's settings as written in the config. */
export type EngineSettingsInput = Partial<EngineSettings>;

/** The validated `search` section; see {@linkcode SearchConfigSchema} for each key. */
export interface SearchConfig {
  /** Settings by engine name; an engine not named here runs with its defaults. */
  engines: Record<string, EngineSettings>;
  /** Per-engine deadline in milliseconds; a slower engine is reported as a timeout. */
  timeoutMs: number;
  /** How long an engine's page of results is reused; 0 turns the cache off. */
  cacheTtlSeconds: number;
  /** The formula that merges the engines' results. */
  ranking: RankingMethod;
  /** After `failureThreshold` failures in a row an engine rests for `cooldownMs`. */
  breaker: { failureThreshold: number; cooldownMs: number };
  /** Longest accepted query, in characters. */
  maxQueryLength: number;
  /** What `POST /search/v1/index` may read and fetch on a caller's behalf. */
  fetchPolicy: AccessPolicyConfig;
  /** The headless browser that engines with `render: "browser"` use. */
  browser: BrowserSettings;
  /** How the local index ranks when the store is PostgreSQL: BM25, or `ts_rank_cd`. */
  postgresRanking: "bm25" | "ts_rank_cd";
}

/** The headless browser for engines whose page needs script. */
export interface BrowserSettings {
  /** The Chromium binary (default Debian's `/usr/bin/chromium`). */
  executablePath: string;
}

/** The `search` section as written in the config: every key optional. */
export interface SearchConfigInput {
  /** Settings by engine name; an engine not named here runs with its defaults. */
  engines?: Record<string, EngineSettingsInput>;
  /** Per-engine deadline in milliseconds (default 3000). */
  timeoutMs?: number;
  /** How long an engine's page of results is reused; 0 turns the cache off (default 600). */
  cacheTtlSeconds?: number;
  /** The formula that merges the engines' results (default `rrf`). */
  ranking?: RankingMethod;
  /** Breaker thresholds (defaults: 3 failures in a row, a 60 000 ms rest). */
  breaker?: Partial<SearchConfig["breaker"]>;
  /** Longest accepted query, in characters (default 500). */
  maxQueryLength?: number;
  /** What `POST /search/v1/index` may read and fetch (default: the access policy's defaults). */
  fetchPolicy?: AccessPolicyConfigInput;
  /** The headless browser for `render: "browser"` engines (default `/usr/bin/chromium`). */
  browser?: Partial<BrowserSettings>;
  /** How the local index ranks on PostgreSQL (default `bm25`). */
  postgresRanking?: "bm25" | "ts_rank_cd";
}

/** Validates one engine's settings and fills in its defaults. */
export const EngineSettingsSchema: z.ZodType<EngineSettings, EngineSettingsInput> = z.object({
  /** Part of the default set. Defaults: `local` on, the web engines off (no internet needed). */
  enabled: z.boolean().optional(),
  /** Where its requests go instead of the engine's own host (a mirror, a proxy, a SearXNG). */
  baseUrl: z.string().url().optional(),
  /** Its weight in consensus ranking. */
  weight: z.number().positive().max(100).default(1),
  /** Overrides the section's `timeoutMs` for this engine. */
  timeoutMs: z.number().int().positive().max(120_000).optional(),
  /** `browser` loads the page in headless Chromium, for engines that build results in script. */
  render: z.enum(["http", "browser"]).optional(),
});

/** The `search` section's schema; every key defaulted, so `{}` is valid. */
export const SearchConfigSchema: z.ZodType<SearchConfig, SearchConfigInput> = z.object({
  engines: z.record(z.string(), EngineSettingsSchema).default({}).refine(
    (engines) => Object.keys(engines).every((name) => ENGINE_NAMES.includes(name)),
    { message: `engine names are ${ENGINE_NAMES.join(", ")}` },
  ).refine(
    (engines) =>
      Object.entries(engines).every(([name, settings]) =>
        settings.render !== "browser" || WEB_ENGINES[name]?.readySelector !== undefined
      ),
    { message: `render: "browser" applies to HTML engines only (${BROWSER_ENGINES.join(", ")})` },
  ),
  /** Per-engine deadline; a slower engine is reported as a timeout, never waited for. */
  timeoutMs: z.number().int().positive().max(120_000).default(3000),
  /** How long an engine's page of results is reused; 0 turns the cache off. */
  cacheTtlSeconds: z.number().int().min(0).max(7 * 86_400).default(600),
  ranking: z.enum(["rrf", "searxng"]).default(DEFAULT_RANKING),
  /** After `failureThreshold` failures in a row an engine rests for `cooldownMs`. */
  breaker: z.object({
    failureThreshold: z.number().int().positive().default(3),
    cooldownMs: z.number().int().positive().default(60_000),
  }).default({ failureThreshold: 3, cooldownMs: 60_000 }),
  /** Longest accepted query, in characters. */
  maxQueryLength: z.number().int().positive().max(10_000).default(500),
  /** What `POST /search/v1/index` may read and fetch on a caller's behalf. */
  fetchPolicy: AccessPolicyConfigSchema.default(() => AccessPolicyConfigSchema.parse({})),
  /** The headless browser for engines with `render: "browser"`. */
  browser: z.object({
    executablePath: z.string().min(1).default(DEFAULT_BROWSER),
  }).default({ executablePath: DEFAULT_BROWSER }),
  /** The local index's ranking on PostgreSQL; SQLite FTS5 always ranks by BM25. */
  postgresRanking: z.enum(["bm25", "ts_rank_cd"]).default("bm25"),
});

/** The section with every default, as `serve` hands it over for `{}`. */
export function defaultSearchConfig(
  overrides: z.input<typeof SearchConfigSchema> = {},
): SearchConfig {
  return SearchConfigSchema.parse(overrides);
}
