/** `ls`: a folder's entries, folders first, with sizes. */
import { join } from "node:path";
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

export const lsTool = defineTool({
  name: "ls",
  description: "List a folder in the workspace: folders end with /, files show their size.",
  effect: "read",
  input: z.object({ path: z.string().default(".").describe("folder, relative to the workspace") }),
  subject: (input) => input.path,
  async run(input, ctx) {
    const dir = ctx.workspace.resolve(input.path);
    const info = await Deno.stat(dir).catch(() => undefined);
    if (!info) throw new ToolError(`not found: ${input.path}`);
    if (!info.isDirectory) throw new ToolError(`${input.path} is a file; use read`);
    const dirs: string[] = [];
    const files: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) dirs.push(`${entry.name}/`);
      else {
        const size = entry.isFile ? (await Deno.lstat(join(dir, entry.name))).size : 0;
        files.push(entry.isSymlink ? `${entry.name}@` : `${entry.name} (${size} bytes)`);
      }
    }
    dirs.sort();
    files.sort();
    return [...dirs, ...files].join("\n") || "(empty folder)";
  },
});
