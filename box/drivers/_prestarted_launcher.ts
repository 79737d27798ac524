/**
 * A launcher started before its box (a zygote): the namespace driver keeps one ready after a
 * start, so the next box's start skips the launcher's spawn and exec and its box-independent
 * work (leaving the caller's process group, the box's /dev, the wide user namespace; see
 * `agent/launch.c`, `--prestart`). It waits for its box's spec on its stdin, a pipe only this
 * process holds, and dies with this process while it waits.
 *
 * It is made for a box id reserved ahead (`newBoxId`, the manager's own): its state dir is that box's state dir
 * (the id's first 12 characters in the boxes dir; the /dev it built sits on that dir's `dev`, in
 * the launcher's own mount namespace) and its cgroups are that box's groups, so the box that
 * claims the id takes them as they are, with no rename on its start path. The dir's pid record
 * names the launcher as the box's process and the reserving process as its starter (the record
 * the box's start would write, written ahead): until a box claims the id and writes its row, the
 * manager's abandoned-box sweep (any process on the data dir) leaves it alone while that process
 * lives and removes it, dir and groups, once it is gone, as it removes a box whose starter died
 * before its row. The hierarchy sweep of launcher-named groups
 * (`sweepAbandonedLauncherGroups`, which cannot see which data dir a group belongs to) never
 * matches a reserved box's groups. A launcher that is never claimed is killed and its dir and
 * groups removed (`discard`).
 *
 * Launchers of earlier versions were made under `.launcher-<owner pid>-<owner start time>-<random>`
 * and renamed into place by the box; what a dead owner left under such names is still swept
 * (`sweepAbandonedLauncherDirs`, `sweepAbandonedLauncherGroups`), or with a test's home (its
 * teardown takes every group named like a dir in the home).
 */
import { join, resolve } from "node:path";
import { STATE_SUBDIRS } from "./_state_dir_ahead.ts";
import { isAliveSync } from "./_proc.ts";
import { yieldCpu } from "./_yield_cpu.ts";

const PREFIX = ".launcher-";

/**
 * The log files a prestarted launcher opens ahead in its state dir (the names the manager gives
 * a box's logs in its state dir): a spec naming these leaves them open, any other reopens.
 */
export const LAUNCHER_LOGS = { stdout: "stdout.log", stderr: "stderr.log" } as const;

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

/** Removes empty cgroup dirs; returns those still holding a process (or not removable yet). */
function removeCgroupDirs(dirs: readonly string[]): string[] {
  const left: string[] = [];
  for (const dir of dirs) {
    try {
      Deno.removeSync(dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) left.push(dir);
    }
  }
  return left;
}

/**
 * Removes a discarded launcher's cgroup dirs once they are empty: after the launcher, the holder
 * of its user namespace leaves them too, and its exit takes the launcher's mount namespace down
 * (the overlay held ahead with it), which can outlast the launcher by milliseconds. Retried every
 * 20 ms for up to 2 s, on timers that keep no process alive; what a process exiting first leaves
 * is swept by the next manager (`sweepAbandonedLauncherGroups`). `removed` runs once all are.
 */
function removeCgroupDirsWhenEmpty(
  dirs: readonly string[],
  attempts = 100,
  removed?: () => void,
): void {
  const left = removeCgroupDirs(dirs);
  if (left.length === 0) removed?.();
  if (left.length === 0 || attempts <= 1) return;
  const timer = setTimeout(() => removeCgroupDirsWhenEmpty(left, attempts - 1, removed), 20);
  Deno.unrefTimer(timer);
}

/**
 * Removes the launcher-named cgroup dirs under each of `parents` (the box groups' parent dir in
 * each hierarchy) whose owning process is gone, killing what is left in them first (only a dead
 * owner's launcher, or its user namespace's holder, can be: a box's groups carry its id). Returns
 * the dirs removed.
 */
export function sweepAbandonedLauncherGroups(parents: readonly string[]): string[] {
  const removed: string[] = [];
  for (const parent of parents) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(parent)];
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
      const [pid, startTime] = entry.name.slice(PREFIX.length).split("-");
      if (isAliveSync({ pid: Number(pid), startTime })) continue;
      const dir = join(parent, entry.name);
      try {
        for (const task of Deno.readTextFileSync(join(dir, "cgroup.procs")).split("\n")) {
          if (task) Deno.kill(Number(task), "SIGKILL");
        }
      } catch { /* gone meanwhile */ }
      if (removeCgroupDirs([dir]).length === 0) removed.push(dir);
      else removeCgroupDirsWhenEmpty([dir]);
    }
  }
  return removed;
}

