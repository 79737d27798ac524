/**
 * One box's VMM as a process of its own (`deno run vmm_process.ts CONFIG`): it builds the
 * machine, boots it (Linux from a bzImage and initramfs, or a guest program), bridges a unix
 * socket in the box's state dir to the virtio frame port, appends the console (the kernel's and
 * the agent's messages) to its file (or its stdout) and the guest's stdout and stderr lines to
 * theirs, and writes `code signal reason` to the status file when the guest ends.
 *
 * A process per box is what makes stop immediate everywhere: a vCPU thread inside KVM_RUN cannot
 * always be interrupted (kvm_pvm blocks every signal but SIGKILL while a guest runs, and a worker
 * cannot be terminated out of a native call), but ending the process ends all its threads at
 * once, and the kernel frees the VM and its memory with it.
 */
import { z } from "zod";
import { encodeFrame, FrameDecoder } from "@a3s/wasm/frame";
import { Machine } from "./machine.ts";
import { prepareLinuxBoot } from "./boot/linux.ts";
import { enterProtectedMode, enterRealMode } from "./boot/modes.ts";
import { VmError } from "./errors.ts";
import { Serial16550 } from "./devices/serial.ts";

/**
 * The status line: the guest agent's last words (`code signal reason`, as it writes them to
 * qemu's status port) arrive on COM2, which Linux knows as /dev/ttyS1.
 */
export const STATUS_UART = { port: 0x2f8, irq: 3 } as const;
const STATUS_LINE = /^(\d+) (\d+) (\w+)$/;

/**
 * The main command's stdout and stderr, each on a UART of its own (COM3 and COM4, Linux's
 * /dev/ttyS2 and /dev/ttyS3; the agent finds them in the box's /a3s/output), so the host keeps
 * the two streams apart and neither carries the console's messages.
 */
export const OUTPUT_UARTS = {
  stdout: { port: 0x3e8, irq: 4 },
  stderr: { port: 0x2e8, irq: 3 },
} as const;

/** How the VMM boots its guest. */
export const VmmBootSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("linux"),
    kernel: z.string(),
    initramfs: z.string(),
    cmdline: z.string(),
  }),
  z.object({
    kind: z.literal("program"),
    /** A flat binary loaded at `entry`. */
    image: z.string(),
    mode: z.enum(["real", "protected"]),
    entry: z.number().int().nonnegative(),
  }),
]);

/** Everything the VMM process needs, written by the driver as JSON. */
export const VmmConfigSchema = z.object({
  memoryBytes: z.number().int().positive(),
  vcpus: z.number().int().min(1).max(64).default(1),
  boot: VmmBootSchema,
  /** The unix socket the host's agent client connects to. */
  socket: z.string(),
  /**
   * The file the guest's console is appended to; the VMM's stdout when unset (a bounded box's:
   * a pipe to the keeper of its logs, see drivers/_vm_log_keeper.ts).
   */
  console: z.string().optional(),
  /** The file the guest's stdout line (COM3) is appended to; dropped when unset. */
  stdout: z.string().optional(),
  /** The file the guest's stderr line (COM4) is appended to; dropped when unset. */
  stderr: z.string().optional(),
  /** The file that receives `code signal reason` once the guest ends. */
  status: z.string(),
});

/** The VMM's configuration. */
export type VmmConfig = z.input<typeof VmmConfigSchema>;
/** How the VMM boots its guest. */
export type VmmBoot = z.infer<typeof VmmBootSchema>;

function writeStatus(path: string, code: number, signal: number, reason: string): void {
  Deno.writeTextFileSync(path, `${code} ${signal} ${reason}\n`);
}

/** A pipe (the log keeper's) may take part of a write; a file takes it all. */
function writeAll(output: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  for (let n = 0; n < bytes.length;) n += output.writeSync(bytes.subarray(n));
}

function boot(machine: Machine, config: z.infer<typeof VmmConfigSchema>): void {
  const boot = config.boot;
  if (boot.kind === "linux") {
    prepareLinuxBoot(machine, {
      kernel: Deno.readFileSync(boot.kernel),
      initrd: Deno.readFileSync(boot.initramfs),
      cmdline: boot.cmdline,
    });
    return;
  }
  machine.vm.memory.write(boot.entry, Deno.readFileSync(boot.image));
  if (boot.mode === "real") enterRealMode(machine.vm.vcpus[0], boot.entry);
  else enterProtectedMode(machine.vm.vcpus[0], machine.vm.memory, boot.entry);
}

