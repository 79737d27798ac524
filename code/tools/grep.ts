/** `grep`: regex search over workspace files with ripgrep's main options. */
import { z } from "zod";
import { type WalkedFile, workspaceFiles } from "../runtime/fs_guard.ts";
import { globToRegExp } from "../runtime/glob.ts";
import { defineTool, ToolError } from "./tool.ts";
import { decodeText, fileError, readableFilter, walkFiles } from "./_walk.ts";
import { checkPattern, PatternMatcher } from "./fs_match.ts";

/** The largest file searched; larger ones are skipped. */
const MAX_GREP_BYTES = 2_000_000;

export const grepTool = defineTool({
  name: "grep",
  description:
    "Search file contents with a regular expression. output_mode: content (matching lines), files_with_matches, or count.",
  effect: "read",
  input: z.object({
    pattern: z.string().min(1).describe(
      "JavaScript regular expression (no lookaround or backreferences)",
    ),
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
    const flags = input.ignore_case ? "i" : "";
    checkPattern(input.pattern, flags, "bad pattern");
    let fileGlob: RegExp | undefined;
    if (input.glob) {
      try {
        fileGlob = globToRegExp(input.glob);
      } catch (error) {
        throw new ToolError(`bad glob: ${(error as Error).message}`);
      }
      checkPattern(fileGlob.source, fileGlob.flags, "bad glob");
    }
    const workspace = workspaceFiles(ctx.workspace);
    let info;
    try {
      info = workspace.stat(input.path);
    } catch (error) {
      throw fileError(error, { missing: `not found: ${input.path}` });
    }
    const readable = readableFilter(ctx.services);
    // Matching runs in a worker the call's timeout terminates, in linear time.
    const matcher = PatternMatcher.start(ctx.signal);
    try {
      const re = await matcher.compile(input.pattern, flags);
      const globRe = fileGlob ? await matcher.compile(fileGlob.source, fileGlob.flags) : undefined;
      const files: AsyncIterable<WalkedFile> | WalkedFile[] = info.kind === "file"
        ? [{
          rel: info.rel,
          name: info.rel.split("/").pop()!,
          stat: () => info,
          read: async (maxBytes, signal) =>
            (await workspace.readFile(input.path, { maxBytes, signal })).bytes,
        }]
        : walkFiles(ctx.workspace, input.path, ctx.signal);
      const out: string[] = [];
      let results = 0;
      for await (const file of files) {
        const rel = file.rel;
        if (!readable(rel)) continue;
        if (globRe && !(await matcher.test(globRe, [rel, file.name])).some(Boolean)) continue;
        const text = decodeText(await file.read(MAX_GREP_BYTES, ctx.signal));
        if (text === undefined) continue;
        const hits = await matcher.lines(re, text);
        if (!hits.length) continue;
        if (input.output_mode === "files_with_matches") {
          out.push(rel);
          results++;
        } else if (input.output_mode === "count") {
          out.push(`${rel}:${hits.length}`);
          results++;
        } else {
          const lines = text.split("\n");
          const hit = new Set(hits);
          const shown = new Set<number>();
          for (const h of hits) {
            for (
              let k = Math.max(0, h - input.context);
              k <= Math.min(lines.length - 1, h + input.context);
              k++
            ) {
              if (shown.has(k)) continue;
              shown.add(k);
              out.push(`${rel}:${k + 1}${hit.has(k) ? ":" : "-"}${lines[k]}`);
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
    } finally {
      matcher.close();
    }
  },
});