/**
 * Removes the launcher dirs in `boxesDir` whose owning process is gone, with the cgroup dirs
 * `cgroupDirsOf` names for each; returns the dirs' paths.
 */
export function sweepAbandonedLauncherDirs(
  boxesDir: string,
  cgroupDirsOf: (name: string) => string[] = () => [],
): string[] {
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
    removeCgroupDirs(cgroupDirsOf(entry.name));
    try {
      Deno.removeSync(join(boxesDir, entry.name), { recursive: true });
      removed.push(join(boxesDir, entry.name));
    } catch { /* another process swept it */ }
  }
  return removed;
}

/** A spec as the launcher reads it: the count of arguments, then each, NUL-terminated. */
function specText(args: string[]): string {
  return [String(args.length), ...args].map((arg) => `${arg}\0`).join("");
}

/** One launcher waiting for its box's spec. */
export class PrestartedLauncher {
  /** The id of the box it was made for (reserved: the next box claims it). */
  readonly boxId: string;
  /** The boxes dir its state dir is in, absolute (a box of another data dir cannot claim it). */
  readonly boxesDir: string;
  /** Its box's state dir. */
  readonly dir: string;
  /** Its box's cgroup dirs, one per hierarchy. */
  readonly cgroupDirs: readonly string[];
  /** What it was prepared for. */
  readonly fingerprint: string;
  /** The layout record its state dir holds (the fingerprint's). */
  readonly layoutJson: string;
  /** The image whose overlay it mounted ahead, if any. */
  readonly rootfs?: string;
  readonly #child: Deno.ChildProcess;
  /**
   * The spec pipe again, opened through `/proc/<pid>/fd/0` once the launcher is prepared: a
   * descriptor this process can write synchronously, so the spec leaves at once, rather than
   * through the child's stdin stream (an async write the event loop carries out later).
   */
  #spec?: Deno.FsFile;
  #exited = false;
  #prepared = false;
  /** Its dir and groups belong to a created box (`give`): discarding leaves them to the box. */
  #given = false;

