/**
 * Google web search. Two page shapes come back: the browser page (`div.g` / `div.MjjYud`,
 * title `h3` inside the result link, description `div.VwiC3b`) and the basic page served to
 * simple clients (`div.Gx5Zad`, links as `/url?q=<target>`). The browser page's older layout
 * (`li.g`, the link inside `h3.r`, description `span.st`) is read too. Blocks go to `/sorry/`.
 */
import {
  BROWSER_HEADERS,
  checkStatus,
  detectBlock,
  type EngineAdapter,
  joinUrl,
  numbered,
} from "../engine.ts";
import { firstText, type HtmlElement, parseDocument, resolveHref, textOf } from "../_html.ts";

/** One organic result each; also what a browser waits for before reading the page. */
const RESULT_BLOCKS = "#search div.g, #search li.g, #main div.Gx5Zad";

const SAFE = { off: "off", moderate: "medium", strict: "active" } as const;
const TIME = { day: "qdr:d", week: "qdr:w", month: "qdr:m", year: "qdr:y" } as const;

/** Unwraps `/url?q=<target>&sa=...` links of the basic page. */
function unwrap(href: string, base: string): string {
  const url = resolveHref(href, base);
  if (!url) return "";
  const parsed = new URL(url);
  if (parsed.pathname === "/url") {
    return parsed.searchParams.get("q") ?? parsed.searchParams.get("url") ?? "";
  }
  return url;
}

/** The result's link and title: an `h3` inside the link, or (older pages) the link inside an `h3`. */
function resultLink(block: HtmlElement): { link: HtmlElement; title: string } | null {
  for (const link of block.querySelectorAll("a[href]")) {
    const heading = link.querySelector("h3");
    if (heading) return { link, title: textOf(heading) };
  }
  const inHeading = block.querySelector("h3 > a[href]");
  return inHeading ? { link: inHeading, title: textOf(inHeading) } : null;
}

export const google: EngineAdapter = {
  name: "google",
  defaultBaseUrl: "https://www.google.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/search", {
        q: query.query,
        start: query.page > 1 ? String((query.page - 1) * 10) : undefined,
        hl: query.language,
        lr: query.language ? `lang_${query.language.split(/[-_]/)[0]}` : undefined,
        safe: SAFE[query.safeSearch],
        tbs: query.timeRange ? TIME[query.timeRange] : undefined,
        ie: "utf8",
        oe: "utf8",
      }),
      headers: { ...BROWSER_HEADERS },
    };
  },
  parse(response) {
    detectBlock("google", response, {
      url: /\/sorry\//,
      body: /id="captcha-form"|detected unusual traffic from your computer network/i,
    });
    checkStatus("google", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      // A div.g nested in another (sitelinks, "people also ask") repeats or is no result.
      if (block.parentElement?.closest(".g")) continue;
      const found = resultLink(block);
      if (!found) continue;
      raw.push({
        url: unwrap(found.link.getAttribute("href") ?? "", response.url),
        title: found.title,
        snippet: firstText(block, [
          "div.VwiC3b",
          '[data-sncf="1"]',
          "div.BNeawe.s3v9rd",
          "span.st",
        ]),
      });
    }
    return numbered("google", raw);
  },
};
