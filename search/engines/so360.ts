/**
 * 360 Search (`www.so.com/s`): `li.res-list` blocks; the title link goes through
 * `so.com/link?m=` and carries the target in `data-mdurl`. Blocks redirect to `qcaptcha`.
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
const RESULT_BLOCKS = "li.res-list";

const TIME = { day: "d", week: "w", month: "m", year: "y" } as const;

export const so360: EngineAdapter = {
  name: "so360",
  defaultBaseUrl: "https://www.so.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/s", {
        q: query.query,
        pn: query.page > 1 ? String(query.page) : undefined,
        adv_t: query.timeRange ? TIME[query.timeRange] : undefined,
      }),
      headers: { ...BROWSER_HEADERS, "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" },
    };
  },
  parse(response) {
    detectBlock("so360", response, {
      url: /qcaptcha/,
      body: /qcaptcha|<title>[^<]*访问异常/,
    });
    checkStatus("so360", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      const link = block.querySelector("h3 a");
      if (!link) continue;
      raw.push({
        url: link.getAttribute("data-mdurl") ||
          resolveHref(link.getAttribute("href"), response.url),
        title: textOf(link),
        snippet: firstText(block, [".res-desc", ".res-rich .res-comm-con", ".res-rich"]),
      });
    }
    return numbered("so360", raw);
  },
};