  private constructor(
    child: Deno.ChildProcess,
    made: { boxId: string; boxesDir: string; dir: string; cgroupDirs: readonly string[] },
    fingerprint: LauncherFingerprint,
    rootfs: string | undefined,
  ) {
    this.#child = child;
    this.boxId = made.boxId;
    this.boxesDir = resolve(made.boxesDir);
    this.dir = made.dir;
    this.cgroupDirs = made.cgroupDirs;
    this.fingerprint = fingerprintKey(fingerprint);
    this.layoutJson = fingerprint.layoutJson;
    this.rootfs = rootfs;
    child.status.then(() => this.#exited = true, () => this.#exited = true);
    // Its first byte says its box-independent work is done; until then it is not claimed (its
    // box must not start under the /dev it is building). Nothing else comes on this pipe before
    // the spec, and the agent's ready byte follows on it.
    const reader = child.stdout.getReader();
    reader.read().then((first) => {
      this.#prepared = !first.done && first.value.length === 1;
      reader.releaseLock();
      if (!this.#prepared || this.#exited) return;
      try {
        // The launcher reads this pipe now, so opening it to write does not wait.
        this.#spec = Deno.openSync(`/proc/${child.pid}/fd/0`, { write: true });
      } catch { /* gone meanwhile: send falls back to the stream, and finds it broken */ }
    }, () => {});
    // Neither the waiting launcher nor its pipes keep this process alive: at its exit the spec
    // pipe closes and the launcher leaves without running anything.
    child.unref();
  }

  /**
   * Makes box `boxId`'s state dir in `boxesDir` and the cgroups `cgroups` names (`dirs` made,
   * the launcher joining `join` at once), and spawns a launcher on them; undefined when anything
   * fails (the next start then runs the usual way). The dir's pid record (`record`, given the
   * launcher's pid, 0 before the spawn) is written before anything else is made in it and again
   * once the launcher runs, so a sweep never finds the dir without its owner. The launcher opens
   * the dir's logs (`LAUNCHER_LOGS`) ahead and, given the `rootfs` the next box is expected to
   * run, mounts its overlay ahead too; a spec for another image has it unmounted and the right
   * one mounted.
   */
  static spawn(
    boxesDir: string,
    boxId: string,
    fingerprint: LauncherFingerprint,
    env: Record<string, string>,
    cgroups: { dirs: string[]; join: string[] },
    record: (pid: number) => string,
    rootfs?: string,
  ): PrestartedLauncher | undefined {
    const dir = join(boxesDir, boxId.slice(0, 12));
    let made = false;
    const groupsMade: string[] = [];
    try {
      // A dir of this name (a 48-bit random prefix) already there is another box's: never ours.
      Deno.mkdirSync(dir);
      made = true;
      Deno.writeTextFileSync(join(dir, "pid.json"), record(0));
      for (const group of cgroups.dirs) {
        Deno.mkdirSync(group);
        groupsMade.push(group);
      }
      for (const sub of [...STATE_SUBDIRS, "dev"]) Deno.mkdirSync(join(dir, sub));
      Deno.writeTextFileSync(join(dir, "layout.json"), fingerprint.layoutJson);
      const child = new Deno.Command(fingerprint.agent, {
        args: [
          "launch",
          "--prestart",
          "--parent",
          String(Deno.pid),
          ...cgroups.join.flatMap((group) => ["--cgroup", group]),
          "--dev",
          join(dir, "dev"),
          ...(rootfs
            ? ["--overlay", rootfs, join(dir, "upper"), join(dir, "work"), join(dir, "merged")]
            : []),
          "--stdout",
          join(dir, LAUNCHER_LOGS.stdout),
          "--stderr",
          join(dir, LAUNCHER_LOGS.stderr),
          "--userns",
        ],
        clearEnv: true,
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        Deno.writeTextFileSync(join(dir, "pid.json"), record(child.pid));
      } catch (error) {
        child.kill("SIGKILL");
        throw error;
      }
      return new PrestartedLauncher(
        child,
        { boxId, boxesDir, dir, cgroupDirs: cgroups.dirs },
        fingerprint,
        rootfs,
      );
    } catch {
      removeCgroupDirs(groupsMade);
      if (made) {
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch { /* removed meanwhile */ }
      }
      return undefined;
    }
  }

  /**
   * Gives its state dir and cgroups to its box, once the box is created: from then on they are
   * the box's (removed with it), whatever becomes of the launcher.
   */
  give(): void {
    this.#given = true;
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
    try {
      if (held) this.#child.ref();
      else this.#child.unref();
    } catch {
      // Its exit was seen already: nothing is left to hold (its pipes keep what it wrote).
    }
  }

  /**
   * Hands the launcher its box's spec (its arguments after `launch`) and closes the pipe; false
   * when the launcher is gone or the pipe broke (then it never runs the box).
   */
  async send(args: string[]): Promise<boolean> {
    const sent = this.sendSync(args);
    if (sent !== undefined) return sent;
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(specText(args)));
      await writer.close();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * {@linkcode send} without awaiting anything, through the spec pipe reopened by its /proc path:
   * true when the launcher has its spec, false when it is gone or the pipe broke, undefined where
   * the pipe could not be reopened (then `send` writes it through the stream). The driver's
   * `start` then records the box's process before it returns its promise, so `run` writes the
   * box's row as running at once instead of updating it after the start.
   */
  sendSync(args: string[]): boolean | undefined {
    if (this.#exited) return false;
    const spec = this.#spec;
    if (!spec) return undefined;
    this.#spec = undefined;
    let closed = false;
    try {
      const bytes = new TextEncoder().encode(specText(args));
      for (let done = 0; done < bytes.length;) done += spec.writeSync(bytes.subarray(done));
      spec.close();
      closed = true;
      // The launcher, woken on this CPU, runs now rather than after this process's next work.
      yieldCpu();
      return true;
    } catch {
      return false;
    } finally {
      if (!closed) spec.close();
      // The stream's end of the same pipe goes too, so the launcher sees the spec's end.
      this.#child.stdin.close().catch(() => {});
    }
  }

  /**
   * Kills a launcher that will not run a box, and removes its state dir and cgroups unless its
   * box was created (`give`); synchronous (close paths): the groups go once it has exited.
   */
  discard(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    this.#spec?.close();
    this.#spec = undefined;
    this.#child.stdout.cancel().catch(() => {});
    this.#child.stderr.cancel().catch(() => {});
    this.#child.stdin.abort().catch(() => {});
    // A created box's dir and groups go with the box.
    if (this.#given) return;
    // The dir goes after the groups: until then its pid record names the dead owner's box, so
    // the next manager's sweep (or a test home's teardown, which takes the groups named like a
    // dir in the home) finds them if this process exits first.
    const dir = this.dir;
    const remove = () =>
      removeCgroupDirsWhenEmpty(this.cgroupDirs, 100, () => {
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch { /* already gone */ }
      });
    this.#child.status.then(remove, remove);
  }
}
