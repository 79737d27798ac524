/**
 * The namespace driver: bubblewrap puts the box in fresh user, mount, pid, net, ipc, uts and
 * cgroup namespaces, under a seccomp filter and cgroup limits, with the image's rootfs as the
 * read-only lower layer of an overlay whose upper layer is the box's own. The guest agent runs
 * as the box's first process and serves exec over a unix socket in the box's state dir, so any
 * host process can reach a box another one started.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { A3sError, ValidationError } from "@a3s/common";
import type { AgentClient } from "../agent/client.ts";
import { buildAgent, builtAgent } from "../agent/build.ts";
import { connectAgentSocket } from "../agent/connect.ts";
import type {
  BoxDriver,
  BoxLimits,
  BoxOutput,
  BoxSpec,
  BoxStats,
  DriverBoxState,
  DriverProbe,
  ExecProcess,
  ExecRequest,
  ExitReason,
  StartedBox,
} from "../types.ts";
import { BoxCgroup, type CgroupMode, detectCgroupMode } from "./cgroup.ts";
import { newBoxId } from "../_box_id.ts";
import { removeStateDir } from "../log_files.ts";
import { buildSeccompFilter } from "./seccomp.ts";
import { compileSeccompProfile } from "./seccomp_profile.ts";
import {
  capabilityArgs,
  isRootUser,
  type ResolvedSecurity,
  resolveNamespaceSecurity,
} from "./namespace_security.ts";
import { mountOverlay, mountOverlaySync, unmount } from "./_mount.ts";
import { setTerminalSize } from "./_terminal.ts";
import { attachedOutput } from "./_attached_output.ts";
import { prepareStateDirAhead, STATE_SUBDIRS, takeStateDirAhead } from "./_state_dir_ahead.ts";
import {
  agentIdentity,
  fingerprintKey,
  LAUNCHER_LOGS,
  type LauncherFingerprint,
  PrestartedLauncher,
  sweepAbandonedLauncherDirs,
  sweepAbandonedLauncherGroups,
} from "./_prestarted_launcher.ts";
import {
  childPids,
  isAlive,
  isAliveSync,
  type ProcessIdentity,
  processIdentitySync,
  signalName,
  signalProcess,
} from "./_proc.ts";
import { abandonedBox, startedByThisProcess, type StarterRecord } from "./_starter.ts";

/** Where the agent lives inside a namespace box. */
const GUEST_DIR = "/.a3s";
const GUEST_RUN = `${GUEST_DIR}/run`;
/** How long the driver's starts are quiet before the next launcher is prestarted (`#refillSoon`). */
const REFILL_DELAY_MS = 20;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Options for {@linkcode NamespaceDriver}. */
export interface NamespaceDriverOptions {
  /** Where the built guest agent is cached. */
  agentCacheDir: string;
  /** The bubblewrap binary; `bwrap` on PATH unless set. */
  bwrap?: string;
  /** How long `start` waits for the agent to answer. */
  startTimeoutMs?: number;
  /**
   * Where the cgroup hierarchies are mounted (`/sys/fs/cgroup` unless set), for hosts that mount
   * the unified hierarchy elsewhere.
   */
  cgroupRoot?: string;
  /** The cgroup layout to use instead of the one detected under `cgroupRoot`. */
  cgroupMode?: CgroupMode;
  /**
   * Keeps a launcher started ahead for the next box after each start (as root): the next start
   * skips the launcher's spawn and its box-independent work. For long-lived managers (`serve`);
   * a one-shot CLI would only spawn one to throw it away. Off unless set.
   */
  prestart?: boolean;
  /**
   * How many launchers `prestart` keeps waiting (1 unless set): with 2, a box started right
   * after another (before the driver's starts were quiet again) finds one ready too.
   */
  prestartPool?: number;
}

/** What `create` decided, kept in the state dir so other processes act the same way. */
interface LayoutRecord {
  overlay: boolean;
  cgroup: CgroupMode;
  /** The cgroup mount the box's groups live under, when not the host's usual one. */
  cgroupRoot?: string;
}

/** A box's cgroups as its layout record placed them. */
function boxCgroup(layout: LayoutRecord, id: string): BoxCgroup {
  return new BoxCgroup(layout.cgroup, id, layout.cgroupRoot);
}

/** The box's process; its box and starter (see `_starter.ts`) for the abandoned-box sweep. */
interface PidRecord extends ProcessIdentity, StarterRecord {
  /** The agent binary the box was started with. */
  agent: string;
  /**
   * The recorded process is the launcher, staying as bubblewrap's parent (cgroup v2, where it
   * clones bubblewrap into the box's group); otherwise it became bubblewrap itself.
   */
  monitor?: boolean;
  /**
   * The agent is the box's pid-namespace init itself (bubblewrap's `--as-pid-1`); boxes started
   * before that have bubblewrap's init above the agent.
   */
  agentIsInit?: boolean;
}

/**
 * This process's uid, read once: a process cannot change it, and the start path asks several
 * times (each `Deno.uid()` is a call into the runtime, 1-15 microseconds).
 */
let processUid: number | null | undefined;
function uid(): number | null {
  if (processUid === undefined) processUid = Deno.uid();
  return processUid;
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; stderr: string; missing?: boolean }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, stderr: new TextDecoder().decode(out.stderr).trim() };
  } catch (error) {
    return { ok: false, stderr: String(error), missing: error instanceof Deno.errors.NotFound };
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

function readJsonSync<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

/**
 * Whether something is mounted on `path` (the box's overlay on its `merged` dir): a mount's root
 * lies on another device than the dir holding it. Two stats, where reading the mount table took
 * a fifth of a millisecond on a box's start path.
 */
function isMountPointSync(path: string): boolean {
  try {
    return Deno.statSync(path).dev !== Deno.statSync(join(path, "..")).dev;
  } catch {
    return false;
  }
}

/**
 * Bubblewrap among a monitoring launcher's children: the one that is not a launcher helper (those
 * are short-lived forks still named `launch`).
 */
async function bubblewrapChild(launcher: number): Promise<number | undefined> {
  for (const pid of await childPids(launcher)) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline && cmdline.split("\0")[1] !== "launch") return pid;
  }
  return undefined;
}

/** The PATH the launcher finds bubblewrap on. */
function launcherPath(): string {
  return Deno.env.get("PATH") ?? DEFAULT_PATH;
}

/** The launcher's environment: PATH to find bubblewrap, and the profiling switch when set. */
function launcherEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: launcherPath() };
  const trace = Deno.env.get("A3S_LAUNCH_TRACE");
  if (trace) env.A3S_LAUNCH_TRACE = trace;
  return env;
}

/** The files and dirs of a box's state dir. */
function statePaths(dir: string) {
  return {
    upper: join(dir, "upper"),
    work: join(dir, "work"),
    merged: join(dir, "merged"),
    run: join(dir, "run"),
    socket: join(dir, "run", "agent.sock"),
    status: join(dir, "run", "status"),
    layout: join(dir, "layout.json"),
    pid: join(dir, "pid.json"),
    seccomp: join(dir, "seccomp.bpf"),
    pts: join(dir, "pts"),
    dev: join(dir, "dev"),
  };
}

