/** `grep`: regex search over workspace files with ripgrep's main options. */
import { z } from "zod";
import { globToRegExp } from "../runtime/glob.ts";
import { defineTool, ToolError } from "./tool.ts";
import { readTextIfSmall, walkFiles } from "./_walk.ts";

export const grepTool = defineTool({
  name: "grep",
  description:
    "Search file contents with a regular expression. output_mode: content (matching lines), files_with_matches, or count.",
  effect: "read",
  input: z.object({
    pattern: z.string().min(1).describe("JavaScript regular expression"),
    path: z.string().default(".").describe("file or folder to search"),
    glob: z.string().optional().describe("only files matching this glob, such as *.ts"),
    ignore_case: z.boolean().default(false),
    output_mode: z.enum(["content", "files_with_matches", "count"]).default("content"),
    context: z.number().int().min(0).max(20).default(0).describe(
      "lines of context around each match",
    ),
    max_results: z.number().int().positive().max(5000).default(200),
  }),
  subject: (input) => input.path,
  async run(input, ctx) {
    let re: RegExp;
    try {
      re = new RegExp(input.pattern, input.ignore_case ? "i" : "");
    } catch (error) {
      throw new ToolError(`bad pattern: ${(error as Error).message}`);
    }
    const root = ctx.workspace.resolve(input.path);
    const info = await Deno.stat(root).catch(() => undefined);
    if (!info) throw new ToolError(`not found: ${input.path}`);
    const fileGlob = input.glob ? globToRegExp(input.glob) : undefined;
    const files = info.isFile ? [root] : walkFiles(root, ctx.signal);
    const out: string[] = [];
    let results = 0;
    for await (const file of files) {
      const rel = ctx.workspace.relative(file);
      if (fileGlob && !fileGlob.test(rel) && !fileGlob.test(rel.split("/").pop()!)) continue;
      const text = await readTextIfSmall(file);
      if (text === undefined) continue;
      const lines = text.split("\n");
      const hits: number[] = [];
      lines.forEach((line, i) => {
        if (re.test(line)) hits.push(i);
      });
      if (!hits.length) continue;
      if (input.output_mode === "files_with_matches") {
        out.push(rel);
        results++;
      } else if (input.output_mode === "count") {
        out.push(`${rel}:${hits.length}`);
        results++;
      } else {
        const shown = new Set<number>();
        for (const h of hits) {
          for (
            let k = Math.max(0, h - input.context);
            k <= Math.min(lines.length - 1, h + input.context);
            k++
          ) {
            if (shown.has(k)) continue;
            shown.add(k);
            out.push(`${rel}:${k + 1}${hits.includes(k) ? ":" : "-"}${lines[k]}`);
          }
          results++;
          if (results >= input.max_results) break;
        }
      }
      if (results >= input.max_results) {
        out.push(`(stopped at ${input.max_results} results)`);
        break;
      }
    }
    return out.join("\n") || "no matches";
  },
});
