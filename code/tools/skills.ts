/** `search_skills` and `load_skill`: only descriptions sit in context until a skill is loaded. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const searchSkillsTool = defineTool({
  name: "search_skills",
  description: "Find skills (packaged instructions) by keyword; load one with load_skill.",
  effect: "read",
  input: z.object({ query: z.string().default("") }),
  run(input, ctx) {
    const words = input.query.toLowerCase().split(/\W+/).filter(Boolean);
    const scored = ctx.services.listSkills().map((s) => {
      const hay = `${s.name} ${s.description}`.toLowerCase();
      return { s, score: words.length ? words.filter((w) => hay.includes(w)).length : 1 };
    }).filter((x) => x.score > 0).sort((a, b) => b.score - a.score);
    return Promise.resolve(
      scored.map(({ s }) => `${s.name}: ${s.description}`).join("\n") || "no skills match",
    );
  },
});

export const loadSkillTool = defineTool({
  name: "load_skill",
  description: "Load a skill's full instructions by name, then follow them.",
  effect: "read",
  input: z.object({ name: z.string().min(1) }),
  subject: (input) => input.name,
  async run(input, ctx) {
    const body = await ctx.services.loadSkill(input.name);
    if (body === undefined) {
      throw new ToolError(
        `no skill '${input.name}'; available: ${
          ctx.services.listSkills().map((s) => s.name).join(", ") || "none"
        }`,
      );
    }
    return body;
  },
});
