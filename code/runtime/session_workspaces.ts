/**
 * The folders sessions of one agent work in, `sessions/<key>-<hash>` of its workspace: made
 * for a session on first use, held to a disk quota, and removed once idle past a time to live.
 * Every driver that keeps sessions apart (box, bubblewrap, process) shares this.
 *
 * Paths are the attack surface here: a session can make symlinks in its own folder, and on the
 * `process` driver write anywhere its user may. So folders are made and checked with `lstat`
 * (a `sessions` folder or a session folder that is a symlink is refused, never followed), the
 * sweep removes only real folders whose real path is where it expects them, and removal itself
 * does not follow links inside (Deno's recursive remove unlinks a symlink, never its target).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Workspace } from "./workspace.ts";
import type { CommandResult, CommandSandbox, RunOptions, SessionEnvironment } from "./sandbox.ts";
import { WorkspaceQuota } from "./workspace_quota.ts";

/** A folder name for a session key: readable where it can be, a hash keeping it unique. */
export function sessionFolder(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_").slice(0, 48);
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 12);
  return `${readable}-${hash}`;
}

/** Names {@linkcode sessionFolder} makes; the sweep touches nothing else in `sessions/`. */
const SESSION_FOLDER = /^[A-Za-z0-9_.-]{1,48}-[0-9a-f]{12}$/;

/** Where the sweep sets a folder aside to remove it (a name no session folder has). */
const SWEPT_FOLDER = /^\.swept-[0-9a-f-]{36}$/;

/** How often idle folders are looked for, at most (and at least every time to live). */
const SWEEP_EVERY_MS = 60 * 60 * 1000;
/** The shortest pause between sweeps, whatever the time to live. */
const MIN_SWEEP_EVERY_MS = 60 * 1000;

/** What {@linkcode SessionWorkspaces} takes. */
export interface SessionWorkspacesOptions {
  /** The agent's workspace (its real path). */
  root: string;
  /** `session`: each session works in `sessions/<key>-<hash>`; `shared`: in the workspace itself (no quota, no sweep). */
  workspace: "session" | "shared";
  /** Bytes one session folder may hold; 0 or unset: no quota. */
  quotaBytes?: number;
  /** How long a session folder may sit unused before it is removed, in ms; 0 or unset: kept. */
  ttlMs?: number;
  /** Hears of a sweep that failed (the next one tries again). */
  onSweepError?: (error: unknown) => void;
}

/**
 * The session folders of one agent, and which are in use. A folder is live from
 * {@linkcode open} to {@linkcode release} and while a command of its session runs; the sweep
 * (at creation, then periodically) never removes a live one, and removes the others once their
 * last use (the folder's mtime, set on each use) is older than the time to live.
 *
 * @example
 * ```ts ignore
 * const folders = new SessionWorkspaces({ root: "/srv/ws", workspace: "session", quotaBytes: 2 ** 30, ttlMs: 7 * 86_400_000 });
 * const { workspace, sandbox } = folders.open("1:telegram:1", (root) => new BubblewrapSandbox(root));
 * ```
 */
export class SessionWorkspaces {
  /** Keys with an environment handed out and not released. */
  readonly #open = new Set<string>();
  /** Commands running, by key. */
  readonly #running = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<string[]> | undefined;
  #closed = false;

  /** The folders under `options.root`; sweeps start now when a time to live is set. */
  constructor(private readonly options: SessionWorkspacesOptions) {
    const ttl = options.ttlMs ?? 0;
    if (options.workspace === "session" && ttl > 0) {
      this.#sweepQuietly();
      this.#timer = setInterval(
        () => this.#sweepQuietly(),
        Math.max(MIN_SWEEP_EVERY_MS, Math.min(SWEEP_EVERY_MS, ttl)),
      );
      // Sweeping alone must not keep the process alive.
      Deno.unrefTimer(this.#timer);
    }
  }

  /** The folder the sessions keyed `key` work in. */
  rootOf(key: string): string {
    return this.options.workspace === "shared"
      ? this.options.root
      : join(this.options.root, "sessions", sessionFolder(key));
  }

