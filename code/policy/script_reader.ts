/**
 * The script files a checked command runs, read from the session's workspace: `sh run.sh` runs
 * what an earlier `write` put there, and safeclaw checks it like the command line itself.
 */
import { join } from "node:path";
import type { Workspace } from "../runtime/workspace.ts";

/** The most of a script that is read: a larger file is checked by its first part. */
const MAX_SCRIPT_BYTES = 256 * 1024;

/**
 * A reader of the scripts a command run in `cwd` (relative to the workspace) names; a path
 * outside the workspace, or one that cannot be read, gives undefined.
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
      const resolved = workspace.resolve(path.startsWith("/") ? path : join(cwd, path));
      using file = Deno.openSync(resolved, { read: true });
      const buffer = new Uint8Array(MAX_SCRIPT_BYTES);
      let filled = 0;
      for (let n: number | null = 0; n !== null && filled < buffer.length;) {
        n = file.readSync(buffer.subarray(filled));
        if (n !== null) filled += n;
      }
      return new TextDecoder().decode(buffer.subarray(0, filled));
    } catch {
      return undefined;
    }
  };
}
