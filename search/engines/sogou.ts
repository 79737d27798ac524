/**
 * Sogou web search (`www.sogou.com/web`): results in `div.vrwrap` and `div.rb`, titles in
 * `h3 a` behind a `/link?url=` redirect; the target is in the block's `data-url` (or in the
 * `citeurl` line) when Sogou shows it. The anti-spider page lives under `/antispider/`.
 */
import {
  BROWSER_HEADERS,
  checkStatus,
  detectBlock,
  type EngineAdapter,
  joinUrl,
  numbered,
} from "../engine.ts";
import { firstText, parseDocument, resolveHref, textOf } from "../_html.ts";

/** One organic result each; also what a browser waits for before reading the page. */
const RESULT_BLOCKS = "div.vrwrap, div.rb";

const TIME = { day: "1", week: "2", month: "3", year: "4" } as const;

export const sogou: EngineAdapter = {
  name: "sogou",
  defaultBaseUrl: "https://www.sogou.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/web", {
        query: query.query,
        page: query.page > 1 ? String(query.page) : undefined,
        ie: "utf8",
        tsn: query.timeRange ? TIME[query.timeRange] : undefined,
      }),
      headers: { ...BROWSER_HEADERS, "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" },
    };
  },
  parse(response) {
    detectBlock("sogou", response, {
      url: /\/antispider\//,
      body: /id="seccodeForm"|antispider|检测到您网络中存在异常访问/,
    });
    checkStatus("sogou", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      const link = block.querySelector("h3 a");
      if (!link) continue;
      const target = block.querySelector("[data-url]")?.getAttribute("data-url") ??
        block.getAttribute("data-url");
      raw.push({
        url: target || resolveHref(link.getAttribute("href"), response.url),
        title: textOf(link),
        snippet: firstText(block, [".str-text-info", ".str_info", ".space-txt", ".star-wiki"]),
      });
    }
    return numbered("sogou", raw);
  },
};
