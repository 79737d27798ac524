/**
 * Consensus ranking: merge the engines' lists into one, deduplicated by normalized URL and by
 * near-duplicate titles, scored by one of two formulas (both in the README):
 *
 * - `rrf` (reciprocal rank fusion): score = Σ_e w_e / (k + position_e), k = 60.
 * - `searxng` (upstream's): weight = Π_e w_e × |engines|; score = Σ_e weight / position_e.
 */
import { normalizeUrl } from "./normalize_url.ts";
import type { EngineResult, RankedResult } from "./types.ts";

/** The two formulas; `rrf` is the default because it ranked our judged fixtures better. */
export type RankingMethod = "rrf" | "searxng";

/** The ranking used when a request names none. */
export const DEFAULT_RANKING: RankingMethod = "rrf";

/** RRF's damping constant, as in Cormack et al. (2009). */
export const RRF_K = 60;

interface Group {
  key: string;
  host: string;
  titleTokens: Set<string>;
  result: RankedResult;
}

/** Words of a title, with CJK characters as single tokens and site suffixes dropped. */
function titleTokens(title: string): Set<string> {
  const cleaned = title.toLowerCase().replace(/\s[-–—|_]\s[^-–—|_]{1,30}$/, "");
  const tokens = cleaned.match(
    /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[\p{L}\p{N}]+/gu,
  );
  return new Set(tokens ?? []);
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (!a.size || !b.size) return 0;
  let shared = 0;
  for (const token of a) if (b.has(token)) shared++;
  return shared / (a.size + b.size - shared);
}

function hostOf(normalized: string): string {
  try {
    return new URL(normalized).hostname;
  } catch {
    return normalized;
  }
}

/**
 * Two different URLs are one page when their titles are near-identical: on the same host
 * (mobile and desktop paths, reordered parameters) a Jaccard of 0.8 suffices; across hosts
 * (mirrors, syndication) titles must match exactly and be long enough to be distinctive.
 */
function sameDocument(group: Group, host: string, tokens: Set<string>): boolean {
  const similarity = jaccard(group.titleTokens, tokens);
  if (group.host === host) return similarity >= 0.8;
  return similarity === 1 && tokens.size >= 6;
}

/** Scores a result from its engines' positions. */
function score(
  positions: Record<string, number>,
  weights: Readonly<Record<string, number>>,
  method: RankingMethod,
): number {
  const engines = Object.keys(positions);
  if (method === "rrf") {
    let sum = 0;
    for (const engine of engines) sum += (weights[engine] ?? 1) / (RRF_K + positions[engine]);
    return sum;
  }
  let weight = engines.length;
  for (const engine of engines) weight *= weights[engine] ?? 1;
  let sum = 0;
  for (const engine of engines) sum += weight / positions[engine];
  return sum;
}

/**
 * Merges the engines' result lists into one ranked list.
 *
 * @example
 * ```ts
 * import { mergeResults } from "@a3s/search";
 * const ranked = mergeResults([
 *   [{ url: "https://a.example/", title: "A", snippet: "", engine: "x", position: 1 }],
 *   [{ url: "https://www.a.example", title: "A", snippet: "a", engine: "y", position: 2 }],
 * ]);
 * console.log(ranked[0].engines); // ["x", "y"]
 * ```
 */
export function mergeResults(
  lists: ReadonlyArray<ReadonlyArray<EngineResult>>,
  weights: Readonly<Record<string, number>> = {},
  method: RankingMethod = DEFAULT_RANKING,
): RankedResult[] {
  const byKey = new Map<string, Group>();
  const groups: Group[] = [];
  for (const list of lists) {
    for (const item of list) {
      const key = normalizeUrl(item.url);
      let group = byKey.get(key);
      const tokens = titleTokens(item.title);
      const host = hostOf(key);
      if (!group) {
        group = groups.find((g) => sameDocument(g, host, tokens));
        if (group) byKey.set(key, group);
      }
      if (!group) {
        group = {
          key,
          host,
          titleTokens: tokens,
          result: {
            url: item.url,
            title: item.title,
            snippet: item.snippet,
            engines: [],
            positions: {},
            score: 0,
          },
        };
        byKey.set(key, group);
        groups.push(group);
      }
      const merged = group.result;
      const previous = merged.positions[item.engine];
      if (previous === undefined) merged.engines.push(item.engine);
      // An engine listing the same page twice counts once, at its better position.
      if (previous === undefined || item.position < previous) {
        merged.positions[item.engine] = item.position;
      }
      if (item.snippet.length > merged.snippet.length) merged.snippet = item.snippet;
      // The shortest URL of a merged group is usually the canonical one (no tracking).
      if (item.url.length < merged.url.length && key === group.key) merged.url = item.url;
    }
  }
  for (const group of groups) {
    group.result.score = score(group.result.positions, weights, method);
  }
  return groups.map((g) => g.result).sort((a, b) =>
    b.score - a.score || b.engines.length - a.engines.length ||
    Math.min(...Object.values(a.positions)) - Math.min(...Object.values(b.positions))
  );
}

/**
 * Normalized discounted cumulative gain of the first `k` results against graded judgments
 * (keyed by normalized URL): how the two formulas were compared.
 */
export function ndcg(
  ranked: ReadonlyArray<{ url: string }>,
  grades: Readonly<Record<string, number>>,
  k = 10,
): number {
  const byKey = new Map(Object.entries(grades).map(([url, g]) => [normalizeUrl(url), g]));
  const gain = (g: number, i: number) => (2 ** g - 1) / Math.log2(i + 2);
  let dcg = 0;
  ranked.slice(0, k).forEach((r, i) => dcg += gain(byKey.get(normalizeUrl(r.url)) ?? 0, i));
  const ideal = [...byKey.values()].sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((sum, g, i) => sum + gain(g, i), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}
