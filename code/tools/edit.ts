/** `edit`: exact-string replacement that insists on a unique match unless told otherwise. */
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";

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
    const path = ctx.workspace.resolve(input.path);
    const text = await Deno.readTextFile(path).catch(() => {
      throw new ToolError(`file not found: ${input.path}`);
    });
    const n = count(text, input.old_string);
    if (n === 0) throw new ToolError(`old_string not found in ${input.path}`);
    if (n > 1 && !input.replace_all) {
      throw new ToolError(
        `old_string matches ${n} times in ${input.path}; add context to make it unique or set replace_all`,
      );
    }
    const next = input.replace_all
      ? text.split(input.old_string).join(input.new_string)
      : text.replace(input.old_string, () => input.new_string);
    await Deno.writeTextFile(path, next);
    return `edited ${ctx.workspace.relative(path)}: ${input.replace_all ? n : 1} replacement${
      (input.replace_all ? n : 1) === 1 ? "" : "s"
    }`;
  },
});
