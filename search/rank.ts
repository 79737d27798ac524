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

// deno-lint-ignore no-control-regex -- the whole ASCII range, control characters included
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Words of a title, with CJK characters as single tokens and site suffixes dropped. */
function titleTokens(title: string): Set<string> {
  const cleaned = title.toLowerCase().replace(/\s[-–—|_]\s[^-–—|_]{1,30}$/, "");
  // Most titles are ASCII; the Unicode-aware pattern costs several times more per title.
  const tokens = ASCII_ONLY.test(cleaned)
    ? cleaned.match(/[a-z0-9]+/g)
    : cleaned.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[\p{L}\p{N}]+/gu);
  return new Set(tokens ?? []);
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (!a.size || !b.size) return 0;
  let shared = 0;
  for (const token of a) if (b.has(token)) shared++;
  return shared / (a.size + b.size - shared);
}

/** The host of a normalized URL (`https://host/...`), read without parsing it again. */
function hostOf(normalized: string): string {
  return normalized.match(/^[a-z]+:\/\/([^/?#]+)/)?.[1] ?? normalized;
}

/** Same-host titles this similar are one page (mobile and desktop paths, reordered parts). */
const SAME_HOST_JACCARD = 0.8;
/** Across hosts (mirrors, syndication) titles must match exactly and be this long. */
const CROSS_HOST_MIN_TOKENS = 6;

/**
 * Finds the group a new URL's result belongs to by its title: on the same host by Jaccard
 * similarity, across hosts by an identical, distinctive title. Indexed by host and by title
 * so merging stays linear in the number of results.
 */
class TitleMatcher {
  readonly #byHost = new Map<string, Group[]>();
  readonly #byTitle = new Map<string, Group>();

  find(host: string, tokens: Set<string>): Group | undefined {
    for (const group of this.#byHost.get(host) ?? []) {
      if (jaccard(group.titleTokens, tokens) >= SAME_HOST_JACCARD) return group;
    }
    if (tokens.size < CROSS_HOST_MIN_TOKENS) return undefined;
    return this.#byTitle.get(titleKey(tokens));
  }

  add(group: Group): void {
    const list = this.#byHost.get(group.host);
    if (list) list.push(group);
    else this.#byHost.set(group.host, [group]);
    if (group.titleTokens.size >= CROSS_HOST_MIN_TOKENS) {
      const key = titleKey(group.titleTokens);
      if (!this.#byTitle.has(key)) this.#byTitle.set(key, group);
    }
  }
}

function titleKey(tokens: Set<string>): string {
  return [...tokens].sort().join(" ");
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
  const titles = new TitleMatcher();
  for (const list of lists) {
    for (const item of list) {
      const key = normalizeUrl(item.url);
      let group = byKey.get(key);
      if (!group) {
        const tokens = titleTokens(item.title);
        const host = hostOf(key);
        group = titles.find(host, tokens);
        if (group) byKey.set(key, group);
        else {
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
          titles.add(group);
        }
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
  const best = new Map<RankedResult, number>();
  for (const group of groups) {
    group.result.score = score(group.result.positions, weights, method);
    best.set(group.result, Math.min(...Object.values(group.result.positions)));
  }
  // Ties go to more engines, then to the better single position.
  return groups.map((g) => g.result).sort((a, b) =>
    b.score - a.score || b.engines.length - a.engines.length || best.get(a)! - best.get(b)!
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
