/**
 * Brave Search's server-rendered page: `div.snippet[data-type="web"]` blocks in `#results`,
 * the title in `.title`, the description in `.snippet-description` (or `.content` in the
 * newer generic snippets). Safe search and the country travel as cookies, as the site sets them.
 */
import {
  BROWSER_HEADERS,
  checkStatus,
  detectBlock,
  type EngineAdapter,
  joinUrl,
  numbered,
} from "../engine.ts";
import { firstText, parseDocument, textOf } from "../_html.ts";

/** One organic result each; also what a browser waits for before reading the page. */
const RESULT_BLOCKS = '#results div.snippet[data-type="web"]';

const TIME = { day: "pd", week: "pw", month: "pm", year: "py" } as const;

export const brave: EngineAdapter = {
  name: "brave",
  defaultBaseUrl: "https://search.brave.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    const cookies = [`safesearch=${query.safeSearch}`, "useLocation=0"];
    if (query.language) cookies.push(`ui_lang=${query.language}`);
    return {
      url: joinUrl(baseUrl, "/search", {
        q: query.query,
        source: "web",
        offset: query.page > 1 ? String(query.page - 1) : undefined,
        tf: query.timeRange ? TIME[query.timeRange] : undefined,
      }),
      headers: { ...BROWSER_HEADERS, cookie: cookies.join("; ") },
    };
  },
  parse(response) {
    detectBlock("brave", response, {
      url: /\/search\/captcha|\/captcha\?/,
      body: /id="captcha"|<title>[^<]*captcha/i,
    });
    checkStatus("brave", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      const link = block.querySelector("a[href^='http']");
      raw.push({
        url: link?.getAttribute("href") ?? "",
        title: firstText(block, [".title", ".heading-serpresult"]) || textOf(link),
        snippet: firstText(block, [".snippet-description", ".generic-snippet .content"]),
      });
    }
    return numbered("brave", raw);
  },
};
