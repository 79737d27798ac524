/**
 * The `box` driver: commands run in a long-lived box of box's runtime (namespace or VM
 * isolation, an image's root filesystem), with the workspace mounted read-write at its own path,
 * under memory, CPU and process limits. {@linkcode SessionBoxes} gives each session a box (and a
 * workspace folder) of its own, at most `maxBoxes` at once.
 */
import type {
  CommandResult,
  CommandSandbox,
  RunOptions,
  SessionEnvironment,
} from "../runtime/sandbox.ts";
import { SessionWorkspaces } from "../runtime/session_workspaces.ts";
import { readCappedText } from "@a3s/common/capped-text";
import { writeStdin } from "@a3s/common/stdin";

/** Resource limits of a box (box's `BoxLimits`); an unset one is unlimited. */
export interface BoxSandboxLimits {
  /** Bytes of memory. */
  memoryBytes?: number;
  /** CPUs, fractional allowed. */
  cpus?: number;
  /** Most processes and threads at once. */
  pids?: number;
}

/** The limits agent boxes get when their config names none: 256 processes, 512 MiB, one CPU. */
export const DEFAULT_BOX_LIMITS: Readonly<BoxSandboxLimits> = Object.freeze({
  pids: 256,
  memoryBytes: 512 * 1024 * 1024,
  cpus: 1,
});

/**
 * What runs in a box once its last running command has ended: every process but the box's init
 * (and this shell) is killed, so background processes do not outlive the command that started
 * them. Only where box's agent is pid 1 (its own pid namespace, or a VM): `kill -1` anywhere else
 * would reach processes that are not the box's.
 */
export const REAP_COMMAND =
  '[ "$(cat /proc/1/comm 2>/dev/null)" = agent ] && kill -9 -1 2>/dev/null; true';

/** How long killing what commands left behind may take before the next command goes ahead. */
const REAP_TIMEOUT_MS = 10_000;

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
    limits?: BoxSandboxLimits;
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
 * Runs commands in a box started on first use, under resource limits. What a command leaves
 * running in the box (background processes) is killed once no command of the box runs, and
 * everything but the box's init when a command times out or is cancelled (so a background
 * process holding a command's output cannot hold the command past its timeout).
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
  /** Commands whose main process has not ended yet. */
  #alive = 0;
  /** Set while the processes commands left behind are killed. */
  #reaping: Promise<void> | undefined;

  /** A sandbox on `boxes` whose box runs `image` with `root` mounted, under `limits` ({@linkcode DEFAULT_BOX_LIMITS} when unset). */
  constructor(
    private readonly boxes: BoxRuntimeLike,
    private readonly image: string,
    private readonly root: string,
    private readonly network: boolean,
    private readonly limits: BoxSandboxLimits = DEFAULT_BOX_LIMITS,
  ) {}

  #ensure(): Promise<string> {
    this.#box ??= this.boxes.run({
      image: this.image,
      idle: true,
      network: this.network ? "host" : "none",
      workdir: this.root,
      volumes: [{ host: this.root, guest: this.root, readOnly: false }],
      limits: { ...this.limits },
    }).then((r) => r.info.id);
    this.#box.catch(() => (this.#box = undefined));
    return this.#box;
  }

  async run(command: string, options: RunOptions): Promise<CommandResult> {
    // A command does not start while the processes of earlier ones are being killed.
    while (this.#reaping) await this.#reaping;
    this.#alive++;
    let box: string;
    let proc: Awaited<ReturnType<BoxRuntimeLike["exec"]>>;
    try {
      box = await this.#ensure();
      proc = await this.boxes.exec(box, {
        command: ["sh", "-c", command],
        workdir: options.cwd,
        env: options.env,
      });
    } catch (error) {
      this.#alive--;
      throw error;
    }
    // Killing the command kills its process group; a background process that left it (or
    // outlived the command's shell) and keeps the output open would hold the command until it
    // exits, so everything else in the box goes too.
    const kill = () => {
      void proc.kill(9);
      this.#reap(box);
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener("abort", kill, { once: true });
    // Once the command has ended, what it left running in the box (background processes) goes
    // as well, as under bubblewrap, when no other command of the box still runs.
    const ended = proc.status.finally(() => {
      if (--this.#alive === 0) this.#reap(box);
    });
    try {
      const [stdout, stderr, status] = await Promise.all([
        readCappedText(proc.stdout),
        readCappedText(proc.stderr),
        ended,
        writeStdin(proc.stdin, new TextEncoder().encode(options.stdin ?? "")),
      ]);
      return { stdout, stderr, exitCode: status.exitCode, timedOut };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
    }
  }

  /** Kills every process in the box but its init (commands wait for it to finish). */
  #reap(box: string): void {
    const reaping: Promise<void> = this.#killLeftovers(box).finally(() => {
      if (this.#reaping === reaping) this.#reaping = undefined;
    });
    this.#reaping = reaping;
  }

  async #killLeftovers(box: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const proc = await this.boxes.exec(box, { command: ["sh", "-c", REAP_COMMAND] });
      // A box that does not answer must not hold its next command forever.
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          void proc.kill(9).catch(() => {});
          resolve();
        }, REAP_TIMEOUT_MS);
      });
      await Promise.race([
        Promise.all([
          proc.stdout.cancel(),
          proc.stderr.cancel(),
          writeStdin(proc.stdin, new Uint8Array()),
          proc.status,
        ]),
        late,
      ]);
    } catch {
      // A box that is gone has nothing left running.
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes the box. */
  async close(): Promise<void> {
    const box = await this.#box?.catch(() => undefined);
    this.#box = undefined;
    if (box) await this.boxes.remove(box, true).catch(() => {});
  }
}

