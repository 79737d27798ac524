/**
 * The `kvm` box driver: boxes on our own VMM. Each box is a VMM process of its own
 * (`vmm_process.ts`) booting Debian's kernel with the same initramfs and guest agent as the
 * qemu driver; the host reaches the agent through a unix socket the VMM bridges to its virtio
 * frame port, with the same {@linkcode AgentClient} the other drivers use.
 *
 * `box info` shows the startup probe's answer. Where the probe says Linux cannot boot (this
 * development host's paravirtual kvm_pvm), every call fails at once with the probe's one line,
 * so `box run --driver kvm` never hangs and the default driver choice falls back to the others.
 * A guest program can stand in for Linux (`guestProgram`), which is how the driver's host side
 * (process, socket bridge, frames over real virtqueues, stop and kill) is tested here.
 */
import { basename, join } from "node:path";
import { A3sError } from "@a3s/common";
import { AgentClient } from "../agent/client.ts";
import { buildAgent } from "../agent/build.ts";
import type {
  BoxDriver,
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
import { isAlive, type ProcessIdentity, signalVmProcess, stopVmProcess } from "../drivers/_proc.ts";
import { abandonedBox, type StarterRecord, writeStartedRecord } from "../drivers/_starter.ts";
import { type KvmProbe, probeKvm } from "./probe.ts";
import { detectTee } from "./tee/detect.ts";
import { baseInitramfs, KVM_GUEST_MODULES, writeBoxInitramfs } from "./initramfs.ts";
import type { VmmBoot, VmmConfig } from "./vmm_process.ts";
import { exists } from "../_exists.ts";
import { awaitLogKeeper, removeStateDir } from "../log_files.ts";
import { keptLogsPrefix, VM_FDS, vmFdPath, vmLogPath } from "../drivers/_vm_log_keeper.ts";

/** A flat guest program the VMM runs instead of Linux. */
export interface KvmGuestProgram {
  /** The program's bytes, loaded at `entry`. */
  image: Uint8Array;
  /** The CPU mode it starts in. */
  mode: "real" | "protected";
  /** Its load and start address. */
  entry: number;
}

/** Options for {@linkcode KvmDriver}. */
export interface KvmDriverOptions {
  /** The startup probe; {@linkcode probeKvm} by default. */
  probe?: () => Promise<KvmProbe>;
  /** Where the built guest agent and cached initramfs archives live. */
  cacheDir?: string;
  /** The kernel image; the newest `/boot/vmlinuz-*` unless set. */
  kernel?: string;
  /** Boot this program instead of Linux (needs only the probe's guest programs). */
  guestProgram?: KvmGuestProgram;
  /** How long start waits for the agent to answer. */
  bootTimeoutMs?: number;
}

/** The VM's host process; its box and starter (see `_starter.ts`) for the abandoned-box sweep. */
interface PidRecord extends ProcessIdentity, StarterRecord {
  memoryBytes: number;
}

async function readPidRecord(path: string): Promise<PidRecord | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as PidRecord;
  } catch {
    return undefined;
  }
}

/** The VMM's entry, as a URL `deno run` takes (a file here, https once published). */
const VMM_ENTRY = new URL("./vmm_process.ts", import.meta.url).href;
const MiB = 1024 * 1024;

async function newestKernel(): Promise<string | undefined> {
  const kernels: string[] = [];
  try {
    for await (const entry of Deno.readDir("/boot")) {
      if (entry.name.startsWith("vmlinuz-")) kernels.push(join("/boot", entry.name));
    }
  } catch {
    return undefined;
  }
  return kernels.sort().pop();
}

/**
 * The kvm driver.
 *
 * @example
 * ```ts
 * import { KvmDriver } from "./driver.ts";
 * console.log((await new KvmDriver().probe()).detail);
 * ```
 */
export class KvmDriver implements BoxDriver {
  /** The driver's name, as `--driver` takes it. */
  readonly name = "kvm";
  /** Boxes run in a VM with their own kernel. */
  readonly isolation = "vm" as const;
  readonly #probe: () => Promise<KvmProbe>;
  readonly #options: KvmDriverOptions;

