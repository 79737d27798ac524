/** `web_fetch`: a URL's content as markdown, through the fetch policy and the taint check. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";
import { htmlToMarkdown } from "./_html.ts";

/** The most of a body read, whatever `max_chars` asks: 5 MiB. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * The first `limit` bytes of `res`'s body as text; the rest is never read (the body is
 * cancelled), so a huge or endless response costs no more than the limit.
 */
async function readBounded(
  res: Response,
  limit: number,
  signal: AbortSignal,
): Promise<{ text: string; cut: boolean }> {
  if (!res.body) return { text: "", cut: false };
  const reader = res.body.getReader();
  const onAbort = () => reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  let cut = false;
  try {
    while (total < limit) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      const room = limit - total;
      chunks.push(value.length > room ? value.subarray(0, room) : value);
      total += Math.min(value.length, room);
      if (value.length > room) cut = true;
    }
    if (total >= limit) cut = true;
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Whatever is left unread is dropped, not buffered.
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  const text = new TextDecoder().decode(bytes);
  // A character cut at the limit decodes as a replacement character: dropped.
  return { text: cut ? text.replace(/\uFFFD$/, "") : text, cut };
}

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
    // Read no more than the answer can use: max_chars characters take at most 4 bytes each.
    // HTML shrinks a great deal when converted (scripts, styles, markup), so it is read up to
    // the 5 MiB cap; an error page, to its first 4 KiB.
    const limit = Math.min(MAX_BODY_BYTES, input.max_chars * 4);
    const { text: body, cut } = await readBounded(
      res,
      !res.ok ? 4096 : type.includes("html") ? MAX_BODY_BYTES : limit,
      ctx.signal,
    );
    if (!res.ok) throw new ToolError(`HTTP ${res.status} from ${url.href}: ${body.slice(0, 300)}`);
    const text = type.includes("html") || /^\s*<(!doctype|html)/i.test(body)
      ? htmlToMarkdown(body)
      : body;
    return text.length > input.max_chars
      ? `${text.slice(0, input.max_chars)}\n[... truncated at ${input.max_chars} characters]`
      : cut
      ? `${text}\n[... the page is longer; stopped reading it]`
      : text;
  },
});
