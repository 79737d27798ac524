/**
 * The `box` driver: commands run in one long-lived box of box's runtime (namespace or VM
 * isolation, an image's root filesystem), with the workspace mounted read-write at its own path.
 */
import type { CommandResult, CommandSandbox, RunOptions } from "../runtime/sandbox.ts";
import { readCappedText } from "@a3s/common/capped-text";
import { writeStdin } from "@a3s/common/stdin";

/** The slice of box's `BoxManager` this driver uses. */
export interface BoxRuntimeLike {
  run(options: {
    image: string;
    name?: string;
    idle?: boolean;
    network?: "none" | "host";
    workdir?: string;
    volumes?: { host: string; guest: string; readOnly: boolean }[];
    autoRemove?: boolean;
  }): Promise<{ info: { id: string } }>;
  exec(
    box: string,
    request: { command: string[]; workdir?: string; env?: Record<string, string> },
  ): Promise<{
    stdin: WritableStream<Uint8Array>;
    stdout: ReadableStream<Uint8Array>;
    stderr: ReadableStream<Uint8Array>;
    status: Promise<{ exitCode: number; signal: number }>;
    kill(signal?: number): Promise<void>;
  }>;
  remove(box: string, force?: boolean): Promise<string>;
}

/**
 * Runs commands in a box started on first use.
 *
 * @example
 * ```ts ignore
 * import { openBoxRuntime } from "@a3s/box";
 * const sandbox = new BoxSandbox(await openBoxRuntime({ store, home }), "busybox:latest", "/work/ws", false);
 * console.log(await sandbox.run("ls", { cwd: "/work/ws", timeoutMs: 5000 }));
 * ```
 */
export class BoxSandbox implements CommandSandbox {
  readonly driver = "box";
  #box: Promise<string> | undefined;

  constructor(
    private readonly boxes: BoxRuntimeLike,
    private readonly image: string,
    private readonly root: string,
    private readonly network: boolean,
  ) {}

  #ensure(): Promise<string> {
    this.#box ??= this.boxes.run({
      image: this.image,
      idle: true,
      network: this.network ? "host" : "none",
      workdir: this.root,
      volumes: [{ host: this.root, guest: this.root, readOnly: false }],
    }).then((r) => r.info.id);
    this.#box.catch(() => (this.#box = undefined));
    return this.#box;
  }

  async run(command: string, options: RunOptions): Promise<CommandResult> {
    const box = await this.#ensure();
    const proc = await this.boxes.exec(box, {
      command: ["sh", "-c", command],
      workdir: options.cwd,
      env: options.env,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void proc.kill(9);
    }, options.timeoutMs);
    const onAbort = () => void proc.kill(9);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [stdout, stderr, status] = await Promise.all([
        readCappedText(proc.stdout),
        readCappedText(proc.stderr),
        proc.status,
        writeStdin(proc.stdin, new TextEncoder().encode(options.stdin ?? "")),
      ]);
      return { stdout, stderr, exitCode: status.exitCode, timedOut };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Removes the box. */
  async close(): Promise<void> {
    const box = await this.#box?.catch(() => undefined);
    this.#box = undefined;
    if (box) await this.boxes.remove(box, true).catch(() => {});
  }
}
