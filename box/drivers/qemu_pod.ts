/**
 * Guest containers: the members of a pod on the qemu driver, run inside the pod sandbox's VM
 * rather than each in a VM of its own. The sandbox VM boots once with the pod's shared
 * directory (`<sandbox state>/pod`) exported over virtio-9p at `/a3s/pod`. For each member the
 * host mounts an overlay of its image (its writable layer in the member's own state dir) under
 * that directory and binds the member's volumes into it; QEMU's 9p server sees mounts made after
 * boot. The guest agent then runs the member's main process chrooted into that rootfs, in its
 * own mount and pid namespace and cgroup (see box/agent/pod.c), sends its output to the host's
 * log keeper, which writes the member's own logs at its bound (`_pod_logs.ts`), and writes its
 * exit status under that directory.
 *
 * The VM's agent ports are shared by every host process through lock files, one client per port.
 */
import { dirname, join } from "node:path";
import { A3sError } from "@a3s/common";
import { AgentClient } from "../agent/client.ts";
import type {
  BoxLimits,
  BoxOutput,
  BoxSpec,
  BoxStats,
  DriverBoxState,
  ExecProcess,
  ExecRequest,
  ExitReason,
  StartedBox,
} from "../types.ts";
import { mountOverlay, unmount } from "./_mount.ts";
import { isAlive, type ProcessIdentity, processIdentity } from "./_proc.ts";
import { exists } from "../_exists.ts";
import { removeStateDir } from "../log_files.ts";
import { grantMemberLogs, podLogGrants, revokeMemberLogs } from "./_pod_logs.ts";

/** How many agent ports a pod VM has: so many host clients are served at once. */
export const POD_AGENT_PORTS = 6;
/** Where the pod's shared directory appears inside its VM. */
export const POD_GUEST_DIR = "/a3s/pod";
/** The 9p tag of the pod's shared directory. */
export const POD_SHARE_TAG = "a3s-pod";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The host socket of agent port `k` of a VM whose state dir is `stateDir`. */
export function agentSocket(stateDir: string, k: number): string {
  return join(stateDir, k === 0 ? "agent.sock" : `agent-${k}.sock`);
}

/** The pod's shared directory on the host. */
export function podShareDir(sandboxStateDir: string): string {
  return join(sandboxStateDir, "pod");
}

type Member = BoxSpec & {
  pod: { role: "member"; sandboxId: string; sandboxStateDir: string };
};

function member(spec: BoxSpec): Member {
  if (spec.pod?.role !== "member") throw new Error("not a pod member");
  return spec as Member;
}

/** True when `path` is a mount point of this host process's mount namespace. */
async function mountPoints(): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo").catch(() => "");
  // Field 5 is the mount point, with spaces and the like written as octal escapes.
  return text.split("\n").filter(Boolean).map((line) =>
    line.split(" ")[4].replace(/\\(\d{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)))
  );
}

/**
 * Unmounts everything mounted at or below `dir`, deepest first, and verifies nothing is left:
 * a recursive delete of a directory holding a bind mount would delete the host files behind it.
 */
export async function unmountUnder(dir: string): Promise<void> {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const under = (points: string[]) =>
    points.filter((p) => p === dir || p.startsWith(prefix)).sort((a, b) => b.length - a.length);
  for (const point of under(await mountPoints())) await unmount(point);
  const left = under(await mountPoints());
  if (left.length > 0) {
    throw new A3sError("busy", `cannot unmount ${left[0]}; not removing ${dir}`, { status: 409 });
  }
}

async function mountProgram(args: string[], what: string): Promise<void> {
  const out = await new Deno.Command("mount", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new A3sError("box_start_failed", `${what}: ${why || "mount failed"}`);
  }
}

/**
 * A client on a free agent port of the pod VM in `sandboxStateDir`. A port is held through a
 * lock file naming the holder's pid (and start time, so a dead holder's lock is taken over);
 * the lock goes when the client closes. Waits up to `waitMs` for a port to come free.
 */
