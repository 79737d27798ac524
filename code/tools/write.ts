/** `write`: create or overwrite a file, making its folders. */
import { dirname } from "node:path";
import { z } from "zod";
import { defineTool } from "./tool.ts";

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
    const path = ctx.workspace.resolve(input.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    const existed = await Deno.stat(path).then(() => true, () => false);
    await Deno.writeTextFile(path, input.content);
    const lines = input.content
      ? input.content.split("\n").length - (input.content.endsWith("\n") ? 1 : 0)
      : 0;
    return `${existed ? "overwrote" : "created"} ${ctx.workspace.relative(path)} (${lines} lines, ${
      new TextEncoder().encode(input.content).length
    } bytes)`;
  },
});
