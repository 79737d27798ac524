/**
 * The namespace driver: bubblewrap puts the box in fresh user, mount, pid, net, ipc, uts and
 * cgroup namespaces, under a seccomp filter and cgroup limits, with the image's rootfs as the
 * read-only lower layer of an overlay whose upper layer is the box's own. The guest agent runs
 * as the box's first process and serves exec over a unix socket in the box's state dir, so any
 * host process can reach a box another one started.
 */
import { join } from "node:path";
import { A3sError } from "@a3s/common";
import { AgentClient } from "../agent/client.ts";
import { buildAgent } from "../agent/build.ts";
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
import { buildSeccompFilter } from "./seccomp.ts";
import { mountOverlay, unmount } from "./_mount.ts";
import {
  childPids,
  isAlive,
  type ProcessIdentity,
  processIdentity,
  signalName,
  signalProcess,
} from "./_proc.ts";

/** Where the agent lives inside a namespace box. */
const GUEST_DIR = "/.a3s";
const GUEST_RUN = `${GUEST_DIR}/run`;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Options for {@linkcode NamespaceDriver}. */
export interface NamespaceDriverOptions {
  /** Where the built guest agent is cached. */
  agentCacheDir: string;
  /** The bubblewrap binary; `bwrap` on PATH unless set. */
  bwrap?: string;
  /** How long `start` waits for the agent to answer. */
  startTimeoutMs?: number;
}

/** What `create` decided, kept in the state dir so other processes act the same way. */
interface LayoutRecord {
  overlay: boolean;
  cgroup: CgroupMode;
}

