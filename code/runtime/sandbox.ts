/**
 * Where `bash` and `git_worktree` run commands. The agent depends on this small interface;
 * bubblewrap (read-only host, writable workspace, no network) is the default driver, a plain
 * process the fallback, and box's runtime plugs in through the same shape.
 */

import { A3sError } from "@a3s/common/errors";
import { readCappedText } from "@a3s/common/capped-text";
import { writeStdin } from "@a3s/common/stdin";
import type { Workspace } from "./workspace.ts";

/** What a command produced. */
export interface CommandResult {
  /** What the command wrote to stdout. */
  stdout: string;
  /** What the command wrote to stderr. */
  stderr: string;
  /** The exit status. */
  exitCode: number;
  /** True when it was killed for running past `timeoutMs`. */
  timedOut: boolean;
}

/** How to run one command. */
export interface RunOptions {
  /** Absolute working directory inside the workspace. */
  cwd: string;
  /** How long the command may run before it is killed, in milliseconds. */
  timeoutMs: number;
  /** Kills the command when aborted. */
  signal?: AbortSignal;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Text written to the command's stdin. */
  stdin?: string;
}

/** The disk quota of a session's own folder. */
export interface SessionQuota {
  /** Why the session may not write now (its folder is over its quota), or undefined. */
  exceeded(): Promise<string | undefined>;
  /** Measures the folder again (after a file tool wrote to it); says why it is over, if it is. */
  measure(): Promise<string | undefined>;
}

/** Where one session's tools work: its workspace folder and the sandbox its commands run in. */
export interface SessionEnvironment {
  /** The folder the session's tools are confined to. */
  workspace: Workspace;
  /** Where the session's commands run (already held to `quota`). */
  sandbox: CommandSandbox;
  /** The folder's disk quota, when it has one: the file tools are refused while it is exceeded. */
  quota?: SessionQuota;
}

/** A command sandbox for one workspace. */
export interface CommandSandbox {
  /** Which sandbox this is (`process`, `bwrap`, `box`...), shown to the model and in logs. */
  readonly driver: string;
  /** Runs a bash command line and collects its output. */
  run(command: string, options: RunOptions): Promise<CommandResult>;
  /**
   * A sandbox (and workspace) of its own for the sessions keyed `key`, for sandboxes that keep
   * sessions apart (serve's agents with chat channels: a box per session, or a folder per
   * session under bubblewrap or a plain process, so one user's files are not another's).
   * Sessions of sandboxes without it share the agent's.
   */
  forSession?(key: string): SessionEnvironment;
  /** Ends what {@linkcode forSession} made for `key` (its box; files stay until idle past their time to live). */
  releaseSession?(key: string): Promise<void>;
}

/**
 * The server's variables a session's command may see: enough to run programs, none of its keys,
 * tokens or database URL.
 */
const SESSION_ENV = ["PATH", "LANG", "LC_ALL", "TERM", "TZ"];

async function exec(
  program: string,
  args: string[],
  options: RunOptions,
  /** Set: the command gets these variables (and `options.env`) only, not the server's. */
  onlyEnv?: Record<string, string>,
): Promise<CommandResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: onlyEnv ? { ...onlyEnv, ...options.env } : options.env,
    clearEnv: onlyEnv !== undefined,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).spawn();
  // Written while the output is read: a command that echoes a large input would otherwise fill
  // its stdout pipe and wait for a reader that waits for the write to end.
  const written = options.stdin === undefined
    ? undefined
    : writeStdin(child.stdin, new TextEncoder().encode(options.stdin));
  const [stdout, stderr, status] = await Promise.all([
    readCappedText(child.stdout),
    readCappedText(child.stderr),
    child.status,
    written,
  ]);
  return { stdout, stderr, exitCode: status.code, timedOut: timeout.aborted };
}