/**
 * Bridges the socket to the frame port, one client at a time (each agent call is a connection,
 * as with QEMU's socket chardev): frames from the client go to the guest; frames from the guest
 * go to the client connected now.
 */
async function serveSocket(path: string, machine: Machine): Promise<void> {
  let client: Deno.UnixConn | undefined;
  let writes: Promise<unknown> = Promise.resolve();
  const { port } = machine.addFramePort((frame) => {
    const conn = client;
    if (!conn) return; // nobody listens: as on a serial line, the bytes are gone
    const bytes = encodeFrame(frame);
    // One write at a time, in order: frames must not interleave on the stream.
    writes = writes.then(() => conn.write(bytes)).catch(() => {});
  });
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) {
      client = conn;
      const frames = new FrameDecoder({ copyPayloads: true });
      try {
        for await (const chunk of conn.readable) {
          for (const frame of frames.push(chunk)) port.send(frame);
        }
      } catch {
        // The client went away mid-frame or the guest stopped reading: drop this connection.
      }
      if (client === conn) client = undefined;
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  })();
}

async function main(configPath: string): Promise<number> {
  const config = VmmConfigSchema.parse(JSON.parse(await Deno.readTextFile(configPath)));
  const output = config.console === undefined
    ? Deno.stdout
    : await Deno.open(config.console, { write: true, append: true, create: true });
  const machine = Machine.create({
    memoryBytes: config.memoryBytes,
    vcpus: config.vcpus,
    irqchip: config.boot.kind === "linux",
    onConsole: (bytes) => writeAll(output, bytes),
  });
  // SIGTERM is the driver's stop: record it, then end the process, which ends the vCPU thread
  // wherever it is (inside KVM_RUN included).
  Deno.addSignalListener("SIGTERM", () => {
    writeStatus(config.status, 143, 15, "stopped");
    Deno.exit(143);
  });
  await serveSocket(config.socket, machine);
  let statusText = "";
  const statusUart = new Serial16550({
    onOutput: (bytes) => {
      statusText += new TextDecoder().decode(bytes);
      const line = statusText.split(/\r?\n/)[0].trim();
      if (statusText.includes("\n") && STATUS_LINE.test(line)) {
        // The agent has reported and is powering the guest off: record it and end the VM now,
        // rather than wait on a poweroff a hardware-reduced machine cannot deliver.
        Deno.writeTextFileSync(config.status, `${line}\n`);
        Deno.exit(0);
      }
      if (statusText.length > 4096) statusText = ""; // not a status line: ignore the noise
    },
    interrupt: machine.vm.irqchip ? () => machine.vm.triggerIrq(STATUS_UART.irq) : undefined,
  });
  machine.vm.bus.addPio(STATUS_UART.port, 8, statusUart);
  for (const stream of ["stdout", "stderr"] as const) {
    const path = config[stream];
    const file = path === undefined
      ? undefined
      : await Deno.open(path, { write: true, append: true, create: true });
    const uart = OUTPUT_UARTS[stream];
    machine.vm.bus.addPio(
      uart.port,
      8,
      new Serial16550({
        onOutput: (bytes) => file && writeAll(file, bytes),
        interrupt: machine.vm.irqchip ? () => machine.vm.triggerIrq(uart.irq) : undefined,
      }),
    );
  }
  boot(machine, config);
  try {
    // Every vCPU has its own run loop; the application processors wait in the in-kernel local
    // APIC until Linux sends them INIT and SIPI. The first loop to end (reset, poweroff) ends
    // the guest, and leaving the process ends the others wherever they are.
    const result = await Promise.race(machine.vm.vcpus.map((_, vcpu) => machine.vm.run({ vcpu })));
    writeStatus(config.status, 0, 0, "exited");
    writeAll(output, new TextEncoder().encode(`\n[a3s vmm: the guest ended: ${result.reason}]\n`));
    return 0;
  } catch (error) {
    const why = error instanceof VmError ? `${error.kind}: ${error.message}` : String(error);
    writeStatus(config.status, 1, 0, "exited");
    writeAll(output, new TextEncoder().encode(`\n[a3s vmm: the guest failed: ${why}]\n`));
    console.error(`error: the guest failed: ${why}`);
    return 1;
  }
}

if (import.meta.main) {
  const [configPath] = Deno.args;
  if (!configPath) {
    console.error("usage: vmm_process.ts CONFIG.json");
    Deno.exit(2);
  }
  Deno.exit(await main(configPath));
}
