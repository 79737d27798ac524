/** `task`: hand a self-contained job to a subagent; it works in its own context and reports back. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const taskTool = defineTool({
  name: "task",
  description:
    "Start a subagent (explore, general, plan, or one the agent defines) on a self-contained task. It sees only the prompt you give it and returns a summary. Several task calls in one reply run in parallel.",
  effect: "agent",
  input: z.object({
    agent: z.string().default("general").describe("subagent name"),
    description: z.string().default("").describe("a few words for progress display"),
    prompt: z.string().min(1).describe("everything the subagent needs to know"),
  }),
  subject: (input) => input.agent,
  timeoutMs: 30 * 60_000,
  async run(input, ctx) {
    const names = ctx.services.subagentNames();
    if (!names.includes(input.agent)) {
      throw new ToolError(`no subagent '${input.agent}'; choose one of ${names.join(", ")}`);
    }
    return await ctx.services.runSubagent(input.agent, input.prompt, ctx.signal);
  },
});
