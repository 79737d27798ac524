/** `read`: a file's lines, numbered, with offset and limit for large files. */
import { workspaceFiles } from "../runtime/fs_guard.ts";
import { z } from "zod";
import { defineTool, ToolError } from "./tool.ts";
import { decodeText, fileError } from "./_walk.ts";

/** The largest file `read` loads. */
const MAX_READ_BYTES = 20_000_000;

export const readTool = defineTool({
  name: "read",
  description:
    "Read a text file and return its contents. Lines come numbered; use offset/limit for large files.",
  effect: "read",
  input: z.object({
    path: z.string().min(1).describe("Path of the file, relative to the workspace"),
    offset: z.number().int().min(1).optional().describe("first line, from 1"),
    limit: z.number().int().positive().optional().describe("number of lines"),
  }),
  subject: (input) => input.path,
  async run(input, ctx) {
    // Opened beneath the workspace root, a regular file only (never a FIFO or a device).
    const file = await workspaceFiles(ctx.workspace).readFile(input.path, {
      maxBytes: MAX_READ_BYTES,
      signal: ctx.signal,
    }).catch((error) => {
      throw fileError(error, {
        missing: `file not found: ${input.path}`,
        directory: `${input.path} is a directory; use ls`,
      });
    });
    if (file.bytes === undefined) {
      throw new ToolError(
        `${input.path} is too large to read (${file.size} bytes; the limit is ${MAX_READ_BYTES}); use grep or bash to look into it`,
      );
    }
    const text = decodeText(file.bytes);
    if (text === undefined) throw new ToolError(`${input.path} is a binary file`);
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const start = (input.offset ?? 1) - 1;
    const end = input.limit ? start + input.limit : lines.length;
    if (lines.length && start >= lines.length) {
      throw new ToolError(`offset ${input.offset} is past the end (${lines.length} lines)`);
    }
    const width = String(Math.min(end, lines.length)).length;
    const body = lines.slice(start, end).map((line, i) =>
      `${String(start + i + 1).padStart(width)}\t${line}`
    ).join("\n");
    const more = end < lines.length
      ? `\n(${lines.length - end} more lines; read with offset=${end + 1})`
      : "";
    return (body || "(empty file)") + more;
  },
});
