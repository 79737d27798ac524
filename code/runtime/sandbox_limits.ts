/**
 * Limits on one sandboxed command: how many processes (and threads) it may have at once and how
 * much memory it may use. Two mechanisms, each where the host allows it:
 *
 * - a cgroup per command (v2, or the v1 `pids` and `memory` hierarchies), made under this
 *   process's own cgroup when that is writable (as root in a container, or a delegated systemd
 *   scope): `pids.max` and the memory limit bound the command and everything it starts, as a
 *   whole;
 * - resource limits set inside the sandbox before the command starts: `RLIMIT_NPROC` (`ulimit
 *   -u`), counted per user namespace since Linux 5.14, so it bounds the sandbox's own processes
 *   when bubblewrap runs unprivileged (it is not enforced for root, where the cgroup is what
 *   holds), and `RLIMIT_DATA` (`ulimit -d`), a per-process bound on memory used when there is
 *   no cgroup. `RLIMIT_AS` is not used: V8 (node, deno) reserves far more address space than it
 *   uses and cannot start under a useful one.
 */
import { join } from "node:path";

/** What one command may use. */
export interface SandboxLimits {
  /** Processes and threads at once (cgroup `pids.max`; `ulimit -u` when unprivileged). */
  pids?: number;
  /** Memory in MiB (cgroup memory limit, swap included where the host accounts it). */
  memoryMb?: number;
}

/** The least `RLIMIT_DATA` applied: deno's runtime alone maps about 1 GiB of writable memory. */
const MIN_DATA_MB = 2048;

/**
 * The shell lines that set `limits` as resource limits (soft and hard, so the command cannot
 * raise them again), run inside the sandbox before the command. `nproc` only when it holds: in
 * a user namespace of the sandbox's own (not as root, where it is not enforced).
 */
export function rlimitPrelude(limits: SandboxLimits, nproc: boolean, data: boolean): string {
  const lines: string[] = [];
  if (nproc && limits.pids) lines.push(`ulimit -u ${Math.floor(limits.pids)} 2>/dev/null`);
  if (data && limits.memoryMb) {
    const kib = Math.max(limits.memoryMb, MIN_DATA_MB) * 1024;
    lines.push(`ulimit -d ${Math.floor(kib)} 2>/dev/null`);
  }
  return lines.map((line) => `${line}; `).join("");
}

/** Where this process's cgroups are and which kind: what {@linkcode CommandCgroup}s are made under. */
export interface CgroupBase {
  /** `v2` (one unified hierarchy) or `v1` (a folder per controller). */
  mode: "v2" | "v1";
  /** The folder of the `pids` controller (v2: the one folder). */
  pids: string;
  /** The folder of the `memory` controller (v2: the one folder). */
  memory: string;
}

/** Prefix of the cgroups made for commands; stale ones of a crashed server are swept by it. */
const PREFIX = "a3s-sandbox-";

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function canMakeGroupIn(dir: string): boolean {
  const probe = join(dir, `${PREFIX}probe-${crypto.randomUUID().slice(0, 8)}`);
  try {
    Deno.mkdirSync(probe);
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** Removes empty command groups left by an earlier process (one killed before it cleaned up). */
function sweep(dir: string): void {
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
      try {
        Deno.removeSync(join(dir, entry.name));
      } catch { /* in use by a running command, or not ours to remove */ }
    }
  } catch { /* unreadable: nothing to sweep */ }
}

/**
 * Finds where commands' cgroups can be made: under this process's own cgroup, in the hierarchy
 * mounted at `root`. Undefined when none is writable (most unprivileged hosts), or on v2 when
 * the `pids` and `memory` controllers are not delegated to its children.
 */
export function detectCgroupBase(
  root = "/sys/fs/cgroup",
  selfCgroup = readText("/proc/self/cgroup") ?? "",
): CgroupBase | undefined {
  const lines = selfCgroup.split("\n").filter(Boolean).map((line) => {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    return { controllers: (controllers ?? "").split(","), path: path ?? "/" };
  });
  const v1 = (controller: string) => {
    const line = lines.find((l) => l.controllers.includes(controller));
    return line ? join(root, controller, line.path).replace(/(.)\/+$/, "$1") : undefined;
  };
  const pids = v1("pids");
  const memory = v1("memory");
  if (pids && memory && canMakeGroupIn(pids) && canMakeGroupIn(memory)) {
    sweep(pids);
    sweep(memory);
    return { mode: "v1", pids, memory };
  }
  const unified = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === "");
  if (!unified) return undefined;
  // A pure v2 host mounts it at the root; a hybrid one under `unified`.
  for (const mount of [root, join(root, "unified")]) {
    const dir = join(mount, unified.path).replace(/(.)\/+$/, "$1");
    const control = readText(join(dir, "cgroup.subtree_control"));
    if (control === undefined) continue;
    if (!/\bpids\b/.test(control) || !/\bmemory\b/.test(control)) {
      try {
        Deno.writeTextFileSync(join(dir, "cgroup.subtree_control"), "+pids +memory");
      } catch {
        continue;
      }
    }
    if (!canMakeGroupIn(dir)) continue;
    sweep(dir);
    return { mode: "v2", pids: dir, memory: dir };
  }
  return undefined;
}

