/**
 * A launcher started before its box (a zygote): the namespace driver keeps one ready after a
 * start, so the next box's start skips the launcher's spawn and exec and its box-independent
 * work (leaving the caller's process group, the box's /dev, the wide user namespace; see
 * `agent/launch.c`, `--prestart`). It waits for its box's spec on its stdin, a pipe only this
 * process holds, and dies with this process while it waits.
 *
 * Its state dir is made with it (`.launcher-<owner pid>-<owner start time>-<random>` in the
 * boxes dir: the /dev it built sits on that dir's `dev`, in the launcher's own mount namespace),
 * and the box's `create` renames that dir into place. A launcher that is never used is killed
 * and its dir removed (`discard`); a dir whose owner died is removed by the next owner's first
 * refill (`sweepAbandonedLauncherDirs`).
 */
import { basename, join } from "node:path";
import { STATE_SUBDIRS } from "./_state_dir_ahead.ts";
import { isAliveSync, processIdentitySync } from "./_proc.ts";

const PREFIX = ".launcher-";

/** What a prestarted launcher was prepared for; any difference discards it. */
export interface LauncherFingerprint {
  /** The layout record of the state dir it was made with (cgroup mode and root, overlay). */
  layoutJson: string;
  /** The agent binary the launcher runs. */
  agent: string;
  /** The agent binary's inode and modification time (a rebuilt agent is another). */
  agentIdentity: string;
  /** bubblewrap, as the driver runs it. */
  bwrap: string;
  /** The PATH the launcher finds bubblewrap on. */
  path: string;
  /** The user it runs as. */
  uid: number | null;
}

/** The fingerprint's text form, for comparison. */
export function fingerprintKey(fingerprint: LauncherFingerprint): string {
  return JSON.stringify(fingerprint);
}

/** The agent binary's identity: its inode and modification time. */
export function agentIdentity(agent: string): string {
  const stat = Deno.statSync(agent);
  return `${stat.ino}:${stat.mtime?.getTime()}`;
}

/** This process's identity in a launcher dir's name. */
function ownerTag(): string {
  return `${Deno.pid}-${processIdentitySync(Deno.pid)?.startTime ?? "0"}`;
}

/** Removes the launcher dirs in `boxesDir` whose owning process is gone; returns their paths. */
export function sweepAbandonedLauncherDirs(boxesDir: string): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(boxesDir)];
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!entry.name.startsWith(PREFIX)) continue;
    const [pid, startTime] = entry.name.slice(PREFIX.length).split("-");
    if (isAliveSync({ pid: Number(pid), startTime })) continue;
    try {
      Deno.removeSync(join(boxesDir, entry.name), { recursive: true });
      removed.push(join(boxesDir, entry.name));
    } catch { /* another process swept it */ }
  }
  return removed;
}

/** One launcher waiting for its box's spec. */
export class PrestartedLauncher {
  /** The state dir made for its box (renamed into place by `create`). */
  dir: string;
  /** What it was prepared for. */
  readonly fingerprint: string;
  readonly #child: Deno.ChildProcess;
  #exited = false;
  #prepared = false;

  private constructor(child: Deno.ChildProcess, dir: string, fingerprint: string) {
    this.#child = child;
    this.dir = dir;
    this.fingerprint = fingerprint;
    child.status.then(() => this.#exited = true, () => this.#exited = true);
    // Its first byte says its box-independent work is done; until then it is not taken (its dir
    // must not be renamed under the /dev it is building). Nothing else comes on this pipe before
    // the spec, and the agent's ready byte follows on it.
    const reader = child.stdout.getReader();
    reader.read().then((first) => {
      this.#prepared = !first.done && first.value.length === 1;
      reader.releaseLock();
    }, () => {});
    // Neither the waiting launcher nor its pipes keep this process alive: at its exit the spec
    // pipe closes and the launcher leaves without running anything.
    child.unref();
  }

  /**
   * Makes a state dir in `boxesDir` and spawns a launcher on it; undefined when either fails
   * (the next start then runs the usual way).
   */
  static spawn(
    boxesDir: string,
    fingerprint: LauncherFingerprint,
    env: Record<string, string>,
  ): PrestartedLauncher | undefined {
    const dir = join(boxesDir, `${PREFIX}${ownerTag()}-${crypto.randomUUID().slice(0, 8)}`);
    try {
      Deno.mkdirSync(dir);
      for (const sub of [...STATE_SUBDIRS, "dev"]) Deno.mkdirSync(join(dir, sub));
      Deno.writeTextFileSync(join(dir, "layout.json"), fingerprint.layoutJson);
      const child = new Deno.Command(fingerprint.agent, {
        args: [
          "launch",
          "--prestart",
          "--parent",
          String(Deno.pid),
          "--dev",
          join(dir, "dev"),
          "--userns",
        ],
        clearEnv: true,
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      return new PrestartedLauncher(child, dir, fingerprintKey(fingerprint));
    } catch {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* never made */ }
      return undefined;
    }
  }

  /** The launcher's pid (the box's recorded process once it has its spec). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether it still runs (it exits if its setup failed). */
  get alive(): boolean {
    return !this.#exited;
  }

  /** Whether it has done its box-independent work and waits for a spec. */
  get prepared(): boolean {
    return this.#prepared && !this.#exited;
  }

  /** The launcher's stdout (the agent's ready byte, then an attached box's stdout). */
  get stdout(): ReadableStream<Uint8Array> {
    return this.#child.stdout;
  }

  /** The launcher's stderr (an attached box's stderr). */
  get stderr(): ReadableStream<Uint8Array> {
    return this.#child.stderr;
  }

  /** Its exit, once it (or bubblewrap in its place) ends. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** Keeps this process alive while the box runs attached, or lets it go. */
  hold(held: boolean): void {
    if (held) this.#child.ref();
    else this.#child.unref();
  }

  /**
   * Hands the launcher its box's spec (its arguments after `launch`) and closes the pipe; false
   * when the launcher is gone or the pipe broke (then it never runs the box).
   */
  async send(args: string[]): Promise<boolean> {
    if (this.#exited) return false;
    const text = [String(args.length), ...args].map((arg) => `${arg}\0`).join("");
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Kills a launcher that will not run a box, and removes its state dir unless a box's `create`
   * took it; synchronous (close paths).
   */
  discard(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    this.#child.stdout.cancel().catch(() => {});
    this.#child.stderr.cancel().catch(() => {});
    this.#child.stdin.abort().catch(() => {});
    // A dir renamed into a box's state dir goes with the box.
    if (!basename(this.dir).startsWith(PREFIX)) return;
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch { /* already gone */ }
  }
}
