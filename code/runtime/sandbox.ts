/**
 * Where `bash` and `git_worktree` run commands. The agent depends on this small interface;
 * bubblewrap (system folders read-only, the workspace writable, the rest of the host, its
 * sockets and its environment out of sight, no network, processes and memory bounded) is the
 * default driver, a plain process the fallback, and box's runtime plugs in through the same
 * shape. No driver passes the server's environment (its API keys) to commands.
 */

import { A3sError } from "@a3s/common/errors";
import { readCappedText } from "@a3s/common/capped-text";
import { writeStdin } from "@a3s/common/stdin";
import type { Workspace } from "./workspace.ts";
import {
  CommandCgroup,
  hostCgroupBase,
  rlimitPrelude,
  type SandboxLimits,
} from "./sandbox_limits.ts";

export type { SandboxLimits } from "./sandbox_limits.ts";

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
 * The host's variables every command gets, when set: enough to run programs, none of the
 * server's keys, tokens or database URL. `LC_*` are passed too.
 */
const BASE_ENV = ["LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "COLORTERM", "NO_COLOR"];

/** How a sandbox sets up commands, beyond its driver's own defaults. */
export interface SandboxOptions {
  /**
   * Names of host environment variables commands get besides the base ones (`PATH`, `HOME`,
   * `LANG`, `LC_*`, `TERM`, `TZ`, `USER`, `LOGNAME`); every other variable of the server (its API
   * keys) is withheld.
   */
  passEnv?: readonly string[];
  /** Variables every command gets, over the host's. */
  env?: Record<string, string>;
  /**
   * What one command may use (bubblewrap): processes and memory. {@linkcode DEFAULT_LIMITS}
   * when unset; `{}` for none.
   */
  limits?: SandboxLimits;
  /**
   * Host folders commands may read besides the system ones (bubblewrap): a toolchain installed
   * under a home folder, say. Bound read-only, and their `bin` folders kept on `PATH`.
   */
  readOnly?: readonly string[];
  /** More host folders or files hidden from commands (bubblewrap), when a bound folder holds them. */
  hide?: readonly string[];
}

/** What a bubblewrap command may use when the sandbox is given no limits: box's own defaults. */
export const DEFAULT_LIMITS: Readonly<SandboxLimits> = { pids: 256, memoryMb: 512 };

/** `LC_*` and the base variables of the host, with `names` besides. */
function hostVariables(names: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (BASE_ENV.includes(name) || name.startsWith("LC_") || names.includes(name)) {
      env[name] = value;
    }
  }
  return env;
}

let gitIdentity: Record<string, string> | undefined;

/**
 * The host user's git name and address as `GIT_AUTHOR_*` and `GIT_COMMITTER_*`: commands do
 * not see the home folder (its `.gitconfig` may hold credentials), and `git commit` needs them.
 */
