/** `web_search` through search's meta search (engines, the local index, or both). */
import type { SearchFunction } from "../tools/services.ts";

/** The slice of search's `SearchService` this adapter uses. */
export interface SearchServiceLike {
  search(
    query: string,
    options: { limit?: number; engines?: readonly string[] },
  ): Promise<{ results: { title: string; url: string; snippet: string }[] }>;
}

/**
 * A search function over a search service, asking only `engines` when given.
 *
 * @example
 * ```ts ignore
 * import { SearchService, defaultSearchConfig } from "@a3s/search";
 * const search = searchFunction(await SearchService.open(store, defaultSearchConfig()), ["local"]);
 * ```
 */
export function searchFunction(
  service: SearchServiceLike,
  engines?: readonly string[],
): SearchFunction {
  return async (query, options) => {
    const response = await service.search(query, {
      limit: options.limit,
      ...(engines?.length ? { engines } : {}),
    });
    return response.results.map((r) => ({ title: r.title, url: r.url, snippet: r.snippet }));
  };
}
