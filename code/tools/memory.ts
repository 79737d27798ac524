/** `memory`: save, search, list and delete long-term notes for this project or this user. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const memoryTool = defineTool({
  name: "memory",
  description:
    "Long-term memory across sessions. save a fact (scope project or user), search by keywords, list recent, or delete by id.",
  // Saving and deleting change what every later session reads: a write, asked about where
  // writes are. Rules can tell the actions apart by subject: memory(search), memory(save)...
  effect: "write",
  effectOf: (input) => (input.action === "search" || input.action === "list" ? "read" : "write"),
  input: z.object({
    action: z.enum(["save", "search", "list", "delete"]),
    content: z.string().optional().describe("what to remember (save)"),
    query: z.string().optional().describe("keywords (search)"),
    tags: z.array(z.string()).default([]),
    scope: z.enum(["project", "user"]).optional(),
    id: z.string().optional().describe("record id (delete)"),
    limit: z.number().int().positive().max(100).default(10),
  }),
  subject: (input) => input.action,
  async run(input, ctx) {
    const memory = ctx.services.memory;
    if (!memory) throw new ToolError("memory is off for this agent");
    switch (input.action) {
      case "save": {
        if (!input.content) throw new ToolError("content is required to save");
        // Stored beyond the session: secrets and tainted values are masked first.
        const redact = ctx.services.redact ?? ((text: string) => text);
        const record = await memory.save(
          input.scope ?? "project",
          redact(input.content),
          input.tags.map(redact),
        );
        return `saved ${record.id} (${record.scope})`;
      }
      case "delete":
        if (!input.id) throw new ToolError("id is required to delete");
        return (await memory.remove(input.id)) ? `deleted ${input.id}` : `no record ${input.id}`;
      default: {
        if (input.action === "search" && !input.query) {
          throw new ToolError("query is required to search");
        }
        const records = input.action === "search"
          ? await memory.search(input.query!, { scope: input.scope, limit: input.limit })
          : await memory.list({ scope: input.scope, limit: input.limit });
        return records.map((r) =>
          `${r.id} [${r.scope}${r.tags.length ? `; ${r.tags.join(", ")}` : ""}] ${r.content}`
        ).join("\n") || "nothing found";
      }
    }
  },
});
