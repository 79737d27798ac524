/**
 * The driver interface: every isolation backend (namespace, qemu, and the kvm VMM of its own
 * issue) implements {@linkcode BoxDriver}, so the manager, CLI and HTTP API never branch on which
 * one runs a box.
 */
import type { LogBound } from "./log_bound.ts";

/** How strongly a driver separates a box from the host, weakest first. */
export type IsolationLevel = "namespace" | "vm";

/** A host path mounted into the box. */
export interface VolumeMount {
  /** The host path to mount. */
  host: string;
  /** Where the host path appears inside the box. */
  guest: string;
  /** Mounts the path read-only inside the box. */
  readOnly: boolean;
}

/** A host port forwarded into a box by its driver (a VM's user-mode network does it itself). */
export interface PortForward {
  /** The host address to listen on. */
  hostIp: string;
  /** The host port. */
  hostPort: number;
  /** The TCP port inside the box. */
  guestPort: number;
}

/** Resource limits; an unset limit is unlimited. */
export interface BoxLimits {
  /** Bytes of memory. */
  memoryBytes?: number;
  /** CPUs, fractional allowed (0.5 is half a CPU). */
  cpus?: number;
  /** Most processes and threads at once. */
  pids?: number;
}

/** Everything a driver needs to create a box. */
export interface BoxSpec {
  /** The box id; drivers name their per-box resources (cgroup, VM, state files) after it. */
  id: string;
  /** The image's rootfs directory on the host, read-only to the box. */
  rootfs: string;
  /** A directory the driver owns for this box's state (overlay layers, sockets, logs). */
  stateDir: string;
  /** The main command and its arguments. */
  command: string[];
  /** Environment variables of the main command. */
  env: Record<string, string>;
  /** The main command's working directory inside the box; the image's default when unset. */
  workdir?: string;
  /** The main command's user inside the box (see {@linkcode USER_SPEC}); root when unset. */
  user?: string;
  /** The hostname the box sees; the driver picks one when unset. */
  hostname?: string;
  /** Host paths mounted into the box. */
  volumes: VolumeMount[];
  /** Memory, CPU and process limits the driver enforces. */
  limits: BoxLimits;
  /** `none` (default) gives the box only loopback; `host` shares the host's network. */
  network: "none" | "host";
  /**
   * A network namespace (a path such as `/run/netns/<name>`) the box joins instead of getting
   * its own: how boxes of one pod share a network, and how bridged networks attach boxes.
   */
  netns?: string;
  /**
   * TCP ports the driver forwards from the host into the box (drivers whose probe reports the
   * `ports` feature); namespace boxes get theirs from a forwarder in their network namespace.
   */
  ports?: PortForward[];
  /** Seconds after which everything in the box is killed; 0 or unset for none. */
  timeoutSeconds?: number;
  /** Attach the main command's stdin to a pipe the caller writes. */
  interactive?: boolean;
  /**
   * Runs the main command on a pseudo-terminal (Docker's `-t`, a CRI container's `tty`):
   * stdout and stderr merge, as on a terminal.
   */
  tty?: boolean;
  /** Security settings beyond the driver's defaults; the defaults apply when unset. */
  security?: BoxSecurity;
  /**
   * The box's place in a pod (CRI): a pod's sandbox box, or a member running inside its
   * sandbox (on the VM drivers, in the sandbox's VM). Only drivers whose probe reports the
   * `pods` feature take it.
   */
  pod?: PodPlacement;
}

/**
 * Where a box sits in a pod: the sandbox holds what the pod's boxes share (on the VM drivers
 * its VM, booted once); a member names its sandbox's box id and state directory.
 */
export type PodPlacement =
  | { role: "sandbox" }
  | { role: "member"; sandboxId: string; sandboxStateDir: string };

/**
 * A seccomp profile in the OCI runtime-spec / Docker JSON form (`defaultAction`, `syscalls` with
 * `names`, `action` and optional `args`), as `--security-opt seccomp=FILE` and Kubernetes'
 * `Localhost` profiles give it.
 */
export interface SeccompProfile {
  /** The action for a syscall no rule matches, such as `SCMP_ACT_ERRNO` or `SCMP_ACT_ALLOW`. */
  defaultAction: string;
  /** The errno returned by `SCMP_ACT_ERRNO` defaults; EPERM when unset. */
  defaultErrnoRet?: number;
  /** Architectures the profile applies to (`SCMP_ARCH_X86_64`...). */
  architectures?: string[];
  /** Rules, first match wins. */
  syscalls?: {
    names: string[];
    action: string;
    errnoRet?: number;
    args?: { index: number; value: number; valueTwo?: number; op: string }[];
  }[];
}

/**
 * Linux security settings a box may ask for beyond the driver's defaults: Docker's `--cap-add`,
 * `--cap-drop`, `--read-only`, `--sysctl`, `--security-opt seccomp=`, `--privileged`, `--pid`
 * and `--ipc`, and the fields of a Kubernetes security context. A driver that cannot honour one
 * refuses the box with a clear error rather than running it weaker.
 */
