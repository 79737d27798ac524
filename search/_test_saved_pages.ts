/**
 * Test support: the real engine result pages other public projects saved, and what our parsers
 * must read from them (`testdata/saved_pages.json`). The pages are third-party data and stay out
 * of this repository; they are read from the shared data folder the test machines carry beside
 * the checkout (`shared/search/engine_pages/`), or from `A3S_SEARCH_SAVED_PAGES`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where one saved page came from, and what its parser must find in it. */
export interface SavedPage {
  engine: string;
  file: string;
  /** The URL the page was served at, so block-page checks see the real address. */
  pageUrl: string;
  source: { repo: string; commit: string; path: string; licence: string };
  captured: string;
  query: string;
  expected: { count: number; first: [string, string][]; firstSnippet?: string };
}

const MANIFEST = new URL("./testdata/saved_pages.json", import.meta.url);
const REPO_ROOT = new URL("../", import.meta.url);

/** The saved pages this repository knows about. */
export function savedPages(): SavedPage[] {
  return (JSON.parse(Deno.readTextFileSync(MANIFEST)) as { pages: SavedPage[] }).pages;
}

/** The folder holding the saved pages, or undefined when this machine has none. */
export function savedPagesDir(): string | undefined {
  const candidates = [
    Deno.env.get("A3S_SEARCH_SAVED_PAGES"),
    fileURLToPath(new URL("shared/search/engine_pages/", REPO_ROOT)),
    fileURLToPath(new URL("../shared/search/engine_pages/", REPO_ROOT)),
  ];
  return candidates.find((dir) =>
    dir && savedPages().every((page) => existsSync(`${dir}/${page.file}`))
  );
}