  /**
   * The workspace (made now) and sandbox of the sessions keyed `key`; `sandboxOn` makes the
   * sandbox for a folder. In `session` mode the sandbox is held to the quota and counts as live.
   */
  open(key: string, sandboxOn: (root: string) => CommandSandbox): SessionEnvironment {
    if (!key) throw new Error("a session key may not be empty");
    if (this.options.workspace === "shared") {
      const workspace = Workspace.open(this.options.root);
      return { workspace, sandbox: sandboxOn(workspace.root) };
    }
    const workspace = this.#make(key);
    this.#open.add(key);
    this.#touch(workspace.root);
    const quotaBytes = this.options.quotaBytes ?? 0;
    let sandbox = sandboxOn(workspace.root);
    let quota: WorkspaceQuota | undefined;
    if (quotaBytes > 0) {
      quota = new WorkspaceQuota(workspace.root, quotaBytes);
      sandbox = quota.guard(sandbox);
    }
    return { workspace, sandbox: this.#tracked(key, workspace.root, sandbox), quota };
  }

  /** The sessions keyed `key` are done with their folder (it stays until idle past the time to live). */
  release(key: string): void {
    if (!this.#open.delete(key)) return;
    if (this.options.workspace === "session") this.#touch(this.rootOf(key));
  }

  /** True while the folder of `key` may not be swept. */
  isLive(key: string): boolean {
    return this.#open.has(key) || (this.#running.get(key) ?? 0) > 0;
  }

  /**
   * Removes the session folders unused for longer than the time to live, except live ones;
   * returns the names removed. One sweep at a time: a second call joins the one under way.
   */
  sweep(): Promise<string[]> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  /** Stops sweeping (after the sweep under way). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping?.catch(() => {});
  }

  #sweepQuietly(): void {
    this.sweep().catch((error) => this.options.onSweepError?.(error));
  }

  async #sweep(): Promise<string[]> {
    const ttl = this.options.ttlMs ?? 0;
    if (this.options.workspace !== "session" || ttl <= 0) return [];
    const sessions = join(this.options.root, "sessions");
    if (!(await realFolderAt(sessions))) return [];
    // Asked per folder, as late as can be: a session may open while the sweep runs.
    const live = (name: string) =>
      [...this.#open, ...this.#running.keys()].some((key) => sessionFolder(key) === name);
    const removed: string[] = [];
    const cutoff = Date.now() - ttl;
    for await (const entry of Deno.readDir(sessions)) {
      if (this.#closed) break;
      if (!entry.isDirectory) continue;
      const path = join(sessions, entry.name);
      // What an earlier sweep set aside and could not finish removing.
      if (SWEPT_FOLDER.test(entry.name)) {
        if (await realFolderAt(path)) await Deno.remove(path, { recursive: true }).catch(() => {});
        continue;
      }
      if (!SESSION_FOLDER.test(entry.name)) continue;
      const info = await Deno.lstat(path).catch(() => undefined);
      if (!info?.isDirectory || (info.mtime?.getTime() ?? Date.now()) > cutoff) continue;
      // A folder moved or replaced by a link since the listing is not ours to remove.
      if (!(await realFolderAt(sessions)) || !(await realFolderAt(path))) continue;
      // Asked with nothing awaited before the folder is set aside: a session opening meanwhile
      // either keeps it, or finds it gone and makes a new one; never loses it under its feet.
      if (live(entry.name)) continue;
      const aside = join(sessions, `.swept-${crypto.randomUUID()}`);
      try {
        Deno.renameSync(path, aside);
      } catch {
        continue;
      }
      // A link swapped in at the last moment was moved, not followed; removing it unlinks it.
      await Deno.remove(aside, { recursive: true }).catch(() => {});
      removed.push(entry.name);
    }
    return removed;
  }

  /**
   * Makes (or opens) the folder of `key`, refusing a `sessions` folder or a session folder that
   * is a symlink: following one would give the session a workspace outside the agent's.
   */
  #make(key: string): Workspace {
    const sessions = join(this.options.root, "sessions");
    const path = join(sessions, sessionFolder(key));
    for (const dir of [sessions, path]) {
      try {
        Deno.mkdirSync(dir);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const info = Deno.lstatSync(dir);
      if (!info.isDirectory || info.isSymlink) {
        throw new Error(`${dir} is not a folder (a symlink?): refusing to work in it`);
      }
    }
    const workspace = Workspace.open(path);
    if (workspace.root !== path) {
      throw new Error(`${path} resolves to ${workspace.root}: refusing to work outside it`);
    }
    return workspace;
  }

  /** `sandbox`, counting its running commands as uses of `root`. */
  #tracked(key: string, root: string, sandbox: CommandSandbox): CommandSandbox {
    return {
      driver: sandbox.driver,
      run: async (command: string, options: RunOptions): Promise<CommandResult> => {
        this.#running.set(key, (this.#running.get(key) ?? 0) + 1);
        try {
          return await sandbox.run(command, options);
        } finally {
          const left = (this.#running.get(key) ?? 1) - 1;
          if (left > 0) this.#running.set(key, left);
          else this.#running.delete(key);
          this.#touch(root);
        }
      },
    };
  }

  /** Marks `root` used now: its mtime is what the sweep reads. */
  #touch(root: string): void {
    try {
      if (Deno.lstatSync(root).isDirectory) Deno.utimeSync(root, new Date(), new Date());
    } catch {
      // Gone: nothing to keep.
    }
  }
}

/** True when `path` is a folder (not a symlink to one) whose real path is `path` itself. */
async function realFolderAt(path: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    return info.isDirectory && !info.isSymlink && (await Deno.realPath(path)) === path;
  } catch {
    return false;
  }
}
