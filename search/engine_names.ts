/**
 * The names of the built-in engines, apart from their adapters: `a3s search --help` lists them
 * without loading the adapters (`engines/mod.ts` holds the same names, a test keeps them equal).
 */

/** The local full-text engine's name in `engines=` and in results. */
export const LOCAL_ENGINE = "local";

/** The web engines, in the order `engines/mod.ts` lists their adapters. */
export const WEB_ENGINE_NAMES: readonly string[] = [
  "duckduckgo",
  "brave",
  "wikipedia",
  "sogou",
  "so360",
  "google",
  "baidu",
  "bing_china",
  "searxng",
];