interface PidRecord extends ProcessIdentity {
  /** The agent binary the box was started with. */
  agent: string;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, stderr: new TextDecoder().decode(out.stderr).trim() };
  } catch (error) {
    return { ok: false, stderr: String(error) };
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

async function isMountPoint(path: string): Promise<boolean> {
  const mounts = await Deno.readTextFile("/proc/self/mounts").catch(() => "");
  return mounts.split("\n").some((line) => line.split(" ")[1] === path);
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
    const cgroup = await detectCgroupMode();
    const features = {
      seccomp: true,
      cgroup,
      overlay: Deno.uid() === 0,
      userNamespace: check.ok,
    };
    if (!check.ok) {
      return {
        ...base,
        available: false,
        detail: `bubblewrap cannot create namespaces: ${check.stderr || "not installed"}`,
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

  #paths(spec: BoxSpec) {
    const dir = spec.stateDir;
    return {
      upper: join(dir, "upper"),
      work: join(dir, "work"),
      merged: join(dir, "merged"),
      run: join(dir, "run"),
      socket: join(dir, "run", "agent.sock"),
      status: join(dir, "run", "status"),
      layout: join(dir, "layout.json"),
      pid: join(dir, "pid.json"),
    };
  }

  async create(spec: BoxSpec): Promise<void> {
    const paths = this.#paths(spec);
    for (const dir of [paths.upper, paths.work, paths.merged, paths.run]) {
      await Deno.mkdir(dir, { recursive: true });
    }
    const cgroup = await detectCgroupMode();
    const layout: LayoutRecord = { overlay: Deno.uid() === 0, cgroup };
    await Deno.writeTextFile(paths.layout, JSON.stringify(layout));
    await new BoxCgroup(cgroup, spec.id).create(spec.limits);
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
    await new BoxCgroup(layout.cgroup, spec.id).update(limits);
  }

  /**
   * cgroup v2 freezes the box's cgroup (`cgroup.freeze`); on v1 every process in the box's
   * cgroup gets SIGSTOP or SIGCONT (box joins no v1 freezer controller).
   */
  async setPaused(spec: BoxSpec, paused: boolean): Promise<void> {
    const layout = JSON.parse(await Deno.readTextFile(this.#paths(spec).layout)) as LayoutRecord;
    const cgroup = new BoxCgroup(layout.cgroup, spec.id);
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
    if (await isMountPoint(paths.merged)) await unmount(paths.merged);
  }

  async #mountOverlay(spec: BoxSpec, layout: LayoutRecord): Promise<boolean> {
    const paths = this.#paths(spec);
    if (!layout.overlay) return false;
    if (await isMountPoint(paths.merged)) return true;
    return await mountOverlay(spec.rootfs, paths.upper, paths.work, paths.merged);
  }

  /** Read-only root without overlay: bind each top-level entry of the rootfs. */
  async #readOnlyRootArgs(rootfs: string): Promise<string[]> {
    const args: string[] = [];
    for await (const entry of Deno.readDir(rootfs)) {
      const path = join(rootfs, entry.name);
      if (["proc", "dev", "tmp"].includes(entry.name)) continue;
      if (entry.isSymlink) args.push("--symlink", await Deno.readLink(path), `/${entry.name}`);
      else args.push("--ro-bind", path, `/${entry.name}`);
    }
    return [...args, "--tmpfs", "/tmp"];
  }

  async #seccomp(): Promise<string> {
    if (this.#seccompPath) return this.#seccompPath;
    await Deno.mkdir(this.#options.agentCacheDir, { recursive: true });
    const path = join(this.#options.agentCacheDir, "seccomp.bpf");
    const temp = `${path}.${crypto.randomUUID()}`;
    await Deno.writeFile(temp, buildSeccompFilter());
    await Deno.rename(temp, path);
    this.#seccompPath = path;
    return path;
  }

  async start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    const paths = this.#paths(spec);
    const layout = await readJson<LayoutRecord>(paths.layout);
    if (!layout) throw new A3sError("box_not_created", `box ${spec.id} was never created`);
    await Deno.remove(paths.status).catch(() => {});
    await Deno.remove(paths.socket).catch(() => {});
    const [agent, seccomp, overlay] = await Promise.all([
      buildAgent(this.#options.agentCacheDir),
      this.#seccomp(),
      this.#mountOverlay(spec, layout),
    ]);
    const cgroup = new BoxCgroup(layout.cgroup, spec.id);
    const args = [
      "--seccomp",
      "9",
      "--unshare-user",
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
      ...(spec.network === "host" || spec.netns ? [] : ["--unshare-net"]),
      "--new-session",
      "--hostname",
      spec.hostname ?? spec.id.slice(0, 12),
      "--uid",
      spec.user?.split(":")[0] ?? "0",
      "--gid",
      spec.user?.split(":")[1] ?? spec.user?.split(":")[0] ?? "0",
      ...(overlay ? ["--bind", paths.merged, "/"] : await this.#readOnlyRootArgs(spec.rootfs)),
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--ro-bind",
      agent,
      `${GUEST_DIR}/agent`,
      "--bind",
      paths.run,
      GUEST_RUN,
    ];
    for (const volume of spec.volumes) {
      args.push(volume.readOnly ? "--ro-bind" : "--bind", volume.host, volume.guest);
    }
    args.push("--clearenv");
    const env = { PATH: DEFAULT_PATH, HOME: "/root", HOSTNAME: spec.hostname ?? "", ...spec.env };
    for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
    if (spec.workdir) args.push("--chdir", spec.workdir);
    args.push(
      `${GUEST_DIR}/agent`,
      "--socket",
      `${GUEST_RUN}/agent.sock`,
      "--status",
      `${GUEST_RUN}/status`,
    );
    if (spec.timeoutSeconds) args.push("--timeout", String(Math.ceil(spec.timeoutSeconds)));
    args.push("--", ...spec.command);

    // The wrapper joins the cgroups before bubblewrap runs, so no box process starts outside
    // its limits, and hands bubblewrap the seccomp program on fd 9.
    const wrapper =
      'f=$1; o=$2; e=$3; shift 3; for g in $A3S_CGROUPS; do echo $$ > "$g/cgroup.procs" || exit 125; done; exec "$@" 9<"$f" >>"$o" 2>>"$e"';
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        wrapper,
        "box",
        seccomp,
        output.stdoutPath,
        output.stderrPath,
        // nsenter puts bubblewrap into a prepared network namespace before it starts the box.
        ...(spec.netns ? ["nsenter", `--net=${spec.netns}`] : []),
        this.#bwrap,
        ...args,
      ],
      env: { A3S_CGROUPS: cgroup.dirs.join(" ") },
      clearEnv: true,
      stdin: spec.interactive ? "piped" : "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    const identity = await processIdentity(child.pid);
    const record: PidRecord = { pid: child.pid, startTime: identity?.startTime ?? "", agent };
    await Deno.writeTextFile(paths.pid, JSON.stringify(record));
    let exited = false;
    child.status.then(() => exited = true);
    child.unref();
    await this.#waitForAgent(spec, () => exited, output);
    return { pid: child.pid, stdin: spec.interactive ? child.stdin : undefined };
  }

  async #waitForAgent(spec: BoxSpec, exited: () => boolean, output: BoxOutput): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 10_000);
    const socket = this.#paths(spec).socket;
    while (Date.now() < deadline) {
      try {
        const conn = await Deno.connect({ transport: "unix", path: socket });
        conn.close();
        return;
      } catch {
        // A box whose command finishes at once never needs its socket; its status says so.
        if (exited() || !(await this.#running(spec))) {
          if (await this.#statusFile(spec)) return;
          const stderr = await Deno.readTextFile(output.stderrPath).catch(() => "");
          const line = stderr.trim().split("\n").pop() ?? "";
          throw new A3sError("box_start_failed", `box failed to start: ${line || "no output"}`);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    throw new A3sError("box_start_failed", `box agent did not come up in time`);
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
  async connect(spec: BoxSpec): Promise<AgentClient> {
    try {
      const conn = await Deno.connect({ transport: "unix", path: this.#paths(spec).socket });
      return new AgentClient(conn);
    } catch {
      throw new A3sError("box_not_running", `box ${spec.id.slice(0, 12)} is not running`, {
        status: 409,
      });
    }
  }

  async exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess> {
    const client = await this.connect(spec);
    const process = await client.exec(request);
    process.status.finally(() => client.close()).catch(() => {});
    return process;
  }

  /** The box's pid-namespace init (bubblewrap's inner process): killing it ends the box. */
  async #namespaceInit(spec: BoxSpec): Promise<number | undefined> {
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    if (!record || !(await isAlive(record))) return undefined;
    return (await childPids(record.pid))[0];
  }

  async #agentPid(spec: BoxSpec): Promise<number | undefined> {
    const init = await this.#namespaceInit(spec);
    return init === undefined ? undefined : (await childPids(init))[0];
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
        for (const pid of await new BoxCgroup(layout.cgroup, spec.id).processes()) {
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

  async state(spec: BoxSpec): Promise<DriverBoxState> {
    const record = await readJson<PidRecord>(this.#paths(spec).pid);
    const layout = await readJson<LayoutRecord>(this.#paths(spec).layout);
    const hit = layout
      ? await new BoxCgroup(layout.cgroup, spec.id).limitsHit()
      : { oom: false, pids: false };
    if (record && await isAlive(record)) {
      if (!hit.oom && !hit.pids) return { running: true, pid: record.pid };
      // A box that hit its memory or pids limit is over: it is killed whole, so a half-dead box
      // (its bomb killed, its shell alive) never lingers. Every observer enforces this.
      await this.kill(spec, 9);
    }
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
    return layout ? await new BoxCgroup(layout.cgroup, spec.id).stats() : {};
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

  async remove(spec: BoxSpec): Promise<void> {
    const paths = this.#paths(spec);
    if (await this.#running(spec)) await this.kill(spec, 9);
    const layout = await readJson<LayoutRecord>(paths.layout);
    if (layout) await new BoxCgroup(layout.cgroup, spec.id).remove();
    if (await isMountPoint(paths.merged)) await unmount(paths.merged);
    await Deno.remove(spec.stateDir, { recursive: true }).catch(() => {});
  }
}
