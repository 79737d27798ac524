/**
 * A session folder's disk quota, measured after each command and each file write. Under it, a
 * command runs with its files limited to what the quota has left (`ulimit -f`), so one runaway
 * write (a log loop, a `dd`) stops there instead of filling the disk. Over it, the file tools
 * are refused and commands run with a file size limit of zero: no file can grow, while `rm`,
 * `mv` and truncating still work, so the agent can delete its way back under. A command that
 * writes many files can still overshoot before the measurement after it (by the room left, a
 * file): a bound on every byte needs the filesystem's own quotas.
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
export const OVER_QUOTA_PREFIX = fileSizeLimit(0);

/**
 * What runs before a command whose files may grow to `bytes` each. Blocks are counted in KiB
 * (bash, busybox); a shell that counts 512-byte blocks (dash) allows half, never more.
 */
export function fileSizeLimit(bytes: number): string {
  const blocks = Math.max(0, Math.floor(bytes / 1024));
  return `ulimit -f ${blocks} && trap '' XFSZ || { echo 'a3s: cannot limit file sizes' >&2; exit 125; }\n`;
}

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
  /** Bytes the last measurement found in the folder. */
  #used = 0;

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
        this.#used = u.bytes;
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
        const prefix = before ? OVER_QUOTA_PREFIX : fileSizeLimit(this.limitBytes - this.#used);
        const result = await sandbox.run(prefix + command, options);
        const after = await this.measure();
        if (!after) return result;
        const note =
          `[a3s: ${after}. Files cannot grow and the file tools are refused until you delete files (rm) to get under it.]`;
        return { ...result, stderr: result.stderr ? `${result.stderr.trimEnd()}\n${note}` : note };
      },
    };
  }
}