/** A box's state dir paths (see `statePaths`). */
type StatePaths = ReturnType<typeof statePaths>;

/** What the head of a box's bubblewrap arguments (up to the agent's run dir) depends on. */
interface BubblewrapHeadInputs {
  /** Whether a seccomp program is loaded (from fd 9). */
  seccomp: boolean;
  /** The launcher made the wide user namespace (fd 10). */
  wideUserns: boolean;
  security: Readonly<ResolvedSecurity>;
  /** The box gets a network namespace of its own. */
  unshareNet: boolean;
  hostname: string;
  /** The arguments that make the box's root: the overlay's bind, or the read-only binds. */
  rootArgs: readonly string[];
  /** The launcher made the box's /dev (`paths.dev`). */
  ownDev: boolean;
  /** The main command runs on a terminal (the launcher's devpts, `paths.pts`). */
  tty: boolean;
  paths: { dev: string; pts: string; run: string };
  agent: string;
}

/** The head of a box's bubblewrap arguments: its namespaces, identity, root, /proc, /dev, agent. */
function bubblewrapHead(input: BubblewrapHeadInputs): string[] {
  return [
    ...(input.seccomp ? ["--seccomp", "9"] : []),
    ...(input.wideUserns ? ["--userns", "10"] : ["--unshare-user"]),
    // The agent is the box's pid 1 (it reaps and passes signals on as an init does): one
    // process fewer than bubblewrap's own init between the call and the command.
    ...(input.security.hostPid ? [] : ["--unshare-pid", "--as-pid-1"]),
    ...(input.security.hostIpc ? [] : ["--unshare-ipc"]),
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(input.unshareNet ? ["--unshare-net"] : []),
    // No --new-session: the launcher (detach in launch.c) already leaves the box without a
    // controlling terminal.
    "--hostname",
    input.hostname,
    // The agent stays root in the box; it switches the main command and each exec to their
    // user itself, resolved in the box's own /etc/passwd.
    "--uid",
    "0",
    "--gid",
    "0",
    ...capabilityArgs(input.security),
    ...input.rootArgs,
    "--proc",
    "/proc",
    // As root, the launcher makes the box's /dev (see ownDev in `start`) and bubblewrap binds it.
    ...(input.ownDev ? ["--dev-bind", input.paths.dev, "/dev"] : ["--dev", "/dev"]),
    // The launcher's devpts instance, holding the main command's terminal.
    ...(input.tty ? ["--dev-bind", input.paths.pts, "/dev/pts"] : []),
    "--ro-bind",
    input.agent,
    `${GUEST_DIR}/agent`,
    "--bind",
    input.paths.run,
    GUEST_RUN,
  ];
}

/**
 * What a start on a prestarted launcher needs that is known once the launcher is made (its box's
 * id and state dir, the agent, the layout, the seccomp program): worked out while the driver is
 * idle, so the start only fills in the box's own values. Used only where the box's inputs are
 * the ones it was made for (`#headFromTemplate`); any difference computes them as usual.
 */
interface StartTemplate {
  /** The state dir (the launcher's) its paths are in. */
  stateDir: string;
  paths: StatePaths;
  /** The inputs of `head` a box's start compares (the rest follow from the launcher). */
  security: Readonly<ResolvedSecurity>;
  seccomp: string;
  agent: string;
  hostname: string;
  /** bubblewrap's head for a box with these inputs, a network of its own and the overlay. */
  head: readonly string[];
  /** v1: the groups a box without a CPU limit joins (the launcher joined them ahead). */
  joined: readonly string[];
  /** The logs the launcher opened ahead. */
  logs: { stdout: string; stderr: string };
}

/** The launcher process a box's start waits on: spawned for it, or prestarted. */
interface LauncherProcess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  readonly stdin?: WritableStream<Uint8Array>;
  hold(held: boolean): void;
}

/** A launcher spawned for its box, as a {@linkcode LauncherProcess}. */
function spawnedLauncher(child: Deno.ChildProcess): LauncherProcess {
  return {
    pid: child.pid,
    get stdout() {
      return child.stdout;
    },
    get stderr() {
      return child.stderr;
    },
    get stdin() {
      return child.stdin;
    },
    status: child.status,
    hold: (held) => {
      try {
        if (held) child.ref();
        else child.unref();
      } catch {
        // Its exit was seen already: nothing is left to hold (its pipes keep what it wrote).
      }
    },
  };
}

/**
 * The bubblewrap driver.
 *
 * @example
 * ```ts
 * import { NamespaceDriver } from "@a3s/box";
 * const driver = new NamespaceDriver({ agentCacheDir: "/tmp/a3s-agent" });
 * console.log((await driver.probe()).available);
 * ```
 */
export class NamespaceDriver implements BoxDriver {
  /** The driver's name, as `--driver` takes it. */
  readonly name = "namespace";
  /** Boxes share the host kernel, behind namespaces, seccomp and cgroups. */
  readonly isolation = "namespace" as const;
  readonly #options: NamespaceDriverOptions;
  readonly #bwrap: string;
  #seccompPath?: string;
  #agentPath?: string;
  /** The launchers started ahead for the next boxes (`prestart`), oldest first. */
  readonly #ready: PrestartedLauncher[] = [];
  /** Launchers whose state dir a box's `create` took, until its `start` hands them the spec. */
  readonly #bound = new Map<string, PrestartedLauncher>();
  /** Boxes dirs already swept of launcher dirs whose owner died. */
  readonly #swept = new Set<string>();
  /** Set by `close`: no launcher is prestarted after it. */
  #closed = false;
  /** A refill is scheduled (see `#refillSoon`). */
  #refillPending = false;
  /** Starts in progress, and when one last began or ended (`performance.now()`). */
  #starting = 0;
  #activity = 0;
  /**
   * The security of a box that sets none, resolved once for a root and once for another user
   * (the only input it then depends on; see `resolveNamespaceSecurity`).
   */
  readonly #defaultSecurity = new Map<boolean, Readonly<ResolvedSecurity>>();
  /** What each waiting launcher's start can take ready-made (see `StartTemplate`). */
  readonly #templates = new WeakMap<PrestartedLauncher, StartTemplate>();
  /** The layout boxes get, once known (see `#layout`). */
  #layoutNow?: { layout: LayoutRecord; json: string };
  /**
   * The security `create` resolved for a box's spec, for its `start` (the same spec object on
   * `run`'s path; a spec read back from the store is resolved again).
   */
  readonly #resolvedSecurity = new WeakMap<BoxSpec, Readonly<ResolvedSecurity>>();
  /** How many starts used a prestarted launcher (benchmarks and tests read it). */
  prestartedStarts = 0;
  /** How many of those took bubblewrap's head from the launcher's template (tests read it). */
  templatedStarts = 0;