export async function connectPodAgent(
  sandboxStateDir: string,
  waitMs = 30_000,
): Promise<AgentClient> {
  const locks = join(sandboxStateDir, "ports");
  await Deno.mkdir(locks, { recursive: true });
  const self = await processIdentity(Deno.pid);
  const deadline = Date.now() + waitMs;
  for (;;) {
    for (let k = 0; k < POD_AGENT_PORTS; k++) {
      const lock = join(locks, `${k}.lock`);
      if (!(await takeLock(lock, `${Deno.pid} ${self?.startTime ?? ""}`))) continue;
      try {
        const conn = await Deno.connect({
          transport: "unix",
          path: agentSocket(sandboxStateDir, k),
        });
        const client = new AgentClient(conn);
        client.closed.finally(() => Deno.remove(lock).catch(() => {}));
        return client;
      } catch (error) {
        await Deno.remove(lock).catch(() => {});
        throw new A3sError("box_not_running", `the pod's VM is not running (${error})`, {
          status: 409,
        });
      }
    }
    if (Date.now() > deadline) {
      throw new A3sError("agent_busy", "every agent port of the pod's VM is in use", {
        status: 503,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Creates `lock` exclusively, or takes it over from a holder that is gone. */
async function takeLock(lock: string, holder: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(lock, holder, { createNew: true });
      return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const [pid, startTime] = (await Deno.readTextFile(lock).catch(() => "")).split(" ");
    if (pid && await isAlive({ pid: Number(pid), startTime: startTime ?? "" })) return false;
    await Deno.remove(lock).catch(() => {});
  }
  return false;
}

/** The host and guest paths of one member. */
function paths(spec: Member) {
  const key = spec.id.slice(0, 12);
  const hostDir = join(podShareDir(spec.pod.sandboxStateDir), "c", key);
  const guestDir = `${POD_GUEST_DIR}/c/${key}`;
  return {
    hostDir,
    guestDir,
    rootfs: join(hostDir, "rootfs"),
    guestRootfs: `${guestDir}/rootfs`,
    status: join(hostDir, "status"),
    upper: join(spec.stateDir, "upper"),
    work: join(spec.stateDir, "work"),
    started: join(spec.stateDir, "started"),
  };
}

/** A path inside the member's rootfs, as the VM sees it (the agent resolves it there). */
function guestPath(spec: Member, path: string): string {
  if (!path.startsWith("/") || path.split("/").includes("..")) {
    throw new A3sError("invalid_request", `path '${path}' must be absolute without '..'`, {
      status: 400,
      field: "path",
    });
  }
  return `${paths(spec).guestRootfs}${path}`;
}

/**
 * The member half of the qemu driver: every BoxDriver call for a box whose spec places it in a
 * pod lands here, so nothing above the driver knows a pod member from a VM of its own.
 */
export class GuestContainers {
  /**
   * Checks the sandbox exists and makes the member's state dir. Refuses the security settings a
   * guest container cannot honour: inside the pod's VM its processes are the VM's root, with
   * every capability and no seccomp filter; the VM is the boundary. Capabilities added,
   * `default` or `unconfined` seccomp and a read-only rootfs are honoured as they stand.
   */
  async create(spec: BoxSpec): Promise<void> {
    const m = member(spec);
    const security = m.security ?? {};
    const refused = [
      security.capDrop?.length ? "capDrop" : undefined,
      Object.keys(security.sysctls ?? {}).length ? "sysctls" : undefined,
      security.seccomp?.kind === "profile" ? "seccomp" : undefined,
      security.privileged ? "privileged" : undefined,
      security.hostPid ? "hostPid" : undefined,
      security.hostIpc ? "hostIpc" : undefined,
    ].find((field) => field !== undefined);
    if (refused) {
      throw new A3sError(
        "unimplemented",
        `a container in a pod's VM cannot have security.${refused}`,
        { status: 501, field: `security.${refused}` },
      );
    }
    if (!(await exists(podShareDir(m.pod.sandboxStateDir), { noFollow: true }))) {
      throw new A3sError(
        "unsupported",
        `box ${m.pod.sandboxId.slice(0, 12)} is not a pod sandbox on this driver`,
        { status: 400, field: "pod" },
      );
    }
    for (const [i, volume] of m.volumes.entries()) {
      if (!(await exists(volume.host, { noFollow: true }))) {
        throw new A3sError("invalid_request", `volume ${volume.host} does not exist`, {
          status: 400,
          field: `volumes.${i}`,
        });
      }
    }
    await Deno.mkdir(m.stateDir, { recursive: true });
  }

  /** The member's rootfs under the pod's shared directory: its overlay and volumes, once. */
  async #mountRootfs(spec: Member): Promise<void> {
    const p = paths(spec);
    if ((await mountPoints()).includes(p.rootfs)) return;
    for (const dir of [p.upper, p.work, p.rootfs]) await Deno.mkdir(dir, { recursive: true });
    if (!(await mountOverlay(spec.rootfs, p.upper, p.work, p.rootfs))) {
      throw new A3sError("box_start_failed", `cannot mount the rootfs of ${spec.id.slice(0, 12)}`);
    }
    try {
      for (const volume of spec.volumes) {
        const target = join(p.rootfs, volume.guest);
        const isDir = (await Deno.stat(volume.host)).isDirectory;
        // The mount point is made in the writable layer, as container runtimes do.
        if (isDir) await Deno.mkdir(target, { recursive: true });
        else {
          await Deno.mkdir(dirname(target), { recursive: true });
          if (!(await exists(target, { noFollow: true }))) {
            await Deno.writeFile(target, new Uint8Array());
          }
        }
        await mountProgram(["--bind", volume.host, target], `volume ${volume.guest}`);
        if (volume.readOnly) {
          await mountProgram(["-o", "remount,bind,ro", target], `volume ${volume.guest}`);
        }
      }
    } catch (error) {
      await unmountUnder(p.rootfs).catch(() => {});
      throw error;
    }
  }

  /** Starts the member's main process in the pod VM; resolves once it runs there. */
  async start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    const m = member(spec);
    const p = paths(m);
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    try {
      await this.#mountRootfs(m);
      await grantMemberLogs(m.pod.sandboxStateDir, m.id, output);
      await Deno.remove(p.status).catch(() => {});
      const env = { PATH: DEFAULT_PATH, ...m.env };
      const started = await client.startContainer({
        id: m.id,
        rootfs: p.guestRootfs,
        command: m.command,
        env,
        workdir: m.workdir,
        user: m.user,
        tty: m.tty,
        interactive: m.interactive,
        readOnlyRootfs: m.security?.readOnlyRootfs,
        memoryBytes: m.limits.memoryBytes,
        pids: m.limits.pids,
        cpuQuotaMicros: m.limits.cpus ? m.limits.cpus * 100_000 : undefined,
        statusPath: `${p.guestDir}/status`,
      });
      // Which VM it started in: a member is running only while that same VM runs.
      const vm = await this.#vm(m);
      await Deno.writeTextFile(p.started, JSON.stringify({ pid: started.pid, vm }));
      if (!started.stdin) {
        client.close();
        return { pid: vm?.pid ?? 0 };
      }
      // The stdin stays open while this client does; closing it ends the stream and the link.
      const writer = started.stdin.getWriter();
      const stdin = new WritableStream<Uint8Array>({
        write: (chunk) => writer.write(chunk),
        close: async () => {
          await writer.close().catch(() => {});
          client.close();
        },
        abort: () => client.close(),
      });
      return { pid: vm?.pid ?? 0, stdin };
    } catch (error) {
      client.close();
      // Nothing runs to write them: no reader waits for the member's logs.
      await revokeMemberLogs(m.pod.sandboxStateDir, m.id, output);
      throw error;
    }
  }

  /** The pod VM's process while it runs. */
  async #vm(spec: Member): Promise<ProcessIdentity | undefined> {
    const record = await Deno.readTextFile(join(spec.pod.sandboxStateDir, "pid.json")).catch(
      () => "",
    );
    if (!record) return undefined;
    const parsed = JSON.parse(record) as ProcessIdentity;
    return await isAlive(parsed) ? { pid: parsed.pid, startTime: parsed.startTime } : undefined;
  }

  async #status(spec: Member) {
    const text = await Deno.readTextFile(paths(spec).status).catch(() => "");
    const match = text.match(/(\d+) (\d+) (\w+)/);
    return match
      ? { code: Number(match[1]), signal: Number(match[2]), reason: match[3] as ExitReason }
      : undefined;
  }

  /**
   * Running while the VM runs and the agent has written no exit status; a VM that went away
   * took the member with it (killed).
   */
  async state(spec: BoxSpec): Promise<DriverBoxState> {
    const m = member(spec);
    const status = await this.#status(m);
    if (status) {
      return {
        running: false,
        exitCode: status.code,
        signal: status.signal,
        reason: status.reason,
      };
    }
    const vm = await this.#vm(m);
    const started = await Deno.readTextFile(paths(m).started).then(
      (text) => JSON.parse(text) as { vm?: ProcessIdentity },
      () => undefined,
    );
    if (vm && started?.vm?.pid === vm.pid && started.vm.startTime === vm.startTime) {
      return { running: true, pid: vm.pid };
    }
    return { running: false, exitCode: 137, signal: 9, reason: "killed" };
  }

  /** Runs a command inside the member (its namespaces, cgroup, rootfs and user). */
  async exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess> {
    const m = member(spec);
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    try {
      const process = await client.exec(
        { ...request, workdir: request.workdir ?? m.workdir, user: request.user ?? m.user },
        m.id,
      );
      process.status.finally(() => client.close()).catch(() => {});
      return process;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  async #control(spec: Member, message: string): Promise<void> {
    const client = await connectPodAgent(spec.pod.sandboxStateDir);
    try {
      await client.containerControl(message);
    } finally {
      client.close();
    }
  }

  /** Sends a signal to the member's main process (pid 1 of its pid namespace). */
  async kill(spec: BoxSpec, signal: number): Promise<void> {
    const m = member(spec);
    if (!(await this.state(m)).running) return;
    await this.#control(m, `S${signal} ${m.id}`);
  }

  /** SIGTERM, then SIGKILL once `graceSeconds` have passed. */
  async stop(spec: BoxSpec, graceSeconds: number): Promise<void> {
    const m = member(spec);
    if (!(await this.state(m)).running) return;
    await this.kill(m, 15);
    const deadline = Date.now() + graceSeconds * 1000;
    while (Date.now() < deadline) {
      if (!(await this.state(m)).running) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.kill(m, 9);
    const killed = Date.now() + 10_000;
    while (Date.now() < killed && (await this.state(m)).running) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Changes a running member's cgroup limits inside the VM (only the ones given). */
  async updateLimits(spec: BoxSpec, limits: BoxLimits): Promise<void> {
    const m = member(spec);
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    const write = (file: string, value: string) =>
      client.put(`/sys/fs/cgroup/a3s-${m.id}/${file}`, new TextEncoder().encode(value));
    try {
      if (limits.memoryBytes !== undefined) {
        await write("memory.max", String(Math.floor(limits.memoryBytes)));
      }
      if (limits.pids !== undefined) await write("pids.max", String(Math.floor(limits.pids)));
      if (limits.cpus !== undefined) {
        await write("cpu.max", `${Math.max(1000, Math.floor(limits.cpus * 100_000))} 100000`);
      }
    } finally {
      client.close();
    }
  }

  /** Resizes the terminal of a member whose main process runs on one. */
  async resizeTerminal(spec: BoxSpec, rows: number, cols: number): Promise<void> {
    const m = member(spec);
    await this.#control(m, `T${Math.floor(rows)}x${Math.floor(cols)} ${m.id}`);
  }

  /** The member's cgroup counters inside the VM. */
  async stats(spec: BoxSpec): Promise<BoxStats> {
    const m = member(spec);
    if (!(await this.state(m)).running) return {};
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    const decoder = new TextDecoder();
    const read = async (file: string) =>
      decoder.decode(await client.get(`/sys/fs/cgroup/a3s-${m.id}/${file}`)).trim();
    try {
      const [memory, memoryMax, pids, pidsMax, cpu] = await Promise.all(
        ["memory.current", "memory.max", "pids.current", "pids.max", "cpu.stat"].map((file) =>
          read(file).catch(() => "")
        ),
      );
      const number = (text: string) => /^\d+$/.test(text) ? Number(text) : undefined;
      const usage = Number(/usage_usec (\d+)/.exec(cpu)?.[1] ?? NaN);
      return {
        memoryBytes: number(memory),
        memoryLimitBytes: number(memoryMax),
        pids: number(pids),
        pidsLimit: number(pidsMax),
        cpuSeconds: Number.isNaN(usage) ? undefined : usage / 1e6,
      };
    } finally {
      client.close();
    }
  }

  /** Writes a file inside the member, through the agent (links resolve inside the VM). */
  async copyIn(spec: BoxSpec, data: Uint8Array, path: string, mode: number): Promise<void> {
    const m = member(spec);
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    try {
      await client.put(guestPath(m, path), data, mode);
    } finally {
      client.close();
    }
  }

  /** Reads a file out of the member, through the agent. */
  async copyOut(spec: BoxSpec, path: string): Promise<Uint8Array> {
    const m = member(spec);
    const client = await connectPodAgent(m.pod.sandboxStateDir);
    try {
      return await client.get(guestPath(m, path));
    } finally {
      client.close();
    }
  }

  /** The member's writable layer (its overlay's upper dir on the host). */
  writableLayer(spec: BoxSpec): Promise<string | undefined> {
    return Promise.resolve(paths(member(spec)).upper);
  }

  /** Unmounts the member's rootfs and volumes (the next start mounts them afresh). */
  async releaseRootfs(spec: BoxSpec): Promise<void> {
    await unmountUnder(paths(member(spec)).rootfs);
  }

  /**
   * Forgets the member in the VM (when it runs), unmounts its rootfs and deletes its files, once
   * the keeper has written what it still had of the member's output.
   */
  async remove(spec: BoxSpec): Promise<void> {
    const m = member(spec);
    if (await this.#vm(m)) await this.#control(m, `D${m.id}`).catch(() => {});
    const p = paths(m);
    await unmountUnder(p.hostDir);
    await Deno.remove(p.hostDir, { recursive: true }).catch(() => {});
    await Deno.remove(join(podLogGrants(m.pod.sandboxStateDir), m.id)).catch(() => {});
    await removeStateDir(m.stateDir).catch(() => {});
  }
}
