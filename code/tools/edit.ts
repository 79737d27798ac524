/** `edit`: exact-string replacement that insists on a unique match unless told otherwise. */
import { workspaceFiles } from "../runtime/fs_guard.ts";
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";
import { fileError } from "./_walk.ts";

/** The largest file `edit` changes. */
const MAX_EDIT_BYTES = 20_000_000;

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) {
    n++;
  }
  return n;
}

export const editTool = defineTool({
  name: "edit",
  description:
    "Replace an exact string in a file. old_string must match exactly once (include surrounding lines to make it unique), or set replace_all.",
  effect: "write",
  input: z.object({
    path: z.string().min(1),
    old_string: z.string().min(1),
    new_string: z.string(),
    replace_all: z.boolean().default(false),
  }),
  subject: (input) => input.path,
  async run(input, ctx) {
    if (input.old_string === input.new_string) {
      throw new ToolError("old_string and new_string are the same");
    }
    let n = 0;
    // Read and rewritten through one descriptor, opened beneath the workspace root.
    const { rel } = await workspaceFiles(ctx.workspace).updateFile(input.path, (bytes) => {
      const text = new TextDecoder().decode(bytes);
      n = count(text, input.old_string);
      if (n === 0) throw new ToolError(`old_string not found in ${input.path}`);
      if (n > 1 && !input.replace_all) {
        throw new ToolError(
          `old_string matches ${n} times in ${input.path}; add context to make it unique or set replace_all`,
        );
      }
      const next = input.replace_all
        ? text.split(input.old_string).join(input.new_string)
        : text.replace(input.old_string, () => input.new_string);
      return new TextEncoder().encode(next);
    }, { maxBytes: MAX_EDIT_BYTES, signal: ctx.signal }).catch((error) => {
      if (error instanceof ToolError) throw error;
      throw fileError(error, {
        missing: `file not found: ${input.path}`,
        directory: `${input.path} is a directory`,
      });
    });
    const replaced = input.replace_all ? n : 1;
    return `edited ${rel}: ${replaced} replacement${replaced === 1 ? "" : "s"}`;
  },
});
