/** `ls`: a folder's entries, folders first, with sizes. */
import { z } from "zod";
import { FileKindError, workspaceFiles } from "../runtime/fs_guard.ts";
import { defineTool, ToolError } from "./tool.ts";

export const lsTool = defineTool({
  name: "ls",
  description: "List a folder in the workspace: folders end with /, files show their size.",
  effect: "read",
  input: z.object({ path: z.string().default(".").describe("folder, relative to the workspace") }),
  subject: (input) => input.path,
  async run(input, ctx) {
    // Listed through the folder opened beneath the workspace root; entries are not followed.
    const listing = await workspaceFiles(ctx.workspace).list(input.path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) throw new ToolError(`not found: ${input.path}`);
      if (error instanceof FileKindError) {
        throw new ToolError(
          error.kind === "file" ? `${input.path} is a file; use read` : error.message,
        );
      }
      throw error;
    });
    const dirs: string[] = [];
    const files: string[] = [];
    for (const entry of listing.entries) {
      if (entry.kind === "directory") dirs.push(`${entry.name}/`);
      else if (entry.kind === "symlink") files.push(`${entry.name}@`);
      else files.push(`${entry.name} (${entry.size} bytes)`);
    }
    dirs.sort();
    files.sort();
    return [...dirs, ...files].join("\n") || "(empty folder)";
  },
});
