/**
 * A session folder's disk quota, measured after each command and each file write. Over it, the
 * file tools are refused and commands run with a file size limit of zero (`ulimit -f 0`): no
 * file can grow, while `rm`, `mv` and truncating still work, so the agent can delete its way
 * back under. One command can overshoot before the measurement after it; the quota bounds what
 * a session keeps, not what one command writes.
 */
import type { CommandResult, CommandSandbox, RunOptions, SessionQuota } from "./sandbox.ts";
import { diskUsage } from "./disk_usage.ts";

/** Entries a session folder may hold before it counts as over its quota, whatever their size. */
export const MAX_SESSION_ENTRIES = 200_000;

/**
 * What runs before a command while the folder is over its quota: files may not grow (writes
 * fail with "File too large" instead of killing the shell). A shell that cannot set the limit
 * runs nothing.
 */
export const OVER_QUOTA_PREFIX =
  "ulimit -f 0 && trap '' XFSZ || { echo 'a3s: cannot limit file sizes' >&2; exit 125; }\n";

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024) * 10) / 10} MiB`;
}

/**
 * The quota of one session folder.
 *
 * @example
 * ```ts ignore
 * const quota = new WorkspaceQuota("/srv/ws/sessions/1_telegram_1-0123456789ab", 1024 ** 3);
 * const sandbox = quota.guard(new ProcessSandbox());
 * ```
 */
export class WorkspaceQuota implements SessionQuota {
  /** The last measurement's verdict (why the folder is over, or undefined); none before the first. */
  #over: Promise<string | undefined> | undefined;

  /** The quota of `root`, at most `limitBytes` bytes and `maxEntries` entries. */
  constructor(
    readonly root: string,
    readonly limitBytes: number,
    readonly maxEntries: number = MAX_SESSION_ENTRIES,
  ) {}

  /**
   * Why the session may not write now, from the last measurement (waiting for one under way);
   * the first call measures, as a folder kept from before may already be over.
   */
  exceeded(): Promise<string | undefined> {
    return this.#over ?? this.measure();
  }

  /** Measures the folder again; says why it is over its quota, if it is. */
  measure(): Promise<string | undefined> {
    this.#over = diskUsage(this.root, { bytes: this.limitBytes, entries: this.maxEntries })
      .then((u) => {
        if (u.entries > this.maxEntries) {
          return `this session's workspace holds more than ${this.maxEntries} files and folders, its limit`;
        }
        if (u.bytes > this.limitBytes) {
          return `this session's workspace uses ${u.complete ? "" : "more than "}${
            mib(u.bytes)
          } of its ${mib(this.limitBytes)} quota`;
        }
        return undefined;
      })
      .catch(() => undefined);
    return this.#over;
  }

  /**
   * `sandbox` under this quota: while over it, commands run with files unable to grow; after
   * each command the folder is measured, and the model reads the verdict with the output.
   */
  guard(sandbox: CommandSandbox): CommandSandbox {
    return {
      driver: sandbox.driver,
      run: async (command: string, options: RunOptions): Promise<CommandResult> => {
        const before = await this.exceeded();
        const result = await sandbox.run(before ? OVER_QUOTA_PREFIX + command : command, options);
        const after = await this.measure();
        if (!after) return result;
        const note =
          `[a3s: ${after}. Files cannot grow and the file tools are refused until you delete files (rm) to get under it.]`;
        return { ...result, stderr: result.stderr ? `${result.stderr.trimEnd()}\n${note}` : note };
      },
    };
  }
}
