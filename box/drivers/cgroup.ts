/**
 * cgroup limits for namespace boxes: memory, CPU and pids, on cgroup v2 where the host has it
 * and on the v1 controllers otherwise (many container hosts still mount v1). A host that offers
 * neither runs boxes without limits, and `box info` says so.
 */
import { join } from "node:path";
import type { BoxLimits, BoxStats } from "../types.ts";

/** Where hosts mount their cgroup hierarchies. */
export const CGROUP_ROOT = "/sys/fs/cgroup";
const GROUP = "a3s-box";

/** Which cgroup layout a host offers to box. */
export type CgroupMode = "v2" | "v1" | "none";

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    return undefined;
  }
}

function readTextSync(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

async function writable(dir: string): Promise<boolean> {
  const probe = join(dir, GROUP, `probe-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.mkdir(probe, { recursive: true });
    await Deno.remove(probe);
    return true;
  } catch {
    return false;
  }
}

const detected = new Map<string, Promise<CgroupMode>>();

/** Detects, once per process and root, which cgroup layout box can create groups in. */
export function detectCgroupMode(root: string = CGROUP_ROOT): Promise<CgroupMode> {
  let mode = detected.get(root);
  if (!mode) {
    mode = (async () => {
      const controllers = await readText(join(root, "cgroup.controllers"));
      if (controllers?.includes("memory") && controllers.includes("pids") && await writable(root)) {
        // Children only get controllers their parent delegates.
        await Deno.writeTextFile(join(root, GROUP, "cgroup.subtree_control"), "+memory +pids +cpu")
          .catch(() => {});
        return "v2";
      }
      if (await writable(join(root, "memory")) && await writable(join(root, "pids"))) return "v1";
      return "none";
    })();
    detected.set(root, mode);
  }
  return mode;
}

function parseCounter(text: string | undefined, key: string): number {
  const match = text?.match(new RegExp(`^${key} (\\d+)$`, "m"));
  return match ? Number(match[1]) : 0;
}

/** One box's cgroup(s): created with its limits, joined by its wrapper, removed with the box. */
export class BoxCgroup {
  readonly mode: CgroupMode;
  readonly #name: string;
  readonly #root: string;

  /** A box's groups under `root` (the host's cgroup mount unless the driver was given another). */
  constructor(mode: CgroupMode, boxId: string, root: string = CGROUP_ROOT) {
    this.mode = mode;
    this.#name = boxId;
    this.#root = root;
  }

  /**
   * The groups a box's first process joins. On v1 the cpu group only when the box has a CPU
   * limit: each v1 hierarchy is a separate move, and the cpu controller's often waits for an RCU
   * grace period, milliseconds on every start for a limit most boxes do not set. A limit set
   * later moves the box's processes then (see `update`).
   */
  joinDirs(limits: BoxLimits): string[] {
    if (this.mode !== "v1" || limits.cpus) return this.dirs;
    return this.dirs.filter((dir) => dir !== join(this.#root, "cpu", GROUP, this.#name));
  }

  /** The directories of the box's groups, one per hierarchy. */
  get dirs(): string[] {
    if (this.mode === "v2") return [join(this.#root, GROUP, this.#name)];
    if (this.mode === "v1") {
      return ["memory", "pids", "cpu", "cpuacct"].map((c) =>
        join(this.#root, c, GROUP, this.#name)
      );
    }
    return [];
  }

  #dir(controller: string): string {
    return this.mode === "v2"
      ? join(this.#root, GROUP, this.#name)
      : join(this.#root, controller, GROUP, this.#name);
  }

  /**
   * Creates the groups and writes the limits, synchronously: a handful of tiny cgroupfs writes
   * on a box's start path, where each async hop costs a scheduler wait on a loaded host.
   */
  // deno-lint-ignore require-await
  async create(limits: BoxLimits): Promise<void> {
    if (this.mode === "none") return;
    for (const dir of this.dirs) {
      try {
        Deno.mkdirSync(dir, { recursive: true });
      } catch { /* made by an earlier start */ }
    }
    this.writeLimits(limits);
  }

  /**
   * Writes the limits into groups that exist already (made ahead for a prestarted launcher):
   * {@linkcode create} without its mkdirs, each a path walk of the cgroup hierarchy (about 0.1
   * ms for the four v1 groups on a box's start path here).
   */
  writeLimits(limits: BoxLimits): void {
    if (this.mode === "none") return;
    const set = (controller: string, file: string, value: string) =>
      Deno.writeTextFileSync(join(this.#dir(controller), file), value);
    // Swap and CPU limits are missing on some hosts (no swap accounting, no cpu controller).
    const setIfPresent = (controller: string, file: string, value: string) => {
      try {
        set(controller, file, value);
      } catch { /* this host does not offer it */ }
    };
    const quota = limits.cpus ? String(Math.round(limits.cpus * 100_000)) : "";
    if (this.mode === "v2") {
      if (limits.memoryBytes) {
        set("memory", "memory.max", String(limits.memoryBytes));
        setIfPresent("memory", "memory.swap.max", "0");
      }
      if (limits.pids) set("pids", "pids.max", String(limits.pids));
      if (quota) setIfPresent("cpu", "cpu.max", `${quota} 100000`);
      return;
    }
    if (limits.memoryBytes) {
      set("memory", "memory.limit_in_bytes", String(limits.memoryBytes));
      // Without this the box would page out to swap instead of hitting its limit.
      setIfPresent("memory", "memory.memsw.limit_in_bytes", String(limits.memoryBytes));
    }
    if (limits.pids) set("pids", "pids.max", String(limits.pids));
    if (quota) {
      setIfPresent("cpu", "cpu.cfs_period_us", "100000");
      setIfPresent("cpu", "cpu.cfs_quota_us", quota);
    }
  }

  /**
   * Changes the limits of existing groups. On v1 the memory+swap ceiling may never sit below
   * the memory limit, so it is written on both sides of the limit (one of the two succeeds
   * whichever way the limit moves).
   */
  async update(limits: BoxLimits): Promise<void> {
    if (this.mode === "v1" && limits.memoryBytes) {
      await Deno.writeTextFile(
        join(this.#dir("memory"), "memory.memsw.limit_in_bytes"),
        String(limits.memoryBytes),
      ).catch(() => {});
    }
    await this.create(limits);
    if (this.mode === "v1" && limits.cpus) {
      // A box started without a CPU limit never joined its cpu group (see joinDirs).
      for (const pid of await this.processes()) {
        await Deno.writeTextFile(join(this.#dir("cpu"), "cgroup.procs"), String(pid))
          .catch(() => {/* the process ended meanwhile */});
      }
    }
  }

  /** Current use and limits. */
  async stats(): Promise<BoxStats> {
    if (this.mode === "none") return {};
    const num = async (controller: string, file: string) => {
      const text = await readText(join(this.#dir(controller), file));
      return text === undefined || text === "max" ? undefined : Number(text);
    };
    if (this.mode === "v2") {
      const cpu = await readText(join(this.#dir("cpu"), "cpu.stat"));
      return {
        memoryBytes: await num("memory", "memory.current"),
        memoryLimitBytes: await num("memory", "memory.max"),
        pids: await num("pids", "pids.current"),
        pidsLimit: await num("pids", "pids.max"),
        cpuSeconds: parseCounter(cpu, "usage_usec") / 1e6,
      };
    }
    const limit = await num("memory", "memory.limit_in_bytes");
    const usage = await num("cpuacct", "cpuacct.usage");
    return {
      memoryBytes: await num("memory", "memory.usage_in_bytes"),
      // v1 reports "no limit" as a huge page-aligned number.
      memoryLimitBytes: limit !== undefined && limit < 2 ** 60 ? limit : undefined,
      pids: await num("pids", "pids.current"),
      pidsLimit: await num("pids", "pids.max"),
      cpuSeconds: usage === undefined ? undefined : usage / 1e9,
    };
  }

  /**
   * Whether the kernel killed a process for memory, or refused a fork at the pids limit. Two
   * small cgroupfs reads, synchronous: every state query of a running box makes them.
   */
  limitsHitSync(): { oom: boolean; pids: boolean } {
    if (this.mode === "none") return { oom: false, pids: false };
    const oomFile = this.mode === "v2" ? "memory.events" : "memory.oom_control";
    const oom = parseCounter(readTextSync(join(this.#dir("memory"), oomFile)), "oom_kill") > 0;
    const pids = parseCounter(readTextSync(join(this.#dir("pids"), "pids.events")), "max") > 0;
    return { oom, pids };
  }

  /** Pids of every process in the box. */
  async processes(): Promise<number[]> {
    if (this.mode === "none") return [];
    const text = await readText(join(this.#dir("pids"), "cgroup.procs"));
    return (text ?? "").split("\n").filter(Boolean).map(Number);
  }

  /** Kills every process in the groups, then removes them. */
  async remove(): Promise<void> {
    if (this.mode === "none") return;
    for (let attempt = 0; attempt < 50; attempt++) {
      const pids = await this.processes();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const dir of this.dirs) await Deno.remove(dir).catch(() => {});
  }
}