/** Runs commands as plain child processes of this one (no isolation beyond the cwd). */
export class ProcessSandbox implements CommandSandbox {
  /** This sandbox's driver name, `process`. */
  readonly driver = "process";
  /** Runs `command` with `bash -c` in `options.cwd`. */
  run(command: string, options: RunOptions): Promise<CommandResult> {
    return exec("bash", ["-c", command], options);
  }
}

/**
 * Runs commands under bubblewrap: the host read-only, the workspace writable, a private
 * /tmp, fresh PID/IPC/UTS namespaces and, unless `network` is on, no network.
 */
export class BubblewrapSandbox implements CommandSandbox {
  /** This sandbox's driver name, `bwrap`. */
  readonly driver = "bwrap";
  /**
   * A sandbox whose writable workspace is `root`; `network` keeps the host's network reachable.
   * With `session` (for a session's own folder) the folders it names are replaced by empty ones,
   * so the host being readable does not make other sessions' files, or the store holding every
   * chat's memories, so; and the command gets none of the server's environment (its keys).
   */
  constructor(
    private readonly root: string,
    private readonly network = false,
    private readonly session?: SessionConfinement,
  ) {}

  /** Runs `command` with `bash -c` inside bubblewrap, in `options.cwd`. */
  run(command: string, options: RunOptions): Promise<CommandResult> {
    const args = [
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--tmpfs",
      "/tmp",
      ...hiddenMounts(this.session?.hide ?? []),
      "--bind",
      this.root,
      this.root,
      "--chdir",
      options.cwd,
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      ...(this.network ? [] : ["--unshare-net"]),
      "--die-with-parent",
      "--new-session",
      "--",
      "bash",
      "-c",
      command,
    ];
    if (!this.session) return exec("bwrap", args, options);
    const env: Record<string, string> = { HOME: this.root };
    for (const name of SESSION_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    return exec("bwrap", args, options, env);
  }
}

/** What confines a session's bubblewrap sandbox to its own folder. */
export interface SessionConfinement {
  /** Folders replaced by empty ones: the agent's workspace (above the session's), the server's data folder. */
  hide: readonly string[];
}

/**
 * bubblewrap's arguments hiding `folders`, parents first (a folder inside one hidden is mounted
 * over the empty one); those missing are skipped, as a mount point cannot be made on the
 * read-only host.
 */
function hiddenMounts(folders: readonly string[]): string[] {
  const existing = folders.filter((folder) => {
    try {
      return Deno.statSync(folder).isDirectory;
    } catch {
      return false;
    }
  });
  // An empty folder over `/` would leave nothing to run: hide its sessions alone then.
  return existing.map((folder) => folder === "/" ? "/sessions" : folder)
    .sort((a, b) => a.length - b.length)
    .flatMap((folder) => ["--tmpfs", folder]);
}

let bwrapWorks: boolean | undefined;

/** True when bubblewrap runs here (it needs unprivileged user namespaces). */
export function bubblewrapAvailable(): boolean {
  if (bwrapWorks === undefined) {
    try {
      const out = new Deno.Command("bwrap", {
        args: ["--ro-bind", "/", "/", "--unshare-net", "--die-with-parent", "true"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      bwrapWorks = out.success;
    } catch {
      bwrapWorks = false;
    }
  }
  return bwrapWorks;
}

/**
 * The sandbox a config's `box.driver` names; `auto` picks bubblewrap when it works. The `box`
 * driver needs box's runtime, which the caller passes as `options.sandbox` (see BoxSandbox).
 */
export function createSandbox(driver: string, root: string, network: boolean): CommandSandbox {
  if (driver === "box") {
    throw new A3sError(
      "invalid_config",
      'box.driver = "box" needs box\'s runtime: pass a BoxSandbox as the sandbox option (the CLI does)',
      {
        status: 400,
        field: "box.driver",
      },
    );
  }
  if (driver === "process") return new ProcessSandbox();
  if (driver === "bwrap" || (driver === "auto" && bubblewrapAvailable())) {
    return new BubblewrapSandbox(root, network);
  }
  return new ProcessSandbox();
}
