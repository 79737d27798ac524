/** `patch`: apply a unified diff (one or more files; creation and deletion included). */
import { workspaceFiles } from "../runtime/fs_guard.ts";
import { z } from "zod";
import { applyPatch, parsePatch } from "diff";
import { defineTool, ToolError } from "./tool.ts";
import { decodeText, fileError } from "./_walk.ts";

/** The largest file a patch reads. */
const MAX_PATCH_BYTES = 20_000_000;

function stripPrefix(name: string | undefined): string | undefined {
  if (!name || name === "/dev/null") return undefined;
  return name.replace(/^[ab]\//, "").replace(/\t.*$/, "");
}

/**
 * Every path the diff names, old and new, deletions included, in order and without repeats:
 * what `run` reads, writes, creates or deletes. A diff the parser cannot read (which changes
 * nothing) is named by its `---`/`+++` lines.
 */
export function patchPaths(patch: string): string[] {
  let names: (string | undefined)[];
  try {
    names = parsePatch(patch).flatMap((file) => [file.oldFileName, file.newFileName]);
  } catch {
    names = [...patch.matchAll(/^(?:---|\+\+\+) (.+)$/gm)].map((m) => m[1].trim());
  }
  const paths: string[] = [];
  for (const name of names) {
    const path = stripPrefix(name);
    if (path && !paths.includes(path)) paths.push(path);
  }
  return paths;
}

export const patchTool = defineTool({
  name: "patch",
  description:
    "Apply a unified diff (as `diff -u` or `git diff` print it) to files in the workspace.",
  effect: "write",
  input: z.object({ patch: z.string().min(1).describe("the unified diff text") }),
  // Every file it reads, writes, creates or deletes is a subject; the first one stands for the
  // call where a single subject is shown.
  subject: (input) => patchPaths(input.patch)[0],
  subjects: (input) => patchPaths(input.patch),
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
    const workspace = workspaceFiles(ctx.workspace);
    // Check every file applies before writing any, so a failing patch changes nothing.
    const writes: { path: string; content: string | undefined; label: string }[] = [];
    for (const file of files) {
      const oldName = stripPrefix(file.oldFileName);
      const newName = stripPrefix(file.newFileName);
      const target = newName ?? oldName;
      if (!target) throw new ToolError("a file in the diff has no name");
      let before = "";
      if (oldName) {
        const read = await workspace.readFile(oldName, {
          maxBytes: MAX_PATCH_BYTES,
          signal: ctx.signal,
        }).catch((error) => {
          throw fileError(error, { missing: `file not found: ${oldName}` });
        });
        const text = decodeText(read.bytes);
        if (text === undefined) throw new ToolError(`${oldName} is binary or too large to patch`);
        before = text;
      }
      const after = applyPatch(before, file);
      if (after === false) {
        throw new ToolError(`hunks do not apply to ${target}; read the file and make a fresh diff`);
      }
      writes.push({ path: target, content: newName ? after : undefined, label: target });
    }
    for (const w of writes) {
      ctx.signal.throwIfAborted();
      if (w.content === undefined) {
        try {
          workspace.remove(w.path);
        } catch (error) {
          throw fileError(error, { missing: `file not found: ${w.path}` });
        }
      } else {
        await workspace.writeFile(w.path, new TextEncoder().encode(w.content), {
          signal: ctx.signal,
        }).catch((error) => {
          throw fileError(error, { missing: `cannot create ${w.path}` });
        });
      }
    }
    return `patched ${
      writes.map((w) => (w.content === undefined ? `${w.label} (deleted)` : w.label)).join(", ")
    }`;
  },
});
