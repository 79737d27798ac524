/** `patch`: apply a unified diff (one or more files; creation and deletion included). */
import { dirname } from "node:path";
import { z } from "zod";
import { applyPatch, parsePatch } from "diff";
import { defineTool, ToolError } from "./tool.ts";

function stripPrefix(name: string | undefined): string | undefined {
  if (!name || name === "/dev/null") return undefined;
  return name.replace(/^[ab]\//, "").replace(/\t.*$/, "");
}

export const patchTool = defineTool({
  name: "patch",
  description:
    "Apply a unified diff (as `diff -u` or `git diff` print it) to files in the workspace.",
  effect: "write",
  input: z.object({ patch: z.string().min(1).describe("the unified diff text") }),
  subject: (input) => (/^\+\+\+ (?:b\/)?(\S+)/m.exec(input.patch)?.[1]),
  async run(input, ctx) {
    let files;
    try {
      files = parsePatch(input.patch);
    } catch (error) {
      throw new ToolError(`cannot parse the diff: ${(error as Error).message}`);
    }
    if (!files.length || files.every((f) => !f.hunks.length)) {
      throw new ToolError("the diff has no hunks");
    }
    // Check every file applies before writing any, so a failing patch changes nothing.
    const writes: { path: string; content: string | undefined; label: string }[] = [];
    for (const file of files) {
      const oldName = stripPrefix(file.oldFileName);
      const newName = stripPrefix(file.newFileName);
      const target = newName ?? oldName;
      if (!target) throw new ToolError("a file in the diff has no name");
      const path = ctx.workspace.resolve(target);
      const before = oldName
        ? await Deno.readTextFile(ctx.workspace.resolve(oldName)).catch(() => undefined)
        : "";
      if (before === undefined) throw new ToolError(`file not found: ${oldName}`);
      const after = applyPatch(before, file);
      if (after === false) {
        throw new ToolError(`hunks do not apply to ${target}; read the file and make a fresh diff`);
      }
      writes.push({ path, content: newName ? after : undefined, label: target });
    }
    for (const w of writes) {
      if (w.content === undefined) await Deno.remove(w.path);
      else {
        await Deno.mkdir(dirname(w.path), { recursive: true });
        await Deno.writeTextFile(w.path, w.content);
      }
    }
    return `patched ${
      writes.map((w) => (w.content === undefined ? `${w.label} (deleted)` : w.label)).join(", ")
    }`;
  },
});
