/**
 * The script files a checked command runs, read from the session's workspace: `sh run.sh` runs
 * what an earlier `write` put there, and safeclaw checks it like the command line itself.
 */
import { join } from "node:path";
import { workspaceFiles } from "../runtime/fs_guard.ts";
import type { Workspace } from "../runtime/workspace.ts";

/** The most of a script that is read: a larger file is checked by its first part. */
const MAX_SCRIPT_BYTES = 256 * 1024;

/**
 * A reader of the scripts a command run in `cwd` (relative to the workspace) names; a path
 * outside the workspace, or one that cannot be read, gives undefined.
 *
 * Only a regular file is read, opened beneath the workspace root without following a symlink
 * out of it, and non-blocking: a FIFO (or a device, a socket) named like a script gives
 * undefined at once instead of holding the process in open(2). The check is synchronous, so
 * it reads at most the first {@linkcode MAX_SCRIPT_BYTES} bytes of a local file.
 *
 * @example
 * ```ts ignore
 * const read = workspaceScriptReader(workspace, ".");
 * read("run.sh"); // the script's text, or undefined
 * ```
 */
export function workspaceScriptReader(
  workspace: Workspace,
  cwd: string,
): (path: string) => string | undefined {
  return (path) => {
    try {
      const bytes = workspaceFiles(workspace).readHeadSync(
        path.startsWith("/") ? path : join(cwd, path),
        MAX_SCRIPT_BYTES,
      );
      return new TextDecoder().decode(bytes);
    } catch {
      return undefined;
    }
  };
}
