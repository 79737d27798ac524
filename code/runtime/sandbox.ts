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

async function exec(program: string, args: string[], options: RunOptions): Promise<CommandResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: options.env,
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
   * `hidden` (a folder above `root`: the agent's workspace, for a session's own folder) is
   * replaced by an empty one, so the host being readable does not make other sessions' files so.
   */
  constructor(
    private readonly root: string,
    private readonly network = false,
    private readonly hidden?: string,
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
      // An empty folder over `/` would leave nothing to run: hide its sessions alone then.
      ...(this.hidden ? ["--tmpfs", this.hidden === "/" ? "/sessions" : this.hidden] : []),
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
    return exec("bwrap", args, options);
  }
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