  /** A driver that runs boxes with bubblewrap; nothing is checked until `probe` or `create`. */
  constructor(options: NamespaceDriverOptions) {
    this.#options = options;
    this.#bwrap = options.bwrap ?? "bwrap";
  }

  async probe(): Promise<DriverProbe> {
    const base = { name: this.name, isolation: this.isolation, strength: 10 };
    const check = await run(this.#bwrap, [
      "--unshare-all",
      "--unshare-user",
      "--ro-bind",
      "/",
      "/",
      "true",
    ]);
    const cgroup = this.#options.cgroupMode ?? await detectCgroupMode(this.#options.cgroupRoot);
    const root = uid() === 0;
    const features = {
      seccomp: true,
      cgroup,
      overlay: root,
      userNamespace: check.ok,
      // BoxSpec.security and tty: capabilities, seccomp profiles, read-only roots and the host's
      // namespaces everywhere; sysctls and a terminal for the main command as root.
      security: true,
      sysctls: root,
      tty: root,
    };
    if (!check.ok) {
      return {
        ...base,
        available: false,
        detail: check.missing
          ? `${this.#bwrap} not found (install bubblewrap)`
          : `bubblewrap cannot create namespaces: ${check.stderr || "not installed"}`,
        features,
      };
    }
    return {
      ...base,
      available: true,
      detail: `bubblewrap, cgroup ${cgroup}${features.overlay ? ", overlay" : ", read-only root"}`,
      features,
    };
  }

  #paths(spec: Pick<BoxSpec, "stateDir">): StatePaths {
    return statePaths(spec.stateDir);
  }

  /**
   * Prepares the state dir and the cgroups. Here and in `start` the file operations are
   * synchronous on purpose: each is a metadata call of microseconds, while on a loaded host every
   * async hop (to the thread pool and back to the event loop) waits for a scheduler slot, and
   * those waits were a large part of a box's start time. A box whose id was claimed from a
   * prestarted launcher (`claimId`) finds its state dir and cgroups made already; if it cannot be
   * created, the launcher is discarded with them.
   */
  async create(spec: BoxSpec): Promise<void> {
    try {
      await this.#create(spec);
      this.#bound.get(spec.id)?.give();
    } catch (error) {
      // A box that cannot be created never starts: its launcher must not wait for it.
      this.#bound.get(spec.id)?.discard();
      this.#bound.delete(spec.id);
      throw error;
    }
  }

  /** The box's resolved security settings (those of a box that sets none, resolved once). */
  #security(spec: Pick<BoxSpec, "security" | "user" | "network">): Readonly<ResolvedSecurity> {
    if (spec.security !== undefined) return resolveNamespaceSecurity(spec);
    const root = isRootUser(spec.user);
    let security = this.#defaultSecurity.get(root);
    if (!security) {
      security = Object.freeze(resolveNamespaceSecurity(spec));
      this.#defaultSecurity.set(root, security);
    }
    return security;
  }

  /**
   * The layout a box created now gets (kept in its state dir as its layout record), and its
   * text. The same for the driver's life once known: its inputs are the driver's options, this
   * process's uid and the host's cgroup mode (detected once per process).
   */
  async #layout(): Promise<{ layout: LayoutRecord; json: string }> {
    if (this.#layoutNow) return this.#layoutNow;
    const layout: LayoutRecord = {
      overlay: uid() === 0,
      cgroup: this.#options.cgroupMode ?? await detectCgroupMode(this.#options.cgroupRoot),
      ...(this.#options.cgroupRoot ? { cgroupRoot: this.#options.cgroupRoot } : {}),
    };
    this.#layoutNow = { layout, json: JSON.stringify(layout) };
    return this.#layoutNow;
  }

  async #create(spec: BoxSpec): Promise<void> {
    this.#activity = performance.now();
    const claimed = this.#bound.get(spec.id);
    const template = claimed && this.#templates.get(claimed);
    const paths = template && template.stateDir === spec.stateDir
      ? template.paths
      : this.#paths(spec);
    // Checked before anything is made: a setting this driver cannot honour refuses the box.
    const security = this.#security(spec);
    this.#resolvedSecurity.set(spec, security);
    const profile = spec.security?.seccomp?.kind === "profile"
      ? compileSeccompProfile(spec.security.seccomp.profile)
      : undefined;
    // Known once a box was created (a claimed launcher's refill had it): no await then.
    const { layout, json: layoutJson } = this.#layoutNow ?? await this.#layout();
    if (security.hostPid && layout.cgroup === "none") {
      throw new ValidationError(
        "sharing the host's pid namespace needs cgroups to find the box's processes, which this host lacks",
        "security.hostPid",
      );
    }
    if (spec.tty && uid() !== 0) {
      throw new ValidationError(
        "a terminal for the main command needs box to run as root (it mounts the box's own devpts)",
        "tty",
      );
    }
    if (security.sysctls.length > 0 && uid() !== 0) {
      throw new ValidationError(
        "setting sysctls needs box to run as root (it enters the box's namespaces to write them)",
        "security.sysctls",
      );
    }
    // A claimed launcher made the state dir and its layout record (its fingerprint, compared
    // with this layout by the claim).
    if (!claimed) {
      if (!takeStateDirAhead(spec.stateDir, layoutJson)) {
        for (const dir of STATE_SUBDIRS) {
          Deno.mkdirSync(join(spec.stateDir, dir), { recursive: true });
        }
        Deno.writeTextFileSync(paths.layout, layoutJson);
      }
    }
    // The terminal's devpts mount point only for a box that has one (a mkdir fewer per start).
    if (spec.tty) Deno.mkdirSync(paths.pts);
    if (profile) Deno.writeFileSync(paths.seccomp, profile);
    // A claimed launcher's groups were made with it.
    if (claimed) boxCgroup(layout, spec.id).writeLimits(spec.limits);
    else await boxCgroup(layout, spec.id).create(spec.limits);
  }

  /**
   * Whether a prestarted launcher can start this box: it made the wide user namespace and /dev
   * (root), and it takes neither a terminal, nor stdin, nor sysctls (those need its command
   * line's helpers).
   */
  #canPrestart(spec: Pick<BoxSpec, "tty" | "interactive">, sysctls: boolean): boolean {
    return this.#options.prestart === true && uid() === 0 && !spec.tty &&
      !spec.interactive && !sysctls;
  }

  /** What a launcher prestarted now would be prepared for; undefined before the agent is built. */
  #fingerprint(layoutJson: string): LauncherFingerprint | undefined {
    if (!this.#agentPath) return undefined;
    try {
      return {
        layoutJson,
        agent: this.#agentPath,
        agentIdentity: agentIdentity(this.#agentPath),
        bwrap: this.#bwrap,
        path: launcherPath(),
        uid: uid(),
      };
    } catch {
      return undefined; // the agent binary is gone: nothing made with it is used
    }
  }

  /**
   * The id of a prestarted launcher for the next box whose state dir is in `boxesDir`, if one
   * waits, has done its box-independent work, and was prepared for exactly what this box's start
   * would do now; the box created under that id takes the launcher with its state dir and
   * cgroups, made under the box's name ahead. Undefined otherwise (the box gets an id of its
   * own and starts the usual way). A launcher prepared for anything else (another layout, a
   * rebuilt agent, another bubblewrap or PATH) is discarded. The caller must `create` the box
   * under the id (a failed `create` discards the launcher) or `remove` it.
   */
  claimId(
    boxesDir: string,
    box: Pick<BoxSpec, "tty" | "interactive" | "security">,
  ): string | undefined {
    // Known whenever a launcher waits: the refill that made it had the layout.
    const layout = this.#layoutNow;
    if (!layout) return undefined;
    if (!this.#canPrestart(box, Object.keys(box.security?.sysctls ?? {}).length > 0)) {
      return undefined;
    }
    this.#dropDead();
    // The oldest prepared for this boxes dir; one still preparing stays for a later box.
    const index = this.#ready.findIndex((launcher) =>
      launcher.prepared && launcher.boxesDir === boxesDir
    );
    if (index < 0) return undefined;
    const [launcher] = this.#ready.splice(index, 1);
    const now = this.#fingerprint(layout.json);
    if (!launcher.alive || !now || launcher.fingerprint !== fingerprintKey(now)) {
      launcher.discard();
      return undefined;
    }
    this.#bound.set(launcher.boxId, launcher);
    return launcher.boxId;
  }

  /**
   * Prestarts the next box's launcher once this driver's starts have been quiet for
   * REFILL_DELAY_MS. Made at once, its spawn and its work ran before the caller had read the
   * box's first output (the first byte came about 1 ms later); made while another box starts,
   * it competed with that box for the CPUs (back-to-back starts measured 2-4 ms slower).
   */
  #refillSoon(boxesDir: string, layout: LayoutRecord, rootfs?: string): void {
    if (this.#options.prestart !== true || uid() !== 0 || this.#full()) return;
    if (this.#refillPending || this.#closed) return;
    this.#refillPending = true;
    const attempt = () => {
      if (this.#full() || this.#closed) {
        this.#refillPending = false;
        return;
      }
      if (this.#starting > 0 || performance.now() - this.#activity < REFILL_DELAY_MS) {
        setTimeout(attempt, REFILL_DELAY_MS);
        return;
      }
      this.#refillPending = false;
      const fingerprint = this.#fingerprint(JSON.stringify(layout));
      if (!fingerprint) return;
      if (!this.#swept.has(boxesDir)) {
        this.#swept.add(boxesDir);
        sweepAbandonedLauncherDirs(boxesDir, (name) => boxCgroup(layout, name).dirs);
        // Groups whose dir went first (a manager that exited while its discarded launcher's
        // groups were still being left) are found in the hierarchy itself.
        sweepAbandonedLauncherGroups(
          boxCgroup(layout, ".launcher").dirs.map((dir) => dirname(dir)),
        );
      }
      // Made under the next box's id: the box that claims it finds its dir and groups in place.
      const boxId = newBoxId();
      const cgroup = boxCgroup(layout, boxId);
      const launcher = PrestartedLauncher.spawn(
        boxesDir,
        boxId,
        fingerprint,
        // PATH alone: a trace file is named in each spec instead.
        { PATH: fingerprint.path },
        // The groups a box without a CPU limit joins, joined ahead (v1); v2 clones into its
        // group at the exec.
        { dirs: cgroup.dirs, join: layout.cgroup === "v1" ? cgroup.joinDirs({}) : [] },
        // The record the box's start would write (`startedRecord`), written ahead: until a box
        // claims the id it names the waiting launcher and this process as its starter.
        (pid) => JSON.stringify(this.#startedRecord(pid, fingerprint.agent, layout, boxId, false)),
        // The image started last is the likeliest next: its overlay is mounted ahead.
        rootfs,
      );
      if (!launcher) return;
      const template = this.#startTemplate(launcher, layout);
      if (template) this.#templates.set(launcher, template);
      this.#ready.push(launcher);
      // The pool fills one launcher at a time, each after a quiet spell of its own.
      this.#refillSoon(boxesDir, layout, rootfs);
    };
    setTimeout(attempt, REFILL_DELAY_MS);
  }

  /**
   * The start template of a launcher just made for the usual box (no security settings, root,
   * a network of its own, its id as hostname); undefined before the first box of this driver
   * wrote the seccomp program.
   */
  #startTemplate(launcher: PrestartedLauncher, layout: LayoutRecord): StartTemplate | undefined {
    const seccomp = this.#seccompPath;
    const agent = this.#agentPath;
    if (!seccomp || !agent) return undefined;
    const paths = statePaths(launcher.dir);
    const security = this.#security({ network: "none", user: undefined, security: undefined });
    const hostname = launcher.boxId.slice(0, 12);
    return {
      stateDir: launcher.dir,
      paths,
      security,
      seccomp,
      agent,
      hostname,
      head: bubblewrapHead({
        seccomp: true,
        wideUserns: true,
        security,
        unshareNet: true,
        hostname,
        rootArgs: ["--bind", paths.merged, "/"],
        ownDev: true,
        tty: false,
        paths,
        agent,
      }),
      joined: layout.cgroup === "v1" ? boxCgroup(layout, launcher.boxId).joinDirs({}) : [],
      logs: {
        stdout: join(launcher.dir, LAUNCHER_LOGS.stdout),
        stderr: join(launcher.dir, LAUNCHER_LOGS.stderr),
      },
    };
  }

  /** The pid record of box `boxId`, its process (the launcher) `pid`, started by this process. */
  #startedRecord(
    pid: number,
    agent: string,
    layout: LayoutRecord,
    boxId: string,
    hostPid: boolean,
  ): PidRecord {
    return {
      pid,
      startTime: pid ? processIdentitySync(pid)?.startTime ?? "" : "",
      agent,
      ...(layout.cgroup === "v2" ? { monitor: true } : {}),
      ...(hostPid ? {} : { agentIsInit: true }),
      ...startedByThisProcess(this.name, boxId),
    };
  }

  /** Discards the waiting launchers that died (their dirs and groups go with them). */
  #dropDead(): void {
    for (let i = this.#ready.length - 1; i >= 0; i--) {
      if (!this.#ready[i].alive) this.#ready.splice(i, 1)[0].discard();
    }
  }

  /** Whether as many launchers wait as `prestartPool` asks for. */
  #full(): boolean {
    this.#dropDead();
    return this.#ready.length >= (this.#options.prestartPool ?? 1);
  }

  /**
   * Prestarts the first launcher for boxes whose state dirs live in `boxesDir`, so a long-lived
   * manager's first box finds one ready (with `prestart`, as root; otherwise nothing). Only where
   * the agent was built already (a data dir that has run a box): compiling it here would cost
   * every new data dir seconds of CPU at startup, where the first box builds it anyway. Resolves
   * once the launcher's spawn is scheduled, and never rejects: without a launcher the first box
   * starts the usual way.
   */
  async prestartFirst(boxesDir: string): Promise<void> {
    if (this.#options.prestart !== true || uid() !== 0 || this.#closed) return;
    try {
      this.#agentPath ??= await builtAgent(this.#options.agentCacheDir);
      if (!this.#agentPath) return;
      Deno.mkdirSync(boxesDir, { recursive: true });
      this.#refillSoon(boxesDir, (await this.#layout()).layout);
    } catch {
      // No agent (no C compiler) or no cgroups to probe: the first box says why when it starts.
    }
  }

  /**
   * Kills the prestarted launcher and those bound to boxes not started yet, and removes what
   * was made for them; a closed driver prestarts no more.
   */
  close(): void {
    this.#closed = true;
    for (const launcher of this.#ready.splice(0)) launcher.discard();
    for (const launcher of this.#bound.values()) launcher.discard();
    this.#bound.clear();
  }

  async writableLayer(spec: BoxSpec): Promise<string | undefined> {
    const paths = this.#paths(spec);
    const layout = JSON.parse(await Deno.readTextFile(paths.layout)) as LayoutRecord;
    return layout.overlay ? paths.upper : undefined;
  }

  async updateLimits(spec: BoxSpec, limits: BoxLimits): Promise<void> {
    const layout = JSON.parse(await Deno.readTextFile(this.#paths(spec).layout)) as LayoutRecord;
    if (layout.cgroup === "none") {
      throw new A3sError("unsupported", "limits need cgroups, which this host lacks", {
        status: 409,
      });
    }
    await boxCgroup(layout, spec.id).update(limits);
  }

  /**
   * cgroup v2 freezes the box's cgroup (`cgroup.freeze`); on v1 every process in the box's
   * cgroup gets SIGSTOP or SIGCONT (box joins no v1 freezer controller).
   */
  async setPaused(spec: BoxSpec, paused: boolean): Promise<void> {
    const layout = JSON.parse(await Deno.readTextFile(this.#paths(spec).layout)) as LayoutRecord;
    const cgroup = boxCgroup(layout, spec.id);
    if (layout.cgroup === "none") {
      throw new A3sError("unsupported", "pause needs cgroups, which this host lacks", {
        status: 409,
      });
    }
    if (layout.cgroup === "v2") {
      await Deno.writeTextFile(join(cgroup.dirs[0], "cgroup.freeze"), paused ? "1" : "0");
      return;
    }
    const text = await Deno.readTextFile(join(cgroup.dirs[0], "cgroup.procs"));
    for (const pid of text.split("\n").filter(Boolean).map(Number)) {
      try {
        Deno.kill(pid, paused ? "SIGSTOP" : "SIGCONT");
      } catch {
        // The process ended meanwhile.
      }
    }
  }

  async releaseRootfs(spec: BoxSpec): Promise<void> {
    const paths = this.#paths(spec);
    if (isMountPointSync(paths.merged)) await unmount(paths.merged);
  }

  /**
   * Mounts the box's overlay unless it is mounted: with a system call when FFI is allowed (no
   * await on a box's start path), with the `mount` program otherwise.
   */
  async #mountOverlay(spec: BoxSpec, layout: LayoutRecord): Promise<boolean> {
    const paths = this.#paths(spec);
    if (!layout.overlay) return false;
    if (isMountPointSync(paths.merged)) return true;
    return mountOverlaySync(spec.rootfs, paths.upper, paths.work, paths.merged) ??
      await mountOverlay(spec.rootfs, paths.upper, paths.work, paths.merged);
  }

  /** The overlay mounted without awaiting, or undefined where that needs the program. */
  #mountOverlayNow(spec: BoxSpec, layout: LayoutRecord): boolean | undefined {
    const paths = this.#paths(spec);
    if (!layout.overlay) return false;
    if (isMountPointSync(paths.merged)) return true;
    return mountOverlaySync(spec.rootfs, paths.upper, paths.work, paths.merged);
  }

  /**
   * Read-only root without overlay: bind each top-level entry of the rootfs, with a writable
   * /tmp unless the box asked for a read-only root (then /tmp is read-only too, as in Docker).
   */
  async #readOnlyRootArgs(rootfs: string, readOnly: boolean): Promise<string[]> {
    const args: string[] = [];
    for await (const entry of Deno.readDir(rootfs)) {
      const path = join(rootfs, entry.name);
      if (["proc", "dev", "tmp"].includes(entry.name)) continue;
      if (entry.isSymlink) args.push("--symlink", await Deno.readLink(path), `/${entry.name}`);
      else args.push("--ro-bind", path, `/${entry.name}`);
    }
    return readOnly ? args : [...args, "--tmpfs", "/tmp"];
  }

  /**
   * The seccomp program's file, named by its content: compiled and written once per host (not
   * once per box or per process), and never rewritten under a box that is loading it.
   */
  async #seccomp(): Promise<string> {
    if (this.#seccompPath) return this.#seccompPath;
    const program = buildSeccompFilter();
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", program as Uint8Array<ArrayBuffer>),
    );
    const name = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
    const path = join(this.#options.agentCacheDir, `seccomp-${name}.bpf`);
    if (!(await Deno.stat(path).then(() => true, () => false))) {
      await Deno.mkdir(this.#options.agentCacheDir, { recursive: true });
      const temp = `${path}.${crypto.randomUUID()}`;
      await Deno.writeFile(temp, program);
      await Deno.rename(temp, path);
    }
    this.#seccompPath = path;
    return path;
  }

  async start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    // Counted, so no launcher is prestarted while a box starts (see `#refillSoon`).
    this.#starting++;
    this.#activity = performance.now();
    try {
      return await this.#startBox(spec, output);
    } finally {
      this.#starting--;
      this.#activity = performance.now();
    }
  }

  async #startBox(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    // A prestarted launcher's state dir holds the layout its fingerprint matched (`create`
    // compared it): no read of the record, and no stale status or socket in its fresh run dir.
    const bound = this.#bound.get(spec.id);
    const template = bound && this.#templates.get(bound);
    const paths = template && template.stateDir === spec.stateDir
      ? template.paths
      : this.#paths(spec);
    const layout = bound
      ? (bound.layoutJson === this.#layoutNow?.json
        ? this.#layoutNow.layout
        : JSON.parse(bound.layoutJson) as LayoutRecord)
      : readJsonSync<LayoutRecord>(paths.layout);
    if (!layout) throw new A3sError("box_not_created", `box ${spec.id} was never created`);
    // A previous run's status and socket go; listed rather than removed blindly, since a first
    // start has neither and each failed removal would build an error object on the start path.
    for (const entry of bound ? [] : Deno.readDirSync(paths.run)) {
      if (entry.name === "status" || entry.name === "agent.sock") {
        Deno.removeSync(join(paths.run, entry.name));
      }
    }
    // Once the agent is built and the seccomp program written (the first box of a process), no
    // await comes before the spawn: `start` spawns the launcher before it returns its promise, so
    // the caller's own work (the manager's store writes) overlaps the box's setup.
    const agent = this.#agentPath ??
      (this.#agentPath = await buildAgent(this.#options.agentCacheDir));
    const security = this.#resolvedSecurity.get(spec) ?? this.#security(spec);
    const seccomp = security.seccomp === "none"
      ? undefined
      : security.seccomp === "profile"
      ? paths.seccomp
      : this.#seccompPath ?? await this.#seccomp();
    // A launcher prestarted for this box (its id claimed, its state dir made with it) mounts the
    // overlay itself, in the mount namespace it made before the box existed.
    let prestarted = this.#bound.get(spec.id);
    this.#bound.delete(spec.id);
    if (prestarted && (!prestarted.alive || isMountPointSync(paths.merged))) {
      prestarted.discard();
      prestarted = undefined;
    }
    const overlay = prestarted !== undefined ||
      (this.#mountOverlayNow(spec, layout) ?? await this.#mountOverlay(spec, layout));
    const cgroup = boxCgroup(layout, spec.id);
    // As root, the launcher makes a user namespace mapping every id an image uses, so execs can
    // run as the image's users; otherwise bubblewrap maps the one id it can.
    const wideUserns = uid() === 0;
    // An attached caller reads the main command's output from pipes (a terminal box's output is
    // one stream through the launcher's pump, so it is followed in the log instead).
    const attach = output.attach === true && !spec.tty;
    // The box's /dev from the launcher (a tmpfs with the same nodes, devpts and shm, in its
    // private mount namespace) instead of bubblewrap's --dev, whose bind mount per device node
    // each re-read the host's whole mount table. Making device nodes takes root; a terminal box
    // keeps bubblewrap's (its launcher has a devpts of its own to bind over /dev/pts).
    const ownDev = wideUserns && !spec.tty;
    const hostname = spec.hostname ?? spec.id.slice(0, 12);
    const unshareNet = spec.network !== "host" && !spec.netns;
    // A box with the inputs its launcher's template was made for (the usual box: no security
    // settings, a network of its own, its id as hostname) takes the head worked out ahead.
    const fromTemplate = prestarted !== undefined && template !== undefined &&
      template.stateDir === spec.stateDir && template.security === security &&
      template.seccomp === seccomp && template.agent === agent &&
      template.hostname === hostname && unshareNet && wideUserns && ownDev;
    const args = fromTemplate ? [...template.head] : bubblewrapHead({
      seccomp: seccomp !== undefined,
      wideUserns,
      security,
      unshareNet,
      hostname,
      rootArgs: overlay
        ? ["--bind", paths.merged, "/"]
        : await this.#readOnlyRootArgs(spec.rootfs, security.readOnlyRootfs),
      ownDev,
      tty: spec.tty === true,
      paths,
      agent,
    });
    for (const volume of spec.volumes) {
      args.push(volume.readOnly ? "--ro-bind" : "--bind", volume.host, volume.guest);
    }
    // Docker's --read-only: the root goes read-only once every mount point in it exists; the
    // mounts on it (volumes, /proc, /dev, the agent's run dir) keep their own modes.
    if (overlay && security.readOnlyRootfs) args.push("--remount-ro", "/");
    args.push("--clearenv");
    // With a user, HOME comes from that user's passwd entry unless the box sets it.
    const env = {
      PATH: DEFAULT_PATH,
      ...(spec.user ? {} : { HOME: "/root" }),
      HOSTNAME: spec.hostname ?? "",
      ...spec.env,
    };
    for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
    if (spec.workdir) args.push("--chdir", spec.workdir);
    args.push(
      `${GUEST_DIR}/agent`,
      "--socket",
      `${GUEST_RUN}/agent.sock`,
      "--status",
      `${GUEST_RUN}/status`,
    );
    if (spec.user) args.push("--user", spec.user);
    args.push("--ready-fd", "11");
    if (attach) args.push("--attach-out", "11", "--attach-err", "15");
    // Profiling: the launcher hands its trace file on as fd 14, so the agent's steps land there.
    if (Deno.env.get("A3S_LAUNCH_TRACE")) args.push("--trace-fd", "14");
    if (spec.timeoutSeconds) args.push("--timeout", String(Math.ceil(spec.timeoutSeconds)));
    args.push("--", ...spec.command);

    // The launcher (the agent binary's host role) puts the box in its cgroups before anything of
    // it runs, so no box process starts outside its limits; it opens the logs and the seccomp
    // program, enters a prepared network namespace, makes the user namespace and the terminal,
    // sets the sysctls, and runs bubblewrap. Spawned without `detached` (the launcher makes its
    // own session), Deno can use posix_spawn instead of forking the whole runtime, which cost
    // several milliseconds per box.
    // What only this box decides (a prestarted launcher gets it in its spec)...
    const logs = ["--stdout", output.stdoutPath, "--stderr", output.stderrPath];
    // Bounded, the box writes to pipes and the launcher's log keeper rotates the files.
    const logBound = output.logBound;
    if (logBound) logs.push("--log-max", String(logBound.maxSize), String(logBound.maxFiles));
    const launch: string[] = [];
    // cgroup v2: bubblewrap is cloned into the box's group, so nothing of the box is ever moved
    // (a move waits for an RCU grace period); v1 has no such clone, so the launcher's helper moves.
    const into = layout.cgroup === "v2";
    if (into) launch.push("--into-cgroup", cgroup.dirs[0]);
    else for (const dir of cgroup.joinDirs(spec.limits)) launch.push("--cgroup", dir);
    for (const sysctl of security.sysctls) launch.push("--sysctl", sysctl);
    if (seccomp) launch.push("--seccomp", seccomp);
    if (spec.netns) launch.push("--netns", spec.netns);
    // ...and what a prestarted launcher did before its box existed.
    const ahead = [
      ...(spec.tty ? ["--tty", paths.pts] : []),
      ...(ownDev ? ["--dev", paths.dev] : []),
      ...(wideUserns ? ["--userns"] : []),
      "--ready",
      ...(attach ? ["--attach"] : []),
    ];
    let child: LauncherProcess | undefined;
    if (prestarted) {
      // The spec: what the command line would say, less what the launcher did ahead (the pipes,
      // detach, /dev, the user namespace), plus the overlay.
      const trace = Deno.env.get("A3S_LAUNCH_TRACE");
      // v1: the groups a box without a CPU limit joins, the launcher joined ahead (made under
      // the box's id).
      const joined = into ? [] : fromTemplate ? template.joined : cgroup.joinDirs({});
      // The logs it opened ahead in its dir, the box's state dir, stay open when they are the
      // box's logs.
      const logsAt = fromTemplate ? template.logs : {
        stdout: join(spec.stateDir, LAUNCHER_LOGS.stdout),
        stderr: join(spec.stateDir, LAUNCHER_LOGS.stderr),
      };
      // A bounded box's logs go through a keeper the spec's --log-max starts, not those fds.
      const logsAhead = !logBound && output.stdoutPath === logsAt.stdout &&
        output.stderrPath === logsAt.stderr;
      const given = [
        ...(logsAhead ? [] : logs),
        ...launch.filter((arg, i) =>
          !(arg === "--cgroup" && joined.includes(launch[i + 1])) &&
          !(launch[i - 1] === "--cgroup" && joined.includes(arg))
        ),
      ];
      const specArgs = [
        ...given,
        "--overlay",
        spec.rootfs,
        paths.upper,
        paths.work,
        paths.merged,
        ...(trace ? ["--trace", trace] : []),
        ...(attach ? [] : ["--detached"]),
        "--",
        this.#bwrap,
        ...args,
      ];
      // Written without an await where it can be: the box then has its process before `start`
      // returns its promise (see `sendSync`).
      if (prestarted.sendSync(specArgs) ?? await prestarted.send(specArgs)) {
        child = prestarted;
        this.prestartedStarts++;
        if (fromTemplate) this.templatedStarts++;
      } else {
        // It never ran anything: the box starts the usual way, in the same state dir.
        prestarted.discard();
        prestarted = undefined;
        if (!this.#mountOverlayNow(spec, layout) && !(await this.#mountOverlay(spec, layout))) {
          throw new A3sError("box_start_failed", `cannot mount the overlay of box ${spec.id}`);
        }
      }
    }
    child ??= spawnedLauncher(
      new Deno.Command(agent, {
        args: ["launch", ...logs, ...launch, ...ahead, "--", this.#bwrap, ...args],
        clearEnv: true,
        env: launcherEnv(),
        stdin: spec.interactive ? "piped" : "null",
        stdout: "piped",
        // Attached, the launcher keeps this pipe for the agent as the main command's stderr.
        stderr: attach ? "piped" : "null",
      }).spawn(),
    );
    // A prestarted launcher's dir holds its record already, written when it was made with what
    // a box sharing no host pid namespace records (the same agent: its fingerprint matched).
    if (child !== prestarted || security.hostPid) {
      const record = this.#startedRecord(child.pid, agent, layout, spec.id, security.hostPid);
      Deno.writeTextFileSync(paths.pid, JSON.stringify(record));
    }
    output.onProcess?.();
    child.status.catch(() => {});
    child.hold(false);
    const stdin = spec.interactive ? child.stdin : undefined;
    if (!attach) {
      // The launcher started ahead keeps an attach pipe nobody reads; the box closes its end.
      if (child === prestarted) child.stderr.cancel().catch(() => {});
      await this.#waitForAgent(spec, child.stdout, output, false);
      this.#refillSoon(join(spec.stateDir, ".."), layout, spec.rootfs);
      return { pid: child.pid, stdin };
    }
    let ready;
    try {
      ready = await this.#waitForAgent(spec, child.stdout, output, true);
    } catch (error) {
      child.stderr.cancel().catch(() => {});
      throw error;
    }
    if (!ready) {
      // The box ended before the agent was ready: its output is all in the logs.
      child.stderr.cancel().catch(() => {});
      return { pid: child.pid, stdin };
    }
    const statusPath = paths.status;
    const launcher = child;
    return {
      pid: child.pid,
      stdin,
      output: attachedOutput({
        stdout: ready.reader,
        stdoutHead: ready.head,
        stderr: child.stderr,
        // The next box's launcher is scheduled once the caller has the first output (a timer
        // costs 30-50 microseconds here, which the first byte need not wait for).
        afterHead: () => this.#refillSoon(join(spec.stateDir, ".."), layout, spec.rootfs),
        ended: async () => {
          // The agent writes the status just before it exits: then the pipes closed because the
          // box is ending, and its last process (bubblewrap, or the launcher above it) follows.
          if (existsSync(statusPath)) await launcher.status.catch(() => {});
        },
        hold: (held) => launcher.hold(held),
      }),
    };
  }

  /**
   * Waits for the agent's ready byte on the launcher's stdout pipe (the agent writes it once it
   * serves exec). The pipe ending without it means the box never got that far: a box whose
   * command already finished has a status file; anything else failed to start.
   */
  async #waitForAgent(
    spec: BoxSpec,
    ready: ReadableStream<Uint8Array>,
    output: BoxOutput,
    keep: false,
  ): Promise<undefined>;
  async #waitForAgent(
    spec: BoxSpec,
    ready: ReadableStream<Uint8Array>,
    output: BoxOutput,
    keep: true,
  ): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; head: Uint8Array } | undefined>;
  /**
   * With `keep`, the pipe goes on as the attached stdout: the reader comes back with whatever
   * followed the ready byte in its read, and undefined when the box ended before it was ready.
   */
  async #waitForAgent(
    spec: BoxSpec,
    ready: ReadableStream<Uint8Array>,
    output: BoxOutput,
    keep: boolean,
  ): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; head: Uint8Array } | undefined> {
    const reader = ready.getReader();
    let kept = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#options.startTimeoutMs ?? 10_000);
    });
    try {
      const first = await Promise.race([reader.read(), timeout]);
      if (first === "timeout") {
        throw new A3sError("box_start_failed", "box agent did not come up in time");
      }
      if (!first.done && first.value.length > 0) {
        if (!keep) return undefined;
        kept = true;
        return { reader, head: first.value.subarray(1) };
      }
      if (await this.#statusFile(spec)) return undefined;
      // On a terminal, everything (bubblewrap's complaints too) went to the one stream.
      const log = spec.tty ? output.stdoutPath : output.stderrPath;
      const stderr = await Deno.readTextFile(log).catch(() => "");
      const line = stderr.trim().split("\n").pop() ?? "";
      throw new A3sError("box_start_failed", `box failed to start: ${line || "no output"}`);
    } finally {
      clearTimeout(timer);
      // Nothing more is read from the pipe; letting go of it keeps no handle on the box.
      if (!kept) reader.cancel().catch(() => {});
    }
  }

  async #running(spec: BoxSpec): Promise<boolean> {
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    return record !== undefined && await isAlive(record);
  }

  async #statusFile(
    spec: BoxSpec,
  ): Promise<{ code: number; signal: number; reason: string } | undefined> {
    const text = await Deno.readTextFile(this.#paths(spec).status).catch(() => undefined);
    const match = text?.match(/^(\d+) (\d+) (\w+)/);
    return match
      ? { code: Number(match[1]), signal: Number(match[2]), reason: match[3] }
      : undefined;
  }

  /** Opens a new connection to the box's agent. */
  connect(spec: BoxSpec): Promise<AgentClient> {
    return connectAgentSocket(this.#paths(spec).socket, spec.id.slice(0, 12));
  }

  async exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess> {
    // As in Docker, an exec runs as the box's user unless it names one.
    const user = request.user ?? spec.user;
    const security = resolveNamespaceSecurity(spec);
    if (security.agentOnly.length > 0 && isRootUser(user)) {
      // The agent kept these only to become the box's user; a root exec would hold them.
      throw new ValidationError(
        `this box dropped ${security.agentOnly.join(" and ")}: an exec as root would hold them`,
        "user",
      );
    }
    const client = await this.connect(spec);
    const process = await client.exec({ ...request, user });
    process.status.finally(() => client.close()).catch(() => {});
    return process;
  }

  /** The box's pid-namespace init (bubblewrap's inner process): killing it ends the box. */
  async #namespaceInit(spec: BoxSpec): Promise<number | undefined> {
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    if (!record || !(await isAlive(record))) return undefined;
    const bwrap = record.monitor ? await bubblewrapChild(record.pid) : record.pid;
    return bwrap === undefined ? undefined : (await childPids(bwrap))[0];
  }

  /**
   * The agent: the namespace init itself, or, sharing the host's pid namespace (where bubblewrap
   * runs no init), bubblewrap's child; under bubblewrap's own init (boxes started before the agent
   * became pid 1), that init's child.
   */
  async #agentPid(spec: BoxSpec): Promise<number | undefined> {
    const init = await this.#namespaceInit(spec);
    if (init === undefined || spec.security?.hostPid) return init;
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    return record?.agentIsInit ? init : (await childPids(init))[0];
  }

  async stop(spec: BoxSpec, graceSeconds: number): Promise<void> {
    const agent = await this.#agentPid(spec);
    if (agent === undefined) return;
    signalProcess(agent, "SIGTERM");
    const deadline = Date.now() + graceSeconds * 1000;
    while (Date.now() < deadline && await this.#running(spec)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (await this.#running(spec)) await this.kill(spec, 9);
  }

  async kill(spec: BoxSpec, signal: number): Promise<void> {
    if (signal === 9) {
      const init = await this.#namespaceInit(spec);
      if (init !== undefined) signalProcess(init, "SIGKILL");
      const layout = await readJson<LayoutRecord>(this.#paths(spec).layout);
      // Without a pid namespace init to take everything down, the cgroup still can.
      if (layout) {
        for (const pid of await boxCgroup(layout, spec.id).processes()) {
          signalProcess(pid, "SIGKILL");
        }
      }
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && await this.#running(spec)) {
        await new Promise((r) => setTimeout(r, 5));
      }
      return;
    }
    const agent = await this.#agentPid(spec);
    if (agent === undefined) return;
    const main = (await childPids(agent))[0];
    signalProcess(main ?? agent, signalName(signal));
  }

  /**
   * The box's state, from small files read synchronously: every exec and every listing asks, and
   * each async read waited for a thread-pool slot and an event-loop turn on a loaded host.
   */
  async state(spec: BoxSpec): Promise<DriverBoxState> {
    const record = readJsonSync<PidRecord>(this.#paths(spec).pid);
    const layout = readJsonSync<LayoutRecord>(this.#paths(spec).layout);
    const limitsHit = () =>
      layout ? boxCgroup(layout, spec.id).limitsHitSync() : { oom: false, pids: false };
    if (record && isAliveSync(record)) {
      const hit = limitsHit();
      if (!hit.oom && !hit.pids) return { running: true, pid: record.pid };
      // A box that hit its memory or pids limit is over: it is killed whole, so a half-dead box
      // (its bomb killed, its shell alive) never lingers. Every observer enforces this.
      await this.kill(spec, 9);
    }
    // The counters are read only once the box is seen gone: the kernel counts an OOM kill before
    // it sends the signal, so they are final now. Read before the liveness check, they could miss
    // a kill that happened in between, and a box killed for memory read as plainly `exited`.
    const hit = limitsHit();
    const status = await this.#statusFile(spec);
    let reason: ExitReason = (status?.reason as ExitReason | undefined) ?? "killed";
    if (hit.oom) reason = "oom";
    else if (hit.pids && reason !== "timeout") reason = "pids_limit";
    return {
      running: false,
      exitCode: status?.code ?? 137,
      signal: status?.signal ?? 9,
      reason,
    };
  }

  /** The box's memory, process and CPU use, read from its cgroup; empty without one. */
  async stats(spec: BoxSpec): Promise<BoxStats> {
    const layout = await readJson<LayoutRecord>(this.#paths(spec).layout);
    return layout ? await boxCgroup(layout, spec.id).stats() : {};
  }

  /**
   * Resizes the main command's terminal (`tty` boxes): bubblewrap holds it as its stdin, the one
   * way into the launcher's private devpts from the host.
   */
  async resizeTerminal(spec: BoxSpec, rows: number, cols: number): Promise<void> {
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    if (!spec.tty || !record || !(await isAlive(record))) {
      throw new A3sError("box_not_running", `box ${spec.id.slice(0, 12)} has no running terminal`, {
        status: 409,
      });
    }
    const bwrap = record.monitor ? await bubblewrapChild(record.pid) : record.pid;
    if (bwrap === undefined || !setTerminalSize(`/proc/${bwrap}/fd/0`, rows, cols)) {
      throw new A3sError(
        "resize_failed",
        `cannot resize the terminal of box ${spec.id.slice(0, 12)}`,
      );
    }
  }

  async copyIn(spec: BoxSpec, data: Uint8Array, guestPath: string, mode: number): Promise<void> {
    const client = await this.connect(spec);
    try {
      await client.put(guestPath, data, mode);
    } finally {
      client.close();
    }
  }

  async copyOut(spec: BoxSpec, guestPath: string): Promise<Uint8Array> {
    const client = await this.connect(spec);
    try {
      return await client.get(guestPath);
    } finally {
      client.close();
    }
  }

  async abandoned(stateDir: string): Promise<string | undefined> {
    const record = await readJson<PidRecord>(join(stateDir, "pid.json"));
    // Records written before they named their driver are this driver's: no other named a starter.
    return await abandonedBox(
      stateDir,
      record && { ...record, driver: record.driver ?? this.name },
      this.name,
    );
  }

  async remove(spec: BoxSpec): Promise<void> {
    const paths = this.#paths(spec);
    // A box created and never started: its launcher will not run it.
    this.#bound.get(spec.id)?.discard();
    this.#bound.delete(spec.id);
    if (await this.#running(spec)) await this.kill(spec, 9);
    const layout = await readJson<LayoutRecord>(paths.layout);
    if (layout) await boxCgroup(layout, spec.id).remove();
    if (isMountPointSync(paths.merged)) await unmount(paths.merged);
    await removeStateDir(spec.stateDir).catch(() => {});
    // Off any box's start path: the next box's state dir, made now rather than on its start.
    if (layout) prepareStateDirAhead(join(spec.stateDir, ".."), JSON.stringify(layout));
  }
}
