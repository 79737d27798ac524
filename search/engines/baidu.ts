/**
 * Baidu web search (`www.baidu.com/s`): `div.c-container` blocks whose `mu` attribute holds
 * the target URL (the title link is a `baidu.com/link?url=` redirect). The security check
 * page redirects to `wappass.baidu.com` and reads 百度安全验证.
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
const RESULT_BLOCKS = "#content_left div.c-container";

const DAY_SECONDS = 86_400;
const SPAN = { day: 1, week: 7, month: 31, year: 365 } as const;

/** Longest snippet taken from a card's text. */
const CARD_SNIPPET_CHARS = 200;

/**
 * The text of an answer card (`result-op`: dictionary, music, encyclopedia boxes), which has no
 * abstract element: everything the card shows after its title, cut to a snippet's length.
 */
function cardText(block: HtmlElement, title: string): string {
  const text = textOf(block);
  const rest = (text.startsWith(title) ? text.slice(title.length) : text).trim();
  return rest.length > CARD_SNIPPET_CHARS ? `${rest.slice(0, CARD_SNIPPET_CHARS - 1)}…` : rest;
}

export const baidu: EngineAdapter = {
  name: "baidu",
  defaultBaseUrl: "https://www.baidu.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    let gpc: string | undefined;
    if (query.timeRange) {
      const now = Math.floor(Date.now() / 1000);
      const from = now - SPAN[query.timeRange] * DAY_SECONDS;
      gpc = `stf=${from},${now}|stftype=1`;
    }
    return {
      url: joinUrl(baseUrl, "/s", {
        wd: query.query,
        pn: query.page > 1 ? String((query.page - 1) * 10) : undefined,
        rn: "10",
        ie: "utf-8",
        gpc,
      }),
      headers: { ...BROWSER_HEADERS, "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" },
    };
  },
  parse(response) {
    detectBlock("baidu", response, {
      url: /wappass\.baidu\.com|\/static\/captcha/,
      body: /百度安全验证|wappass\.baidu\.com\/static\/captcha/,
    });
    checkStatus("baidu", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      // The result card nests an inner c-container; the outer one carries the target in `mu`.
      if (block.parentElement?.closest("div.c-container")) continue;
      const link = block.querySelector("h3 a");
      if (!link) continue;
      raw.push({
        url: block.getAttribute("mu") || resolveHref(link.getAttribute("href"), response.url),
        title: textOf(link),
        snippet: firstText(block, [
          ".c-abstract",
          '[class^="content-right_"]',
          ".c-span-last",
          '[data-module="abstract"]',
        ]) || cardText(block, textOf(link)),
      });
    }
    return numbered("baidu", raw);
  },
};