export interface BoxSecurity {
  /** Capabilities added to the default set, without the `CAP_` prefix (`NET_ADMIN`). */
  capAdd?: string[];
  /** Capabilities dropped from the default set; `ALL` drops every one. */
  capDrop?: string[];
  /** The rootfs is mounted read-only with no writable layer; volumes and tmpfs stay writable. */
  readOnlyRootfs?: boolean;
  /** Namespaced sysctls set inside the box before its command runs (`net.ipv4.ip_forward`). */
  sysctls?: Record<string, string>;
  /** The box's default filter, none at all, or a profile of the user's. */
  seccomp?:
    | { kind: "default" }
    | { kind: "unconfined" }
    | { kind: "profile"; profile: SeccompProfile };
  /** Every capability and no seccomp filter (Docker's `--privileged`); still namespaced. */
  privileged?: boolean;
  /** Shares the host's pid namespace instead of getting its own. */
  hostPid?: boolean;
  /** Shares the host's IPC namespace instead of getting its own. */
  hostIpc?: boolean;
}

/**
 * Docker's user forms: `name`, `uid`, `name:group`, `uid:gid` and mixes; names and groups are
 * looked up in the box's own /etc/passwd and /etc/group when the command starts.
 */
export const USER_SPEC: RegExp =
  /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/;

/** A command to run in a running box. */
export interface ExecRequest {
  /** The command and its arguments. */
  command: string[];
  /** Environment variables added to the box's own. */
  env?: Record<string, string>;
  /** The working directory; the box's when unset. */
  workdir?: string;
  /** The user to run as (see {@linkcode USER_SPEC}); the box's user when unset. */
  user?: string;
  /** Run on a pseudo-terminal (stdout and stderr merge, as on a terminal). */
  tty?: boolean;
}

/** How a process ended. */
export interface ExitStatus {
  /** The exit code; 128 + signal when killed by a signal, as shells report it. */
  exitCode: number;
  /** The signal that killed it, or 0. */
  signal: number;
}

/** The collected result of a finished exec. */
export interface ExecResult extends ExitStatus {
  /** Everything the command wrote to stdout. */
  stdout: Uint8Array;
  /** Everything the command wrote to stderr. */
  stderr: Uint8Array;
}

/** A running exec: write stdin, read stdout and stderr separately, await the exit. */
export interface ExecProcess {
  /** The command's stdin; close it to send end-of-file. */
  stdin: WritableStream<Uint8Array>;
  /** The command's stdout as it is written. */
  stdout: ReadableStream<Uint8Array>;
  /** The command's stderr as it is written (empty on a tty, where it merges into stdout). */
  stderr: ReadableStream<Uint8Array>;
  /** Resolves once the command exits. */
  status: Promise<ExitStatus>;
  /** Sends a signal to the exec's process group. */
  kill(signal?: number): Promise<void>;
  /** Resizes the exec's terminal (tty execs only). */
  resize?(rows: number, cols: number): Promise<void>;
}

/** Why a box stopped, as `inspect` and `ps` show it. */
export type ExitReason =
  | "exited"
  | "stopped"
  | "killed"
  | "timeout"
  | "oom"
  | "pids_limit"
  | "host_restart"
  | "start_failed";

/** A box's process as its driver sees it. */
export interface DriverBoxState {
  /** Whether the main process still runs. */
  running: boolean;
  /** The main process's host pid, while it runs. */
  pid?: number;
  /** The exit code, once the main process ended. */
  exitCode?: number;
  /** The signal that killed the main process, if one did. */
  signal?: number;
  /** Why the box stopped, once it did. */
  reason?: ExitReason;
}

/** Point-in-time resource use. */
export interface BoxStats {
  /** Memory in use, in bytes. */
  memoryBytes?: number;
  /** The memory limit in bytes, when one is set. */
  memoryLimitBytes?: number;
  /** Processes and threads running now. */
  pids?: number;
  /** The process limit, when one is set. */
  pidsLimit?: number;
  /** CPU time used since the box started, in seconds. */
  cpuSeconds?: number;
}

/** What `box info` prints for a driver. */
export interface DriverProbe {
  /** The driver's name, as `--driver` takes it. */
  name: string;
  /** Whether the driver can run boxes on this host. */
  available: boolean;
  /** How strongly the driver separates boxes from the host. */
  isolation: IsolationLevel;
  /** Higher is stronger; the default driver is the available one with the highest. */
  strength: number;
  /** Why it is unavailable, or what it will use (for example "tcg" or "kvm"). */
  detail: string;
  /** What the host offers the driver (cgroups, seccomp, kvm...), for diagnostics. */
  features: Record<string, boolean | string>;
}

/** Where a started box's main output goes. */
export interface BoxOutput {
  /** Files the driver appends the main command's stdout and stderr to. */
  stdoutPath: string;
  /** The file the driver appends the main command's stderr to. */
  stderrPath: string;
  /**
   * How much of each stream stays on disk: the driver rotates the files (`FILE.1` the newest
   * rotated, `FILE.offset` where `FILE` starts in the stream's bytes; see `log_files.ts`).
   * Unbounded when unset.
   */
  logBound?: LogBound;
  /**
   * Called once the box has a process that any reader of its state dir can find (before `start`
   * resolves, while the box comes up), for drivers that can tell; the manager marks the box
   * running from then on instead of after `start` resolves.
   */
  onProcess?: () => void;
  /**
   * The caller stays attached: a driver that can hands it the main command's output as the box
   * writes it ({@linkcode StartedBox.output}), besides the log files, which still get every byte.
   */
  attach?: boolean;
}

