/** `glob`: files whose workspace-relative path matches a pattern, newest first. */
import { workspaceFiles } from "../runtime/fs_guard.ts";
import { z } from "zod";
import { globToRegExp } from "../runtime/glob.ts";
import { defineTool, ToolError } from "./tool.ts";
import { fileError, readableFilter, walkFiles } from "./_walk.ts";
import { checkPattern, PatternMatcher } from "./fs_match.ts";

/** Paths sent to the matching worker at a time. */
const BATCH = 2_000;

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
    let re: RegExp;
    try {
      re = globToRegExp(input.pattern.replace(/^\.\//, ""));
    } catch (error) {
      throw new ToolError(`bad glob: ${(error as Error).message}`);
    }
    checkPattern(re.source, re.flags, "bad glob");
    let base: string;
    try {
      base = workspaceFiles(ctx.workspace).stat(input.path).rel;
    } catch (error) {
      throw fileError(error, { missing: `not found: ${input.path}` });
    }
    const readable = readableFilter(ctx.services);
    // Matching runs in a worker the call's timeout terminates, in linear time.
    const matcher = PatternMatcher.start(ctx.signal);
    try {
      const compiled = await matcher.compile(re.source, re.flags);
      const found: { rel: string; mtime: number }[] = [];
      let batch: { rel: string; fromBase: string; mtime: number }[] = [];
      const flush = async () => {
        const hits = await matcher.test(compiled, batch.map((f) => f.fromBase));
        batch.forEach((f, i) => {
          if (hits[i]) found.push({ rel: f.rel, mtime: f.mtime });
        });
        batch = [];
      };
      for await (const file of walkFiles(ctx.workspace, input.path, ctx.signal)) {
        if (!readable(file.rel)) continue;
        const info = file.stat();
        if (!info) continue;
        const fromBase = base === "." ? file.rel : file.rel.slice(base.length + 1);
        batch.push({ rel: file.rel, fromBase, mtime: info.mtimeMs });
        if (batch.length >= BATCH) await flush();
      }
      if (batch.length) await flush();
      found.sort((a, b) => b.mtime - a.mtime || a.rel.localeCompare(b.rel));
      if (!found.length) return "no files match";
      const shown = found.slice(0, input.limit).map((f) => f.rel);
      return shown.join("\n") +
        (found.length > input.limit ? `\n(${found.length - input.limit} more)` : "");
    } finally {
      matcher.close();
    }
  },
});
