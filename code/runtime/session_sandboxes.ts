/**
 * A folder per session for the `bwrap` and `process` drivers, as the `box` driver gives one:
 * with `workspace = "session"` each session works in `sessions/<key>-<hash>` of the agent's
 * workspace, under its quota and time to live. Under bubblewrap the rest of the workspace is
 * hidden from the session's commands (the host is mounted read-only, so without that another
 * session's files would be readable); a plain process isolates nothing, so there the file tools
 * are confined to the session's folder but its commands can read what the server's user can.
 */
import {
  BubblewrapSandbox,
  type CommandResult,
  type CommandSandbox,
  ProcessSandbox,
  type RunOptions,
  type SessionEnvironment,
} from "./sandbox.ts";
import { SessionWorkspaces, type SessionWorkspacesOptions } from "./session_workspaces.ts";

/** What {@linkcode SessionSandboxes} takes. */
export interface SessionSandboxesOptions extends SessionWorkspacesOptions {
  /** `bwrap` (bubblewrap) or `process` (plain child processes). */
  driver: "bwrap" | "process";
  /** Let commands reach the network (bubblewrap unshares it otherwise). */
  network: boolean;
  /**
   * More folders bubblewrap hides from the sessions' commands, besides the agent's workspace:
   * the server's data folder, whose store holds every chat's memories and history.
   */
  hide?: readonly string[];
  /** Host environment variables the commands get, by name (the agent's `box.pass_env`). */
  passEnv?: readonly string[];
}

/**
 * Sessions apart on bubblewrap or plain processes: each session's commands and file tools work
 * in its own folder. Commands run outside any session use the whole workspace.
 *
 * @example
 * ```ts ignore
 * const sandboxes = new SessionSandboxes({ driver: "bwrap", root: "/srv/ws", network: false, workspace: "session" });
 * const { workspace, sandbox } = sandboxes.forSession("1:telegram:1");
 * await sandbox.run("ls", { cwd: workspace.root, timeoutMs: 5000 });
 * ```
 */
export class SessionSandboxes implements CommandSandbox {
  /** The driver of the sandboxes made: `bwrap` or `process`. */
  readonly driver: "bwrap" | "process";
  readonly #agent: CommandSandbox;
  readonly #folders: SessionWorkspaces;

  /** Sessions on `options.root`, as `options` say; sweeps of idle folders start now. */
  constructor(private readonly options: SessionSandboxesOptions) {
    this.driver = options.driver;
    this.#agent = this.#sandboxOn(options.root, false);
    this.#folders = new SessionWorkspaces(options);
  }

  /** Runs `command` on the whole workspace (outside any session). */
  run(command: string, options: RunOptions): Promise<CommandResult> {
    return this.#agent.run(command, options);
  }

  /** The workspace (made now) and sandbox of the sessions keyed `key`. */
  forSession(key: string): SessionEnvironment {
    return this.#folders.open(
      key,
      (root) => this.#sandboxOn(root, this.options.workspace === "session"),
    );
  }

  /** The sessions keyed `key` are done (their folder stays until idle past its time to live). */
  releaseSession(key: string): Promise<void> {
    this.#folders.release(key);
    return Promise.resolve();
  }

  /** Removes idle session folders now; returns their names. */
  sweep(): Promise<string[]> {
    return this.#folders.sweep();
  }

  /** Stops sweeping. */
  close(): Promise<void> {
    return this.#folders.close();
  }

  #sandboxOn(root: string, ownFolder: boolean): CommandSandbox {
    const options = { passEnv: this.options.passEnv };
    if (this.driver === "process") return new ProcessSandbox(options);
    return new BubblewrapSandbox(
      root,
      this.options.network,
      ownFolder ? { hide: [this.options.root, ...(this.options.hide ?? [])] } : undefined,
      options,
    );
  }
}