/** One chunk of a box's main output, tagged with its stream. */
export interface OutputChunk {
  /** Which of the main command's streams wrote it. */
  stream: "stdout" | "stderr";
  /** The bytes, as the command wrote them. */
  data: Uint8Array;
}

/** A handle to a created box, re-attachable from another process through its state dir. */
export interface StartedBox {
  /** The host pid of the main process (or of the VM running it). */
  pid: number;
  /** Present when the caller asked for an interactive main command. */
  stdin?: WritableStream<Uint8Array>;
  /**
   * With {@linkcode BoxOutput.attach}, where the driver supports it: the main command's output
   * through pipes, in the order each stream wrote it. It is a prefix of what the logs hold: it
   * ends when the box ends, or earlier when the caller fell behind, and then the logs have the
   * rest from the byte counts received (stdout and stderr counted apart). Breaking out of it
   * detaches; the box keeps running and logging.
   */
  output?: AsyncIterable<OutputChunk>;
}

/**
 * One isolation backend. Drivers keep what they need in `spec.stateDir`, so any process that
 * can read that directory (the CLI or `serve`) can exec into, stop or inspect a box another
 * process started.
 */
export interface BoxDriver {
  /** The driver's name, as `--driver` takes it and the box records it. */
  readonly name: string;
  /** How strongly this driver separates a box from the host. */
  readonly isolation: IsolationLevel;
  /** Checks the host; never throws and never hangs. */
  probe(): Promise<DriverProbe>;
  /** Prepares the box (overlay, cgroup, config) without running anything. */
  create(spec: BoxSpec): Promise<void>;
  /** Starts the main command, its output appended to `output`. Resolves once it can exec. */
  start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox>;
  /** Runs a command in a running box. */
  exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess>;
  /** Asks the main process to stop, kills it after `graceSeconds`. */
  stop(spec: BoxSpec, graceSeconds: number): Promise<void>;
  /** Sends a signal to the box's main process. */
  kill(spec: BoxSpec, signal: number): Promise<void>;
  /** Whether the box runs and, once it ended, how. */
  state(spec: BoxSpec): Promise<DriverBoxState>;
  /** Point-in-time resource use of a running box. */
  stats(spec: BoxSpec): Promise<BoxStats>;
  /** Copies a host file into the box. */
  copyIn(spec: BoxSpec, data: Uint8Array, guestPath: string, mode: number): Promise<void>;
  /** Reads a file out of the box. */
  copyOut(spec: BoxSpec, guestPath: string): Promise<Uint8Array>;
  /** Releases everything `create` made; the box must not run. */
  remove(spec: BoxSpec): Promise<void>;
  /**
   * The host directory holding what the box changed over its image (an overlay upper dir), for
   * `build`, `commit`, `diff` and snapshots; undefined where the driver keeps no such layer.
   */
  writableLayer?(spec: BoxSpec): Promise<string | undefined>;
  /**
   * Detaches a stopped box's view of its layers (the overlay mount), so the writable layer can
   * be rewritten (a snapshot restore); the next start mounts it afresh.
   */
  releaseRootfs?(spec: BoxSpec): Promise<void>;
  /** Changes a running box's limits (only the ones given). */
  updateLimits?(spec: BoxSpec, limits: BoxLimits): Promise<void>;
  /** Freezes (`true`) or thaws (`false`) every process of a running box. */
  setPaused?(spec: BoxSpec, paused: boolean): Promise<void>;
  /** Resizes the terminal of a box whose main process runs on one (`tty`). */
  resizeTerminal?(spec: BoxSpec, rows: number, cols: number): Promise<void>;
  /**
   * Lets go of what the driver keeps ready for boxes not created yet (a prestarted launcher);
   * running boxes are not touched.
   */
  close?(): void;
  /**
   * The full id of the box in `stateDir` (one of this driver's state dirs, which the store has
   * no row for) when whoever started it died before it could record it: `run` starts a box
   * before it writes the box's row, so a starter killed in between leaves a box nobody lists.
   * The manager then removes it with {@linkcode remove}. Undefined for anything else: a box
   * whose starter is alive (its row is on its way), a dir that is not this driver's.
   */
  abandoned?(stateDir: string): Promise<string | undefined>;
  /**
   * An id for the next box whose state dir will be in `boxesDir`, where the driver made what
   * that box needs ahead under it (the namespace driver's prestarted launcher, with the box's
   * state dir and cgroups); undefined where it has nothing ready for a box like `box`. The
   * manager creates the box under the id it gets (a failed `create` lets go of what was made).
   * Synchronous: it is on every box's start path, where each await is an event-loop turn.
   */
  claimId?(
    boxesDir: string,
    box: Pick<BoxSpec, "tty" | "interactive" | "security">,
  ): string | undefined;
}
