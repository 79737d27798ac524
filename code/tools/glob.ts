/** `glob`: files whose workspace-relative path matches a pattern, newest first. */
import { z } from "zod";
import { globToRegExp } from "../runtime/glob.ts";
import { defineTool } from "./tool.ts";
import { walkFiles } from "./_walk.ts";

export const globTool = defineTool({
  name: "glob",
  description: "Find files by glob pattern (such as **/*.ts or src/{a,b}/*.md), newest first.",
  effect: "read",
  input: z.object({
    pattern: z.string().min(1),
    path: z.string().default(".").describe("folder to search from"),
    limit: z.number().int().positive().max(1000).default(200),
  }),
  subject: (input) => input.path,
  async run(input, ctx) {
    const root = ctx.workspace.resolve(input.path);
    const re = globToRegExp(input.pattern.replace(/^\.\//, ""));
    const found: { rel: string; mtime: number }[] = [];
    const base = ctx.workspace.relative(root);
    for await (const file of walkFiles(root, ctx.signal)) {
      const rel = ctx.workspace.relative(file);
      const fromBase = base === "." ? rel : rel.slice(base.length + 1);
      if (re.test(fromBase)) {
        found.push({ rel, mtime: (await Deno.stat(file)).mtime?.getTime() ?? 0 });
      }
    }
    found.sort((a, b) => b.mtime - a.mtime || a.rel.localeCompare(b.rel));
    if (!found.length) return "no files match";
    const shown = found.slice(0, input.limit).map((f) => f.rel);
    return shown.join("\n") +
      (found.length > input.limit ? `\n(${found.length - input.limit} more)` : "");
  },
});