  /** A driver; nothing is checked until `probe` or `start`. */
  constructor(options: KvmDriverOptions = {}) {
    this.#probe = options.probe ?? probeKvm;
    this.#options = options;
  }

  get #cacheDir(): string {
    return this.#options.cacheDir ?? join(Deno.env.get("TMPDIR") ?? "/tmp", "a3s-kvm");
  }

  async #kernel(): Promise<{ kernel: string; modulesDir: string } | undefined> {
    const kernel = this.#options.kernel ?? await newestKernel();
    if (!kernel || !(await exists(kernel))) return undefined;
    const version = basename(kernel).replace(/^vmlinuz-/, "");
    return { kernel, modulesDir: join("/lib/modules", version) };
  }

  /** Why boxes cannot run here, or undefined when they can. */
  async #unavailable(probe: KvmProbe): Promise<string | undefined> {
    if (this.#options.guestProgram) {
      return probe.guestPrograms ? undefined : `guest programs cannot run: ${probe.reason}`;
    }
    if (!probe.linuxBoot) return `cannot boot Linux: ${probe.reason}`;
    const kernel = await this.#kernel();
    if (!kernel) return "no kernel in /boot (install linux-image-amd64)";
    for (const module of KVM_GUEST_MODULES) {
      if (!(await exists(join(kernel.modulesDir, module)))) {
        return `kernel module ${module} missing`;
      }
    }
    return undefined;
  }

  async probe(): Promise<DriverProbe> {
    const probe = await this.#probe();
    const tee = await detectTee();
    const features = {
      guestPrograms: probe.guestPrograms,
      linuxBoot: probe.linuxBoot,
      hypervisor: probe.module,
      tee: tee.kind === "none" ? "none" : `${tee.kind} (${tee.role})`,
    };
    const guest = probe.guestPrograms
      ? `guest programs run (${probe.guestMs?.toFixed(1)} ms to HLT)`
      : "guest programs cannot run";
    const why = await this.#unavailable(probe);
    return {
      name: this.name,
      isolation: this.isolation,
      strength: 25,
      available: why === undefined,
      detail: why === undefined
        ? `${guest}; ${this.#options.guestProgram ? "boots a guest program" : probe.reason}`
        : `${guest}; ${why}`,
      features,
    };
  }

  async #refuseUnlessAvailable(): Promise<void> {
    const probe = await this.probe();
    if (probe.available) return;
    throw new A3sError(
      "driver_unavailable",
      `the kvm driver cannot run boxes here: ${probe.detail}`,
      { status: 400, field: "driver" },
    );
  }

  #paths(spec: BoxSpec) {
    return {
      socket: join(spec.stateDir, "agent.sock"),
      status: join(spec.stateDir, "status"),
      config: join(spec.stateDir, "vmm.json"),
      initramfs: join(spec.stateDir, "initramfs.cpio"),
      program: join(spec.stateDir, "guest.bin"),
      pid: join(spec.stateDir, "pid.json"),
    };
  }

  async create(spec: BoxSpec): Promise<void> {
    await this.#refuseUnlessAvailable();
    if (spec.volumes.length) {
      throw new A3sError("unsupported", "the kvm driver does not mount volumes", {
        status: 400,
        field: "volumes",
      });
    }
    if (spec.network === "host" || spec.netns) {
      throw new A3sError("unsupported", "the kvm driver has no networking; use --network none", {
        status: 400,
        field: "network",
      });
    }
    await Deno.mkdir(spec.stateDir, { recursive: true });
  }

  async #boot(spec: BoxSpec): Promise<VmmBoot> {
    const paths = this.#paths(spec);
    const program = this.#options.guestProgram;
    if (program) {
      await Deno.writeFile(paths.program, program.image);
      return { kind: "program", image: paths.program, mode: program.mode, entry: program.entry };
    }
    const kernel = await this.#kernel();
    if (!kernel) throw new A3sError("driver_unavailable", "no kernel for the kvm driver");
    const agent = await buildAgent(join(this.#cacheDir, "agent"));
    const base = await baseInitramfs({
      rootfs: spec.rootfs,
      agent,
      modulesDir: kernel.modulesDir,
      cacheDir: join(this.#cacheDir, "initramfs"),
    });
    await writeBoxInitramfs(paths.initramfs, base, spec);
    return {
      kind: "linux",
      kernel: kernel.kernel,
      initramfs: paths.initramfs,
      // Words after "--" are init's arguments: the frame port is the single-port console hvc0,
      // and the exit status goes out on COM2 (ttyS1), which the VMM turns into the status file.
      cmdline: "quiet loglevel=0 rdinit=/init -- --port /dev/hvc0 --status /dev/ttyS1",
    };
  }

  async start(spec: BoxSpec, output: BoxOutput): Promise<StartedBox> {
    await this.#refuseUnlessAvailable();
    const paths = this.#paths(spec);
    await Deno.mkdir(spec.stateDir, { recursive: true });
    const memoryBytes = Math.max(
      this.#options.guestProgram ? 8 * MiB : 128 * MiB,
      Math.ceil((spec.limits.memoryBytes ?? 256 * MiB) / MiB) * MiB,
    );
    const config: VmmConfig = {
      memoryBytes,
      vcpus: Math.max(1, Math.ceil(spec.limits.cpus ?? 1)),
      boot: await this.#boot(spec),
      socket: paths.socket,
      // The console goes to the VMM's stdout, and the guest's stdout and stderr lines to their
      // own fds: pipes of the keeper of the box's logs (see _vm_log_keeper.ts).
      stdout: vmFdPath(VM_FDS.stdout),
      stderr: vmFdPath(VM_FDS.stderr),
      status: paths.status,
    };
    await Deno.writeTextFile(paths.config, JSON.stringify(config));
    await Deno.remove(paths.status).catch(() => {});
    await Deno.remove(paths.socket).catch(() => {});
    const command = [
      // keep-logs execs the VMM in place, so the recorded pid is the VMM's.
      ...keptLogsPrefix(await buildAgent(join(this.#cacheDir, "agent")), output, spec.stateDir),
      Deno.execPath(),
      "run",
      // What a VMM needs and no more: libc through FFI, its files, its one unix socket. No
      // other network, no subprocesses, no environment.
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      `--allow-net=unix:${paths.socket}`,
      "--no-prompt",
      VMM_ENTRY,
      paths.config,
    ];
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    writeStartedRecord(paths.pid, child.pid, this.name, spec.id, { memoryBytes });
    let exited = false;
    child.status.then(() => exited = true);
    child.unref();
    await this.#waitForAgent(spec, () => exited, output);
    return { pid: child.pid };
  }

  async #waitForAgent(spec: BoxSpec, exited: () => boolean, output: BoxOutput): Promise<void> {
    const deadline = Date.now() + (this.#options.bootTimeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      if (exited() || !(await this.#running(spec))) {
        // The VMM's last words may still be in the keeper's pipe.
        await awaitLogKeeper(output.stdoutPath);
        const messages = await Deno.readTextFile(vmLogPath(spec.stateDir)).catch(() => "");
        // The reason, not the last line of a stack trace.
        const line = messages.match(/^error: .*$/m)?.[0] ?? messages.trim().split("\n").pop() ??
          "";
        throw new A3sError("box_start_failed", `the VMM ended during boot: ${line || "no output"}`);
      }
      let client: AgentClient | undefined;
      try {
        client = await this.#connect(spec);
        await client.health(Math.max(100, Math.min(2000, deadline - Date.now())));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        client?.close();
      }
    }
    await this.kill(spec, 9);
    throw new A3sError(
      "box_start_failed",
      "the guest agent did not answer before the boot timeout",
    );
  }

  #record(spec: BoxSpec): Promise<PidRecord | undefined> {
    return readPidRecord(this.#paths(spec).pid);
  }

  async #running(spec: BoxSpec): Promise<boolean> {
    const record = await this.#record(spec);
    return record !== undefined && await isAlive(record);
  }

  async #connect(spec: BoxSpec): Promise<AgentClient> {
    // A stale socket file outlives a killed VMM; only a live VMM's socket is worth dialing.
    const running = await this.#running(spec);
    try {
      if (!running) throw new Error("no VMM");
      return new AgentClient(
        await Deno.connect({ transport: "unix", path: this.#paths(spec).socket }),
      );
    } catch {
      throw new A3sError("box_not_running", `box ${spec.id.slice(0, 12)} is not running`, {
        status: 409,
      });
    }
  }

  /** Answers a heartbeat through the whole path: socket, VMM, virtqueues, guest, and back. */
  async health(spec: BoxSpec, timeoutMs = 2000): Promise<void> {
    const client = await this.#connect(spec);
    try {
      await client.health(timeoutMs);
    } finally {
      client.close();
    }
  }

  async exec(spec: BoxSpec, request: ExecRequest): Promise<ExecProcess> {
    const client = await this.#connect(spec);
    const process = await client.exec(request);
    process.status.finally(() => client.close()).catch(() => {});
    return process;
  }

  /**
   * SIGTERM ends the VMM process, and with it the vCPU thread wherever it is: stop never waits
   * for the guest's next exit. SIGKILL follows if the process outlives the grace period.
   */
  async stop(spec: BoxSpec, graceSeconds: number): Promise<void> {
    await stopVmProcess(
      await this.#record(spec),
      graceSeconds,
      () => this.#running(spec),
      () => this.kill(spec, 9),
    );
  }

  async kill(spec: BoxSpec, signal: number): Promise<void> {
    const record = await this.#record(spec);
    if (!record || !(await isAlive(record))) return;
    await signalVmProcess("kvm", record, signal, () => this.#running(spec));
    if (signal === 9) {
      await Deno.writeTextFile(this.#paths(spec).status, "137 9 killed\n").catch(() => {});
    }
  }

  async state(spec: BoxSpec): Promise<DriverBoxState> {
    const record = await this.#record(spec);
    if (record && await isAlive(record)) return { running: true, pid: record.pid };
    const text = await Deno.readTextFile(this.#paths(spec).status).catch(() => "");
    const match = text.match(/(\d+) (\d+) (\w+)/);
    if (!match) return { running: false, reason: record ? "killed" : "start_failed" };
    return {
      running: false,
      exitCode: Number(match[1]),
      signal: Number(match[2]),
      reason: match[3] as ExitReason,
    };
  }

  /** The VMM process's resident memory and CPU time, with the guest's RAM as the limit. */
  async stats(spec: BoxSpec): Promise<BoxStats> {
    const record = await this.#record(spec);
    if (!record || !(await isAlive(record))) return {};
    const stat = await Deno.readTextFile(`/proc/${record.pid}/stat`).catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const rss = Number(fields[21] ?? 0) * 4096;
    return {
      memoryBytes: rss || undefined,
      memoryLimitBytes: record.memoryBytes,
      cpuSeconds: ticks / 100,
    };
  }

  async copyIn(spec: BoxSpec, data: Uint8Array, guestPath: string, mode: number): Promise<void> {
    const client = await this.#connect(spec);
    try {
      await client.put(guestPath, data, mode);
    } finally {
      client.close();
    }
  }

  async copyOut(spec: BoxSpec, guestPath: string): Promise<Uint8Array> {
    const client = await this.#connect(spec);
    try {
      return await client.get(guestPath);
    } finally {
      client.close();
    }
  }

  /**
   * A VM started by a `run` that died before it wrote the box's row: its VMM process would run
   * on with no row to stop it. The manager removes it (kills the process, removes its state).
   */
  async abandoned(stateDir: string): Promise<string | undefined> {
    const record = await readPidRecord(join(stateDir, "pid.json"));
    return await abandonedBox(stateDir, record, this.name);
  }

  async remove(spec: BoxSpec): Promise<void> {
    if (await this.#running(spec)) await this.kill(spec, 9);
    await removeStateDir(spec.stateDir).catch(() => {});
  }
}
