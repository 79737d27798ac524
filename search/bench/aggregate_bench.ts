/**
 * Aggregation and ranking cost per query: 8 engines × 10 results, overlapping the way real
 * engines overlap (tracking parameters, `www.`, trailing slashes, near-duplicate titles).
 * The budget is 1 ms per query.
 *
 *   deno bench -A search/bench/aggregate_bench.ts
 */
import { WEB_ENGINE_NAMES } from "../engine_names.ts";
import { mergeResults } from "../rank.ts";
import type { EngineResult } from "../types.ts";

/** The eight engines of upstream a3s-search (SearXNG, the ninth adapter, is left out). */
const ENGINES = WEB_ENGINE_NAMES.filter((name) => name !== "searxng");

/** Eight lists of ten: a shared head of popular pages, then engine-specific tails. */
function lists(seed: number): EngineResult[][] {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return ENGINES.map((engine) =>
    Array.from({ length: 10 }, (_, i) => {
      const shared = random() < 0.5;
      const page = shared ? Math.floor(random() * 15) : 100 + Math.floor(random() * 1000);
      const variant = Math.floor(random() * 4);
      const url = [
        `https://www.site${page}.example/docs/page-${page}/`,
        `http://site${page}.example/docs/page-${page}?utm_source=${engine}`,
        `https://site${page}.example/docs/page-${page}#section`,
        `https://site${page}.example/docs/page-${page}`,
      ][variant];
      return {
        url,
        title: `Page ${page} - documentation of the example project number ${page}`,
        snippet: `A snippet about page ${page} from ${engine}, long enough to look like one.`,
        engine,
        position: i + 1,
      };
    })
  );
}

const inputs = Array.from({ length: 64 }, (_, i) => lists(i + 1));
let n = 0;

Deno.bench({
  name: "merge + rank, RRF (default)",
  group: "aggregate 8x10",
  baseline: true,
  fn() {
    mergeResults(inputs[n++ % inputs.length], {}, "rrf");
  },
});
Deno.bench({
  name: "merge + rank, SearXNG formula",
  group: "aggregate 8x10",
  fn() {
    mergeResults(inputs[n++ % inputs.length], {}, "searxng");
  },
});
