/**
 * DuckDuckGo's script-free HTML endpoint (`html.duckduckgo.com/html/`): `div.result` blocks,
 * links behind a `//duckduckgo.com/l/?uddg=` redirect, ads marked `result--ad`.
 */
import {
  BROWSER_HEADERS,
  checkStatus,
  detectBlock,
  type EngineAdapter,
  joinUrl,
  numbered,
} from "../engine.ts";
import { type HtmlElement, parseDocument, resolveHref, textOf } from "../_html.ts";

/**
 * One organic result each; also what a browser waits for before reading the page. The endpoint's
 * older layout (`div.results_links`, `a.large`, `div.snippet`, saved in 2015) is read too: mirrors
 * and caches still serve it.
 */
const RESULT_BLOCKS = "div.result, div.results_links";

const SAFE = { off: "-2", moderate: "-1", strict: "1" } as const;
const TIME = { day: "d", week: "w", month: "m", year: "y" } as const;

/** Turns a `//duckduckgo.com/l/?uddg=<target>` redirect into its target. */
export function unwrapDuckDuckGoRedirect(href: string): string {
  const url = resolveHref(href, "https://duckduckgo.com/");
  if (!url) return "";
  const parsed = new URL(url);
  if (parsed.pathname === "/l/" && parsed.searchParams.has("uddg")) {
    return parsed.searchParams.get("uddg") ?? "";
  }
  return url;
}

/**
 * A result's snippet. Dated results lead with a `.result__date` span that sits flush against
 * the text ("Nov 21, 2019In keyword-driven..."), so the date is set apart.
 */
function snippetOf(element: HtmlElement | null): string {
  const text = textOf(element);
  const date = textOf(element?.querySelector(".result__date"));
  return date && text.startsWith(date) ? `${date} — ${text.slice(date.length).trim()}` : text;
}

/** DuckDuckGo's region code (`us-en`, `cn-zh`) for a language tag. */
function region(language: string | undefined): string | undefined {
  if (!language) return undefined;
  const [lang, country] = language.toLowerCase().split(/[-_]/);
  return `${country ?? (lang === "en" ? "us" : lang)}-${lang}`;
}

export const duckduckgo: EngineAdapter = {
  name: "duckduckgo",
  defaultBaseUrl: "https://html.duckduckgo.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/html/", {
        q: query.query,
        // The endpoint pages by offset: the first page holds up to 10 results, later ones 15.
        s: query.page > 1 ? String(10 + (query.page - 2) * 15) : undefined,
        dc: query.page > 1 ? String(11 + (query.page - 2) * 15) : undefined,
        kl: region(query.language),
        kp: SAFE[query.safeSearch],
        df: query.timeRange ? TIME[query.timeRange] : undefined,
      }),
      headers: { ...BROWSER_HEADERS },
    };
  },
  parse(response) {
    detectBlock("duckduckgo", response, {
      body: /anomaly-modal|id="challenge-form"|bots use DuckDuckGo too/i,
    });
    checkStatus("duckduckgo", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      const classes = block.getAttribute("class") ?? "";
      if (/\bresult--ad\b/.test(classes)) continue;
      const link = block.querySelector("a.result__a, a.large");
      raw.push({
        url: unwrapDuckDuckGoRedirect(link?.getAttribute("href") ?? ""),
        title: textOf(link),
        snippet: snippetOf(block.querySelector(".result__snippet, div.snippet")),
      });
    }
    return numbered("duckduckgo", raw);
  },
};
