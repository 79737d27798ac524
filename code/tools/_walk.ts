/**
 * What grep, glob, codesearch and the file tools share: the guarded walk over workspace files
 * (skipping VCS and dependency folders), text decoding, the errors a path gives the model, and
 * the session's read rules applied to the files a search returns.
 */
import { FileKindError, type WalkedFile, workspaceFiles } from "../runtime/fs_guard.ts";
import type { Workspace } from "../runtime/workspace.ts";
import type { ToolServices } from "./services.ts";
import { ToolError } from "./tool.ts";

const SKIPPED = new Set([
  ".git",
  "node_modules",
  ".hg",
  ".svn",
  "target",
  "dist",
  ".worktrees",
  ".venv",
  "__pycache__",
]);

/**
 * The regular files under folder `path` of the workspace, depth first, in name order, not
 * following links; each is opened beneath the folder it was found in, never by its full path.
 */
export function walkFiles(
  workspace: Workspace,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<WalkedFile> {
  return workspaceFiles(workspace).walk(path, { signal, skip: (name) => SKIPPED.has(name) });
}

/** `bytes` as text, or undefined when missing or binary (a NUL in the first 8000 bytes). */
export function decodeText(bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined || bytes.subarray(0, 8000).includes(0)) return undefined;
  return new TextDecoder().decode(bytes);
}

/**
 * A file error as the model should read it: `missing` for a path that does not exist,
 * `directory` for a folder where a file was wanted; other errors pass unchanged.
 */
export function fileError(
  error: unknown,
  messages: { missing: string; directory?: string },
): unknown {
  if (error instanceof Deno.errors.NotFound) return new ToolError(messages.missing);
  if (error instanceof FileKindError) {
    if (error.kind === "directory" && messages.directory) {
      return new ToolError(messages.directory);
    }
    return new ToolError(`${error.message}; only regular files can be used`);
  }
  return error;
}

/**
 * Whether a search may show file `rel` (workspace-relative): not when the session's rules deny
 * `read(rel)` or ask about it by a rule of their own. Everything when the session cannot say.
 */
export function readableFilter(services: ToolServices): (rel: string) => boolean {
  const mayRead = services.mayRead;
  return mayRead ? (rel) => mayRead.call(services, rel) : () => true;
}
