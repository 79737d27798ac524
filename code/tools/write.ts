/** `write`: create or overwrite a file, making its folders. */
import { workspaceFiles } from "../runtime/fs_guard.ts";
import { z } from "zod";
import { defineTool } from "./tool.ts";
import { fileError } from "./_walk.ts";

export const writeTool = defineTool({
  name: "write",
  description: "Write text to a file, creating or overwriting it (folders are made as needed).",
  effect: "write",
  input: z.object({
    path: z.string().min(1).describe("Path of the file, relative to the workspace"),
    content: z.string().describe("The text to write"),
  }),
  subject: (input) => input.path,
  async run(input, ctx) {
    const bytes = new TextEncoder().encode(input.content);
    // Folders are made and the file opened beneath the workspace root, never through a symlink
    // out of it; only a regular file is overwritten.
    const { created, rel } = await workspaceFiles(ctx.workspace).writeFile(input.path, bytes, {
      signal: ctx.signal,
    }).catch((error) => {
      throw fileError(error, {
        missing: `cannot create ${input.path}: a folder on its path is missing`,
        directory: `${input.path} is a directory`,
      });
    });
    const lines = input.content
      ? input.content.split("\n").length - (input.content.endsWith("\n") ? 1 : 0)
      : 0;
    return `${created ? "created" : "overwrote"} ${rel} (${lines} lines, ${bytes.length} bytes)`;
  },
});
