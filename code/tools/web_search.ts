/** `web_search`: the configured search backend's results as a numbered list. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const webSearchTool = defineTool({
  name: "web_search",
  description:
    "Search the web (or the configured search backend). Returns titles, URLs and snippets.",
  effect: "network",
  input: z.object({
    query: z.string().min(1),
    limit: z.number().int().positive().max(50).default(8),
  }),
  subject: (input) => input.query,
  timeoutMs: 30_000,
  async run(input, ctx) {
    const search = ctx.services.search;
    if (!search) throw new ToolError("no search backend is configured for this agent");
    ctx.services.checkEgress(input.query, "web_search");
    const hits = await search(input.query, { limit: input.limit, signal: ctx.signal });
    if (!hits.length) return "no results";
    return hits.slice(0, input.limit).map((h, i) =>
      `${i + 1}. ${h.title}\n   ${h.url}\n   ${h.snippet}`
    ).join("\n");
  },
});
