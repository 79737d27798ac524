/**
 * Bing China (`cn.bing.com/search`): `li.b_algo` blocks in `#b_results`, title `h2 a`,
 * description in `.b_caption p` (or the newer `.b_lineclamp*`). Links sometimes come as
 * `bing.com/ck/a?...&u=a1<base64url target>`. Blocks go to `/turing/captcha/`.
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
const RESULT_BLOCKS = "#b_results > li.b_algo";

const SAFE = { off: "off", moderate: "moderate", strict: "strict" } as const;
const TIME = { day: 'ex1:"ez1"', week: 'ex1:"ez2"', month: 'ex1:"ez3"', year: undefined } as const;

/** Decodes Bing's `/ck/a?u=a1<base64url>` click-tracking links. */
export function unwrapBingRedirect(href: string): string {
  let parsed: URL;
  try {
    parsed = new URL(href);
  } catch {
    return href;
  }
  const u = parsed.searchParams.get("u");
  if (!parsed.pathname.startsWith("/ck/a") || !u?.startsWith("a1")) return href;
  try {
    const b64 = u.slice(2).replaceAll("-", "+").replaceAll("_", "/");
    const bytes = Uint8Array.from(
      atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")),
      (c) => c.charCodeAt(0),
    );
    return new TextDecoder().decode(bytes);
  } catch {
    return href;
  }
}

export const bingChina: EngineAdapter = {
  name: "bing_china",
  defaultBaseUrl: "https://cn.bing.com",
  defaultWeight: 1,
  readySelector: RESULT_BLOCKS,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/search", {
        q: query.query,
        first: query.page > 1 ? String((query.page - 1) * 10 + 1) : undefined,
        setlang: query.language ?? "zh-Hans",
        ensearch: query.language?.startsWith("en") ? "1" : undefined,
        adlt: SAFE[query.safeSearch],
        filters: query.timeRange ? TIME[query.timeRange] : undefined,
      }),
      headers: { ...BROWSER_HEADERS, "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" },
    };
  },
  parse(response) {
    detectBlock("bing_china", response, {
      url: /\/turing\/captcha\//,
      body: /\/turing\/captcha\/challenge|id="b_captcha"/,
    });
    checkStatus("bing_china", response);
    const root = parseDocument(response.body);
    const raw = [];
    for (const block of root.querySelectorAll(RESULT_BLOCKS)) {
      const link = block.querySelector("h2 a");
      if (!link) continue;
      raw.push({
        url: unwrapBingRedirect(resolveHref(link.getAttribute("href"), response.url)),
        title: textOf(link),
        snippet: firstText(block, [
          ".b_caption p",
          ".b_lineclamp2",
          ".b_lineclamp3",
          ".b_algoSlug",
        ]),
      });
    }
    return numbered("bing_china", raw);
  },
};
