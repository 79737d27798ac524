/**
 * Workspace confinement: every path a tool touches resolves inside the root, symlinks included.
 * The file tools read and write through `workspaceFiles(workspace)` (`fs_guard.ts`), which opens
 * each path beneath the root without following a symlink out of it, so a concurrent change in
 * the workspace cannot send them elsewhere.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { PathEscapeError } from "./fs_guard.ts";

export { FileKindError, PathEscapeError } from "./fs_guard.ts";

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The folder an agent works in.
 *
 * @example
 * ```ts
 * import { Workspace } from "./workspace.ts";
 * const ws = Workspace.open(Deno.cwd());
 * console.log(ws.resolve("src/../README.md"));
 * ```
 */
export class Workspace {
  private constructor(readonly root: string) {}

  /** Opens `dir` (created when missing), keeping its real path as the root. */
  static open(dir: string): Workspace {
    Deno.mkdirSync(dir, { recursive: true });
    return new Workspace(Deno.realPathSync(dir));
  }

  /**
   * The absolute path of `path` (relative to the root, or absolute), after checking that it
   * and the real path of its nearest existing ancestor stay inside the root. The answer names a
   * path for messages, rules and commands run in the sandbox; it is only true when asked, so
   * host-side reads and writes go through `workspaceFiles` (`fs_guard.ts`) instead.
   */
  resolve(path: string): string {
    const abs = isAbsolute(path) ? resolve(path) : resolve(this.root, path);
    if (!inside(this.root, abs)) throw new PathEscapeError(path);
    // Follow symlinks on the part that exists: a link inside may point outside.
    let probe = abs;
    let rest = "";
    while (true) {
      try {
        const real = Deno.realPathSync(probe);
        const full = rest ? join(real, rest) : real;
        if (!inside(this.root, full)) throw new PathEscapeError(path);
        return full;
      } catch (error) {
        if (error instanceof PathEscapeError) throw error;
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        const parent = dirname(probe);
        if (parent === probe) throw new PathEscapeError(path);
        rest = rest ? join(probe.slice(parent.length + 1), rest) : probe.slice(parent.length + 1);
        probe = parent;
      }
    }
  }

  /** `path` relative to the root, with `/` separators, for messages and rule matching. */
  relative(abs: string): string {
    return relative(this.root, abs).split(sep).join("/") || ".";
  }
}
