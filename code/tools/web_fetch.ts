/** `web_fetch`: a URL's content as markdown, through the fetch policy and the taint check. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";
import { htmlToMarkdown } from "./_html.ts";

export const webFetchTool = defineTool({
  name: "web_fetch",
  description:
    "Fetch a URL (http or https). HTML is converted to markdown; other text is returned as is.",
  effect: "network",
  input: z.object({
    url: z.string().url(),
    max_chars: z.number().int().positive().max(200_000).default(20_000),
  }),
  subject: (input) => input.url,
  timeoutMs: 30_000,
  async run(input, ctx) {
    const url = new URL(input.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ToolError("only http and https URLs");
    }
    ctx.services.checkEgress(input.url, "web_fetch");
    let res: Response;
    try {
      res = await ctx.services.fetchUrl(url, ctx.signal);
    } catch (error) {
      // The policy's refusals read the same whatever the reason; the server log has details.
      throw new ToolError(`${url.href}: ${(error as Error).message}`);
    }
    const type = res.headers.get("content-type") ?? "";
    const body = await res.text();
    if (!res.ok) throw new ToolError(`HTTP ${res.status} from ${url.href}: ${body.slice(0, 300)}`);
    const text = type.includes("html") || /^\s*<(!doctype|html)/i.test(body)
      ? htmlToMarkdown(body)
      : body;
    return text.length > input.max_chars
      ? `${text.slice(0, input.max_chars)}\n[... truncated at ${input.max_chars} characters]`
      : text;
  },
});