/** What {@linkcode SessionBoxes} takes. */
export interface SessionBoxesOptions {
  /** The image every box runs. */
  image: string;
  /**
   * Makes the image ready before a box starts (the built-in one, from the host's busybox); its
   * failure is the command's, so the model hears why it cannot run.
   */
  prepare?: () => Promise<void>;
  /** The agent's workspace (its real path). */
  root: string;
  /** Give the boxes the host's network. */
  network: boolean;
  /** Each box's limits. */
  limits: BoxSandboxLimits;
  /** The most boxes at once; starting one more removes the least recently used. */
  maxBoxes: number;
  /** `session`: each session works in `sessions/<key>` of the workspace; `shared`: in the workspace itself. */
  workspace: "session" | "shared";
  /** Bytes one session folder may hold (`session` only); 0 or unset: no quota. */
  quotaBytes?: number;
  /** How long a session folder may sit unused before it is removed, in ms; 0 or unset: kept. */
  ttlMs?: number;
  /** Hears of a sweep of idle folders that failed. */
  onSweepError?: (error: unknown) => void;
}

/** The key of the box for commands run on the agent's own sandbox, outside any session. */
const AGENT_KEY = "";

export { sessionFolder } from "../runtime/session_workspaces.ts";

/**
 * One box per session: a session's commands run in its own box, started on its first command,
 * so its /tmp, its processes and (with `workspace: "session"`) its files are its own. The boxes
 * form an LRU of at most `maxBoxes`: a session that starts one more removes the least recently
 * used (an idle one first); that session gets a fresh box on its next command, its files kept.
 * A session's box is removed when the session closes ({@linkcode releaseSession}) and all of
 * them by {@linkcode close}.
 *
 * @example
 * ```ts ignore
 * const boxes = new SessionBoxes(await openBoxRuntime({ store, home }), {
 *   image: "busybox:latest", root: "/srv/ws", network: false, limits: DEFAULT_BOX_LIMITS,
 *   maxBoxes: 16, workspace: "session",
 * });
 * const { workspace, sandbox } = boxes.forSession("1:telegram:1");
 * await sandbox.run("echo hi > /tmp/note", { cwd: workspace.root, timeoutMs: 5000 });
 * ```
 */
export class SessionBoxes implements CommandSandbox {
  /** This sandbox's driver name, `box`. */
  readonly driver = "box";
  /** Live boxes by session key, least recently used first, with how many commands each runs. */
  readonly #live = new Map<string, { box: BoxSandbox; running: number }>();
  readonly #folders: SessionWorkspaces;
  #closed = false;

  /** Boxes on `boxes`, as `options` say; sweeps of idle session folders start now. */
  constructor(
    private readonly boxes: BoxRuntimeLike,
    private readonly options: SessionBoxesOptions,
  ) {
    this.#folders = new SessionWorkspaces(options);
  }

  /** The workspace folder of the sessions keyed `key`. */
  rootOf(key: string): string {
    return key === AGENT_KEY ? this.options.root : this.#folders.rootOf(key);
  }

  /** Runs `command` in a box of the agent's own, on the whole workspace (outside any session). */
  run(command: string, options: RunOptions): Promise<CommandResult> {
    return this.#run(AGENT_KEY, this.options.root, command, options);
  }

  /**
   * The workspace (made now) and the sandbox of the sessions keyed `key`, under the folder's
   * quota; the box starts on the first command.
   */
  forSession(key: string): SessionEnvironment {
    if (key === AGENT_KEY) throw new Error("a session key may not be empty");
    return this.#folders.open(key, (root) => ({
      driver: this.driver,
      run: (command, options) => this.#run(key, root, command, options),
    }));
  }

  /** Removes the box of the sessions keyed `key` (its workspace folder stays until idle past its time to live). */
  async releaseSession(key: string): Promise<void> {
    this.#folders.release(key);
    const entry = this.#live.get(key);
    this.#live.delete(key);
    await entry?.box.close();
  }

  /** Removes idle session folders now; returns their names. */
  sweep(): Promise<string[]> {
    return this.#folders.sweep();
  }

  /** The keys of the sessions whose boxes are live, least recently used first. */
  get liveSessions(): string[] {
    return [...this.#live.keys()];
  }

  async #run(
    key: string,
    root: string,
    command: string,
    options: RunOptions,
  ): Promise<CommandResult> {
    if (this.#closed) throw new Error("the agent's boxes are closed");
    if (!this.#live.has(key) && this.options.prepare) {
      await this.options.prepare();
      if (this.#closed) throw new Error("the agent's boxes are closed");
    }
    // Looked up after the wait: a command of the same session may have started its box meanwhile.
    let entry = this.#live.get(key);
    if (entry) this.#live.delete(key);
    else {
      entry = {
        box: new BoxSandbox(this.boxes, this.options.image, root, this.options.network, {
          ...this.options.limits,
        }),
        running: 0,
      };
    }
    // Most recently used last.
    this.#live.set(key, entry);
    this.#evict(key);
    entry.running++;
    try {
      return await entry.box.run(command, options);
    } finally {
      entry.running--;
    }
  }

  /** Removes the least recently used boxes past the cap, idle ones first; never `keep`'s. */
  #evict(keep: string): void {
    while (this.#live.size > this.options.maxBoxes) {
      const candidates = [...this.#live].filter(([k]) => k !== keep);
      const [key, entry] = candidates.find(([, e]) => e.running === 0) ?? candidates[0];
      this.#live.delete(key);
      void entry.box.close();
    }
  }

  /** Removes every box and stops sweeping. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#folders.close();
    const entries = [...this.#live.values()];
    this.#live.clear();
    await Promise.all(entries.map((e) => e.box.close()));
  }
}
