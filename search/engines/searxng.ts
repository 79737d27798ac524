/**
 * A SearXNG instance's JSON API (`/search?format=json`), so a user with SearXNG gets all of
 * its engines as one. No default host: it runs only when a base URL is configured.
 */
import { z } from "zod";
import { checkStatus, type EngineAdapter, joinUrl, numbered } from "../engine.ts";
import { stripTags } from "../_html.ts";
import { EngineError } from "../types.ts";

const SAFE = { off: "0", moderate: "1", strict: "2" } as const;

const Answer = z.object({
  results: z.array(z.object({
    url: z.string(),
    title: z.string().default(""),
    content: z.string().nullish(),
  })),
});

export const searxng: EngineAdapter = {
  name: "searxng",
  defaultBaseUrl: "",
  defaultWeight: 1,
  buildRequest(query, baseUrl) {
    return {
      url: joinUrl(baseUrl, "/search", {
        q: query.query,
        format: "json",
        pageno: String(query.page),
        language: query.language ?? "all",
        safesearch: SAFE[query.safeSearch],
        time_range: query.timeRange,
      }),
      headers: { accept: "application/json" },
    };
  },
  parse(response) {
    if (response.status === 403) {
      // SearXNG answers 403 when `search.formats` in its settings.yml lacks json.
      throw new EngineError("http_error", "searxng refused format=json; enable it in settings.yml");
    }
    checkStatus("searxng", response);
    let answer: z.infer<typeof Answer>;
    try {
      answer = Answer.parse(JSON.parse(response.body));
    } catch (error) {
      throw new EngineError("parse_error", `searxng answered no results JSON: ${error}`);
    }
    return numbered(
      "searxng",
      answer.results.map((r) => ({
        url: r.url,
        title: stripTags(r.title),
        snippet: stripTags(r.content ?? ""),
      })),
    );
  },
};
