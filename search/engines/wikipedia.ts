/**
 * Wikipedia through the MediaWiki search API (`/w/api.php?action=query&list=search`), JSON.
 * The default host follows the query language (`zh.wikipedia.org` for `zh-CN`).
 */
import { z } from "zod";
import { checkStatus, type EngineAdapter, joinUrl, numbered } from "../engine.ts";
import { stripTags } from "../_html.ts";
import { EngineError } from "../types.ts";

const PAGE_SIZE = 10;

const ApiAnswer = z.object({
  error: z.object({ code: z.string(), info: z.string().optional() }).optional(),
  query: z.object({
    search: z.array(z.object({ title: z.string(), snippet: z.string().default("") })),
  }).optional(),
});

export const wikipedia: EngineAdapter = {
  name: "wikipedia",
  defaultBaseUrl: "https://{lang}.wikipedia.org",
  defaultWeight: 1,
  buildRequest(query, baseUrl) {
    const lang = (query.language ?? "en").split(/[-_]/)[0].toLowerCase();
    return {
      url: joinUrl(baseUrl.replace("{lang}", lang), "/w/api.php", {
        action: "query",
        list: "search",
        format: "json",
        formatversion: "2",
        srsearch: query.query,
        srlimit: String(PAGE_SIZE),
        sroffset: query.page > 1 ? String((query.page - 1) * PAGE_SIZE) : undefined,
        srprop: "snippet",
        utf8: "1",
      }),
      headers: { "user-agent": "a3s-search/0.1 (https://github.com/A3S-Lab)" },
    };
  },
  parse(response) {
    checkStatus("wikipedia", response);
    let answer: z.infer<typeof ApiAnswer>;
    try {
      answer = ApiAnswer.parse(JSON.parse(response.body));
    } catch (error) {
      throw new EngineError("parse_error", `wikipedia answered no search JSON: ${error}`);
    }
    if (answer.error) {
      const code = answer.error.code === "ratelimited" ? "rate_limited" : "http_error";
      throw new EngineError(code, `wikipedia: ${answer.error.code} ${answer.error.info ?? ""}`);
    }
    const origin = new URL(response.url).origin;
    return numbered(
      "wikipedia",
      (answer.query?.search ?? []).map((hit) => ({
        url: `${origin}/wiki/${encodeURIComponent(hit.title.replaceAll(" ", "_"))}`,
        title: hit.title,
        snippet: stripTags(hit.snippet),
      })),
    );
  },
};
