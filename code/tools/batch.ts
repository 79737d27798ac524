/** `batch`: several independent tool calls at once, each permission-checked on its own. */
import { z } from "zod";
import { defineTool } from "./tool.ts";

export const batchTool = defineTool({
  name: "batch",
  description: "Run several independent tool calls in parallel and get all their results.",
  effect: "read",
  input: z.object({
    calls: z.array(z.object({
      tool: z.string().min(1),
      input: z.record(z.string(), z.unknown()).default({}),
    })).min(1).max(25),
  }),
  timeoutMs: 10 * 60_000,
  async run(input, ctx) {
    const results = await Promise.all(
      input.calls.map((call) =>
        call.tool === "batch"
          ? Promise.resolve({ content: "Error: batch cannot nest", isError: true })
          : ctx.services.runToolCall(call.tool, call.input, ctx.signal)
      ),
    );
    return results.map((r, i) =>
      `## ${i + 1}. ${input.calls[i].tool}${r.isError ? " (error)" : ""}\n${r.content}`
    ).join("\n\n");
  },
});