let detected: { base: CgroupBase | undefined } | undefined;

/** {@linkcode detectCgroupBase} of this host, looked up once. */
export function hostCgroupBase(): CgroupBase | undefined {
  detected ??= { base: detectCgroupBase() };
  return detected.base;
}

/** What a command's cgroup saw: whether it hit a limit. */
export interface LimitEvents {
  /** A fork or thread was refused at `pids.max`. */
  pidsRefused: boolean;
  /** A process was killed, or an allocation refused, at the memory limit. */
  outOfMemory: boolean;
}

/** The cgroup(s) of one command: made with its limits, joined by its launcher, removed after. */
export class CommandCgroup {
  /** The folders the command's first process joins (one on v2, one per hierarchy on v1). */
  readonly dirs: string[];
  readonly #base: CgroupBase;
  readonly #pidsDir: string;
  readonly #memoryDir: string;

  private constructor(base: CgroupBase, name: string) {
    this.#base = base;
    this.#pidsDir = join(base.pids, name);
    this.#memoryDir = join(base.memory, name);
    this.dirs = [...new Set([this.#pidsDir, this.#memoryDir])];
  }

  /** Makes the groups of one command under `base` with `limits`; undefined when that fails. */
  static create(base: CgroupBase, limits: SandboxLimits): CommandCgroup | undefined {
    const group = new CommandCgroup(base, `${PREFIX}${crypto.randomUUID().slice(0, 12)}`);
    try {
      for (const dir of group.dirs) Deno.mkdirSync(dir);
      group.#write(limits);
      return group;
    } catch {
      for (const dir of group.dirs) {
        try {
          Deno.removeSync(dir);
        } catch { /* not made */ }
      }
      return undefined;
    }
  }

  #write(limits: SandboxLimits): void {
    const set = (dir: string, file: string, value: string) =>
      Deno.writeTextFileSync(join(dir, file), value);
    const optional = (dir: string, file: string, value: string) => {
      try {
        set(dir, file, value);
      } catch { /* this host does not account it (no swap accounting) */ }
    };
    if (limits.pids) set(this.#pidsDir, "pids.max", String(Math.floor(limits.pids)));
    if (!limits.memoryMb) return;
    const bytes = String(Math.floor(limits.memoryMb * 1024 * 1024));
    if (this.#base.mode === "v2") {
      set(this.#memoryDir, "memory.max", bytes);
      optional(this.#memoryDir, "memory.swap.max", "0");
    } else {
      set(this.#memoryDir, "memory.limit_in_bytes", bytes);
      optional(this.#memoryDir, "memory.memsw.limit_in_bytes", bytes);
    }
  }

  /**
   * The launcher that moves itself into the groups, then runs `program` with `args` (its
   * children inherit the groups): a shell, as Deno cannot place a child in a cgroup itself.
   */
  wrap(program: string, args: string[]): { program: string; args: string[] } {
    return {
      program: "sh",
      args: [
        "-c",
        'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"',
        "a3s-sandbox",
        ...this.dirs,
        "--",
        program,
        ...args,
      ],
    };
  }

  /** Whether the command hit its limits. */
  events(): LimitEvents {
    const count = (text: string | undefined, key: string) =>
      Number(new RegExp(`^${key} (\\d+)$`, "m").exec(text ?? "")?.[1] ?? 0);
    const pidsRefused = count(readText(join(this.#pidsDir, "pids.events")), "max") > 0;
    if (this.#base.mode === "v2") {
      const memory = readText(join(this.#memoryDir, "memory.events"));
      return { pidsRefused, outOfMemory: count(memory, "oom_kill") + count(memory, "oom") > 0 };
    }
    const oomControl = readText(join(this.#memoryDir, "memory.oom_control")) ?? "";
    // Kernels before 4.13 do not count kills: hitting the limit is the nearest sign.
    const outOfMemory = /^oom_kill /m.test(oomControl)
      ? count(oomControl, "oom_kill") > 0
      : Number(readText(join(this.#memoryDir, "memory.failcnt"))?.trim() ?? 0) > 0;
    return { pidsRefused, outOfMemory };
  }

  /**
   * Ends what is left in the groups (a process that left bubblewrap's PID namespace cannot, but
   * a launcher killed before it exec'd can) and removes them; a group still busy is retried a
   * few times, then left for the next sweep.
   */
  async remove(): Promise<void> {
    for (const dir of this.dirs) {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          Deno.removeSync(dir);
          break;
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) break;
          this.#kill(dir);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
    }
  }

  #kill(dir: string): void {
    if (this.#base.mode === "v2") {
      try {
        Deno.writeTextFileSync(join(dir, "cgroup.kill"), "1");
        return;
      } catch { /* older kernels: one process at a time */ }
    }
    for (const pid of (readText(join(dir, "cgroup.procs")) ?? "").split("\n").filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone meanwhile */ }
    }
  }
}