function hostGitIdentity(): Record<string, string> {
  if (gitIdentity) return gitIdentity;
  gitIdentity = {};
  const get = (key: string) => {
    try {
      const out = new Deno.Command("git", {
        args: ["config", "--global", "--get", key],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
    } catch {
      return "";
    }
  };
  const name = get("user.name");
  const email = get("user.email");
  if (name) gitIdentity.GIT_AUTHOR_NAME = gitIdentity.GIT_COMMITTER_NAME = name;
  if (email) gitIdentity.GIT_AUTHOR_EMAIL = gitIdentity.GIT_COMMITTER_EMAIL = email;
  return gitIdentity;
}

async function exec(
  program: string,
  args: string[],
  options: RunOptions,
  /** The variables the command gets (and `options.env`); none of the server's others. */
  env: Record<string, string>,
): Promise<CommandResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: { ...env, ...options.env },
    clearEnv: true,
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

/**
 * Runs commands as plain child processes of this one: no isolation beyond the cwd (they read
 * and write what the server's user can), but they get only the base variables of the server's
 * environment (and `options.passEnv`), not its keys.
 */
export class ProcessSandbox implements CommandSandbox {
  /** This sandbox's driver name, `process`. */
  readonly driver = "process";
  /** A plain-process sandbox; `options.passEnv` and `options.env` add variables. */
  constructor(private readonly options: SandboxOptions = {}) {}
  /** Runs `command` with `bash -c` in `options.cwd`. */
  run(command: string, options: RunOptions): Promise<CommandResult> {
    const env = hostVariables(this.options.passEnv);
    for (const name of ["PATH", "HOME", "TMPDIR"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    return exec("bash", ["-c", command], options, { ...env, ...this.options.env });
  }
}

/**
 * Runs commands under bubblewrap, which sees only what it needs to run programs: the system
 * folders read-only (`/usr`, `/bin`, `/lib*`, `/sbin`, `/opt`, `/etc` with its secrets hidden),
 * the workspace writable, a fresh `/tmp`, `/run` and `/var/tmp`, a minimal `/dev` and its own
 * `/proc`; not the host's home folders, `/root`, the server's data folder, `/run` or `/var`
 * (their unix sockets: databases, docker). Fresh PID/IPC/UTS namespaces and, unless `network`
 * is on, no network. Commands get the base variables only, and run under `options.limits`.
 */
export class BubblewrapSandbox implements CommandSandbox {
  /** This sandbox's driver name, `bwrap`. */
  readonly driver = "bwrap";
  #layout: string[] | undefined;
  #path: string | undefined;
  /**
   * A sandbox whose writable workspace is `root`; `network` keeps the host's network reachable.
   * With `session` (for a session's own folder) the folders it names stay hidden even where a
   * bound folder holds them, and `HOME` is the session's folder (otherwise an empty `/tmp/home`).
   */
  constructor(
    private readonly root: string,
    private readonly network = false,
    private readonly session?: SessionConfinement,
    private readonly options: SandboxOptions = {},
  ) {}

  /** Runs `command` with `bash -c` inside bubblewrap, in `options.cwd`. */
  async run(command: string, options: RunOptions): Promise<CommandResult> {
    const limits = this.options.limits ?? DEFAULT_LIMITS;
    const unprivileged = Deno.uid() !== 0;
    const base = limits.pids || limits.memoryMb ? hostCgroupBase() : undefined;
    const group = base ? CommandCgroup.create(base, limits) : undefined;
    // RLIMIT_NPROC counts this user namespace's processes only, and root is exempt from it;
    // RLIMIT_DATA is per process, a fallback where no cgroup bounds the whole.
    const prelude = rlimitPrelude(limits, unprivileged, !group);
    const home = this.session ? this.root : SANDBOX_HOME;
    const args = [
      ...this.#mounts(),
      ...(this.session ? [] : ["--dir", SANDBOX_HOME]),
      "--chdir",
      options.cwd,
      ...(unprivileged ? ["--unshare-user"] : []),
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
      ...(this.network ? [] : ["--unshare-net"]),
      "--die-with-parent",
      "--new-session",
      "--",
      "bash",
      "-c",
      ...(prelude ? [`${prelude}exec bash -c "$1"`, "bash"] : []),
      command,
    ];
    const env: Record<string, string> = {
      ...hostVariables(this.options.passEnv),
      ...hostGitIdentity(),
      PATH: this.#sandboxPath(),
      HOME: home,
      TMPDIR: "/tmp",
      ...this.options.env,
    };
    if (!group) return await exec("bwrap", args, options, env);
    try {
      const launch = group.wrap("bwrap", args);
      const result = await exec(launch.program, launch.args, options, env);
      const hit = group.events();
      const notes = [
        hit.outOfMemory
          ? `[a3s: the command went over its memory limit of ${limits.memoryMb} MiB (box.memory_mb)]`
          : "",
        hit.pidsRefused
          ? `[a3s: the command hit its limit of ${limits.pids} processes and threads (box.pids): a fork was refused]`
          : "",
      ].filter(Boolean);
      if (!notes.length) return result;
      return {
        ...result,
        stderr: `${result.stderr}${result.stderr ? "\n" : ""}${notes.join("\n")}`,
      };
    } finally {
      await group.remove();
    }
  }

  /** `PATH` inside: the host's folders that are visible there, then the system's. */
  #sandboxPath(): string {
    if (this.#path !== undefined) return this.#path;
    const visible = [...SYSTEM_DIRS, ...(this.options.readOnly ?? []), this.root];
    const host = (Deno.env.get("PATH") ?? "").split(":").filter((dir) =>
      dir.startsWith("/") && visible.some((top) => within(dir, top))
    );
    this.#path = [...new Set([...host, ...DEFAULT_PATH])].join(":");
    return this.#path;
  }

  /** The mounts, worked out once: what exists on the host does not change under a server. */
  #mounts(): string[] {
    if (this.#layout) return this.#layout;
    const readOnly = [...(this.options.readOnly ?? [])].filter(isDirectory);
    const bound = [...SYSTEM_DIRS, ...readOnly, this.root];
    const args: string[] = [];
    for (const dir of SYSTEM_DIRS) {
      const kind = entryKind(dir);
      if (kind === "link") args.push("--symlink", Deno.readLinkSync(dir), dir);
      else if (kind === "dir") args.push("--ro-bind", dir, dir);
    }
    for (const dir of readOnly) args.push("--ro-bind", dir, dir);
    args.push(...secretMounts(ETC_SECRETS));
    args.push("--dev", "/dev", "--proc", "/proc");
    for (const dir of FRESH_DIRS) args.push("--tmpfs", dir);
    args.push("--symlink", "../run", "/var/run");
    if (this.network) args.push(...resolverMounts());
    args.push("--bind", this.root, this.root);
    // Hidden after the workspace is bound, as it may hold them (a workspace above the home
    // folder); one above the workspace is not bound at all, so it is left as it is.
    const hide = [
      ...homeSecrets(),
      ...(this.session?.hide ?? []),
      ...(this.options.hide ?? []),
    ].filter((path) =>
      !within(this.root, path) && bound.some((top) => within(path, top) && path !== top)
    );
    args.push(...secretMounts(hide));
    // A workspace above them (`/`) would bring the host's sockets back: fresh ones over it.
    for (const dir of FRESH_DIRS) {
      if (dir !== this.root && within(dir, this.root) && entryKind(dir) === "dir") {
        args.push("--tmpfs", dir);
      }
    }
    this.#layout = args;
    return args;
  }
}

/** Folders each command gets empty: the host's hold other users' files and services' sockets. */
const FRESH_DIRS = ["/tmp", "/run", "/var/tmp"];

/** The home of a command not confined to a session's folder: empty, and gone when it ends. */
const SANDBOX_HOME = "/tmp/home";

/** Where programs are, inside: the host's own folders in its `PATH` are not bound. */
const DEFAULT_PATH = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/**
 * The host folders bound read-only (or made the same symlinks, on a merged `/usr`): what
 * programs need to run. `/etc` without its secrets, see {@linkcode ETC_SECRETS}.
 */
const SYSTEM_DIRS = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/opt",
  "/nix",
  "/etc",
  "/var/lib/ca-certificates",
];

/**
 * What `/etc` holds that no command needs: password hashes, host keys, service credentials.
 * Those present are replaced by an empty folder, or by `/dev/null` for a file.
 */
const ETC_SECRETS = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/security/opasswd",
  "/etc/krb5.keytab",
  "/etc/ssh/ssh_host_dsa_key",
  "/etc/ssh/ssh_host_ecdsa_key",
  "/etc/ssh/ssh_host_ed25519_key",
  "/etc/ssh/ssh_host_rsa_key",
  "/etc/ssl/private",
  "/etc/pki/tls/private",
  "/etc/letsencrypt",
  "/etc/wireguard",
  "/etc/openvpn",
  "/etc/ipsec.secrets",
  "/etc/ppp/chap-secrets",
  "/etc/ppp/pap-secrets",
  "/etc/NetworkManager/system-connections",
  "/etc/netplan",
  "/etc/wpa_supplicant",
  "/etc/mysql/debian.cnf",
  "/etc/kubernetes",
  "/etc/rancher",
  "/etc/docker",
  "/etc/containers/auth.json",
  "/etc/credstore",
  "/etc/credstore.encrypted",
  "/etc/libvirt/secrets",
  "/etc/gitlab-runner",
  "/etc/a3s",
];

/**
 * Where the host user's credentials are: hidden when a bound folder holds them (a workspace at
 * or above the home folder), with the server's data folder (`A3S_HOME`, the store of every
 * session's history and memories).
 */
function homeSecrets(): string[] {
  const home = Deno.env.get("HOME");
  const data = Deno.env.get("A3S_HOME");
  const inHome = home
    ? [
      ".a3s",
      ".ssh",
      ".gnupg",
      ".aws",
      ".azure",
      ".kube",
      ".docker",
      ".config/gh",
      ".config/gcloud",
      ".config/hub",
      ".config/git/credentials",
      ".npmrc",
      ".yarnrc",
      ".pypirc",
      ".netrc",
      ".git-credentials",
      ".cargo/credentials",
      ".cargo/credentials.toml",
      ".local/share/keyrings",
      ".password-store",
      ".vault-token",
      ".pgpass",
      ".my.cnf",
      ".terraform.d",
      ".bash_history",
      ".zsh_history",
    ].map((name) => `${home}/${name}`)
    : [];
  return [...(data ? [data] : []), ...inHome];
}

/** Whether `path` is `top` or inside it. */
function within(path: string, top: string): boolean {
  return path === top || path.startsWith(top.endsWith("/") ? top : `${top}/`);
}

function entryKind(path: string): "dir" | "file" | "link" | undefined {
  try {
    const info = Deno.lstatSync(path);
    return info.isSymlink ? "link" : info.isDirectory ? "dir" : "file";
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * bubblewrap's arguments hiding `paths`: a folder by an empty one, a file by `/dev/null`;
 * parents first (one inside a hidden folder is mounted over the empty one), missing ones and
 * symlinks skipped (bubblewrap would follow them).
 */
function secretMounts(paths: readonly string[]): string[] {
  const args: string[] = [];
  for (const path of [...new Set(paths)].sort((a, b) => a.length - b.length)) {
    const kind = entryKind(path);
    if (kind === "dir") args.push("--tmpfs", path);
    else if (kind === "file") args.push("--ro-bind", "/dev/null", path);
  }
  return args;
}

/**
 * With the network on, the resolver's configuration where `/etc/resolv.conf` links into `/run`
 * (systemd-resolved): that one file, not the folder (it holds the resolver's socket).
 */
function resolverMounts(): string[] {
  try {
    const target = Deno.realPathSync("/etc/resolv.conf");
    if (!["/run/", "/var/run/"].some((top) => target.startsWith(top))) return [];
    return ["--ro-bind", target, target];
  } catch {
    return [];
  }
}

/** What confines a session's bubblewrap sandbox to its own folder. */
export interface SessionConfinement {
  /** Folders replaced by empty ones: the agent's workspace (above the session's), the server's data folder. */
  hide: readonly string[];
}

let bwrapWorks: boolean | undefined;

/** True when bubblewrap runs here (it needs unprivileged user namespaces). */
export function bubblewrapAvailable(): boolean {
  if (bwrapWorks === undefined) {
    try {
      const out = new Deno.Command("bwrap", {
        args: [
          ...(Deno.uid() !== 0 ? ["--unshare-user"] : []),
          "--ro-bind",
          "/",
          "/",
          "--unshare-net",
          "--die-with-parent",
          "true",
        ],
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
 * `options` set the variables passed and bubblewrap's limits (the agent passes `box.pids` and
 * `box.memory_mb`).
 */
export function createSandbox(
  driver: string,
  root: string,
  network: boolean,
  options: SandboxOptions = {},
): CommandSandbox {
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
  if (driver === "process") return new ProcessSandbox(options);
  if (driver === "bwrap" || (driver === "auto" && bubblewrapAvailable())) {
    return new BubblewrapSandbox(root, network, undefined, options);
  }
  return new ProcessSandbox(options);
}
