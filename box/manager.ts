/**
 * The box manager: the one API behind the CLI and the HTTP routes. It keeps boxes in the shared
 * store (so `box ps` sees what `serve` started, and the reverse), picks the strongest driver
 * that works unless told otherwise, and reconciles records with reality: a box whose process is
 * gone reads as `exited` with the reason, never as a ghost `running`.
 */
import { join, resolve } from "node:path";
import { A3sError, NotFoundError, type Store, ValidationError } from "@a3s/common";
import type { CompiledQuery, Kysely } from "kysely";
import type { BoxRow, BoxTables, EventRow, ImageRow } from "./schema.ts";
import type { ImageConfig } from "./image/oci.ts";
import { newBoxId } from "./_box_id.ts";
import { awaitLogKeeper, logEnd, logKeeperAlive, readLogSince } from "./log_files.ts";
import { DEFAULT_LOG_BOUND, type LogBound } from "./log_bound.ts";
import type { ImageStore } from "./image/store.ts";
import type {
  BoxDriver,
  BoxLimits,
  BoxSecurity,
  BoxSpec,
  BoxStats,
  DriverProbe,
  ExecProcess,
  ExecRequest,
  ExitReason,
  OutputChunk,
  PodPlacement,
  StartedBox,
  VolumeMount,
} from "./types.ts";
import { USER_SPEC } from "./types.ts";
import { bootSeconds, boxCountSources, execSeconds } from "./metrics.ts";
import { VOLUME_NAME, VolumeStore } from "./volumes.ts";
import { NetworkStore } from "./network/networks.ts";
import { columnsOf, preparedInsert, preparedQuery } from "./_prepared.ts";
import { redactDetail } from "./_redact.ts";
import {
  type PublishedPort,
  publishedPorts,
  publishPorts,
  unpublishPorts,
} from "./network/port_forwarder.ts";

/** A box's lifecycle state, as Docker names them. */
export type BoxState = "created" | "running" | "exited";

/** What `inspect` and `ps` show. */
export interface BoxInfo {
  /** The box's id, 64 hex characters; a unique prefix also names it. */
  id: string;
  /** The box's unique name, given or generated. */
  name: string;
  /** The image reference the box was created from, as given. */
  image: string;
  /** The id (manifest digest) of the image the reference resolved to. */
  imageId: string;
  /** The name of the driver running the box. */
  driver: string;
  /** Where the box is in its lifecycle. */
  state: BoxState;
  /** The main command, entrypoint included. */
  command: string[];
  /** When the box was created, in milliseconds since the epoch. */
  createdAt: number;
  /** When the box last started, in milliseconds since the epoch; null before its first start. */
  startedAt: number | null;
  /** When the box last stopped, in milliseconds since the epoch; null while it never stopped. */
  finishedAt: number | null;
  /** The main command's exit code once it stopped; null before. */
  exitCode: number | null;
  /** Why it stopped: exited, stopped, killed, timeout, oom, pids_limit, host_restart. */
  reason: string | null;
  /** The resource limits the box runs under. */
  limits: BoxLimits;
  /** `none` for loopback only, `host` for the host's network. */
  network: "none" | "host";
  /** The mounts; a named volume's `host` is its directory. */
  volumes: VolumeMount[];
  /** The main command's environment, the image's merged with the caller's. */
  env: Record<string, string>;
  /** The main command's working directory; null for the image's default. */
  workdir: string | null;
  /** Whether the box is removed once it exits (`run --rm`). */
  autoRemove: boolean;
  /** How much of each of its output streams the box keeps on disk (`--log-opt`). */
  logBound: LogBound;
}

/** What creating a box takes; only `image` is required. */
export interface CreateBoxOptions {
  /** The image reference to create the box from; pulled if not yet local. */
  image: string;
  /** Replaces the image's Cmd; the image's Entrypoint stays in front. */
  command?: string[];
  /**
   * Replaces the image's Entrypoint (as Kubernetes' `command` does); `[]` clears it. Given
   * without `command`, the image's Cmd is not appended (Docker's `--entrypoint` rule).
   */
  entrypoint?: string[];
  /** A unique name for the box; one is generated when unset. */
  name?: string;
  /** Environment variables, added over the image's. */
  env?: Record<string, string>;
  /** The working directory; the image's WorkingDir when unset. */
  workdir?: string;
  /** The user to run as (`name`, `uid`, `name:group`, `uid:gid`); the image's User when unset. */
  user?: string;
  /** The hostname the box sees. */
  hostname?: string;
  /** Mounts; a `host` that is a bare name is a named volume, created on first use. */
  volumes?: VolumeMount[];
  /** Memory, CPU and process limits; unlimited when unset. */
  limits?: BoxLimits;
  /** `none` (default) for loopback only, `host` to share the host's network. */
  network?: "none" | "host";
  /** A network namespace path to join (a pod's or a bridged network's); namespace driver only. */
  netns?: string;
  /**
   * Bridged networks to attach the box to (created with `network create`); other boxes on them
   * reach it by its name. The first network's hosts file becomes its /etc/hosts.
   */
  networks?: string[];
  /** More names the box answers to on its networks (a compose service's name). */
  networkAliases?: string[];
  /** Host ports to forward into the box (`-p`); needs a bridged network. */
  publish?: PublishedPort[];
  /** Seconds after which everything in the box is killed; none when unset. */
  timeoutSeconds?: number;
  /** The driver to run the box on; the strongest available one when unset. */
  driver?: string;
  /** Removes the box once it exits (`run --rm`). */
  autoRemove?: boolean;
  /**
   * How much of its own output the box keeps on disk (`--log-opt`); when unset, a pod member's
   * sandbox's, else 20 MiB × 5 files.
   */
  logBound?: LogBound;
  /** Attaches the main command's stdin to a pipe the caller writes (`run -i`). */
  interactive?: boolean;
  /** No main command: the box idles until stopped, serving exec (how `run -t` gets a pty). */
  idle?: boolean;
  /** Runs the main command on a pseudo-terminal (`run -t`, a CRI container's `tty`). */
  tty?: boolean;
  /** Security settings beyond the driver's defaults (capabilities, seccomp, read-only...). */
  security?: BoxSecurity;
  /**
   * The box is a pod's sandbox (CRI): on drivers with the `pods` feature, what the pod's
   * members share (a VM on the VM drivers) is set up with it.
   */
  podSandbox?: boolean;
  /**
   * The pod sandbox box (id or name) this box is a member of: it runs on the sandbox's driver,
   * inside the sandbox (its VM on the VM drivers).
   */
  pod?: string;
}

/** An audit sink; every create, exec and delete is recorded in the store and passed here. */
export type AuditSink = (
  event: { action: string; boxId: string; detail: Record<string, unknown> },
) => void;

/** A lifecycle transition of one box: what the event bus publishes as `box.<id>.<state>`. */
export interface BoxLifecycleEvent {
  /** What happened: created, started (running), exited (or failed to start), removed. */
  state: "created" | "started" | "exited" | "removed";
  /** The box's id. */
  boxId: string;
  /** The box's name. */
  name: string;
  /** The image reference it was created from. */
  image: string;
  /** The driver it runs on. */
  driver: string;
  /** For exited: the exit code, when known. */
  exitCode?: number | null;
  /** For exited: why (`exited`, `stopped`, `killed`, `oom`, `timeout`, `start_failed`, ...). */
  reason?: string;
}

/** Receives lifecycle transitions; called synchronously, so it must not block or throw. */
export type LifecycleSink = (event: BoxLifecycleEvent) => void;

/** Options for {@linkcode BoxManager.open}. */
export interface BoxManagerOptions {
  /** The shared store that holds the box, image and audit tables. */
  store: Store;
  /** The image store boxes are created from. */
  images: ImageStore;
  /** Data dir; box state lives in `<home>/box/boxes`. */
  home: string;
  /** The drivers boxes can run on; `box info` probes them all. */
  drivers: readonly BoxDriver[];
  /** Also receives every audited action, besides the store. */
  audit?: AuditSink;
  /** Receives each box's lifecycle transitions (serve publishes them on the event bus). */
  lifecycle?: LifecycleSink;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * Copies a directory's contents with `cp -a`, which keeps what an overlay layer needs: owners,
 * modes, whiteout devices and the opaque-directory xattrs.
 */
export async function copyTree(from: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", { args: ["-a", `${from}/.`, to], stderr: "piped" })
    .output();
  if (!out.success) {
    throw new A3sError(
      "copy_failed",
      `cp -a failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** Rejects a user spec the box could never resolve, before anything is created or run. */
function checkUser(user: string | undefined): void {
  if (user !== undefined && !USER_SPEC.test(user)) {
    throw new ValidationError(
      `invalid user '${user}': use name, uid, name:group or uid:gid`,
      "user",
    );
  }
}

let currentBootId: Promise<string> | undefined;

/** The kernel's boot id, read once per process: it cannot change while the process lives. */
function bootId(): Promise<string> {
  currentBootId ??= Deno.readTextFile("/proc/sys/kernel/random/boot_id").then(
    (text) => text.trim(),
    () => "",
  );
  return currentBootId;
}

/** Whether `security` asks for anything beyond a driver's defaults. */
function asksForSecurity(security: BoxSecurity | undefined): boolean {
  if (!security) return false;
  return !!(security.capAdd?.length || security.capDrop?.length || security.readOnlyRootfs ||
    Object.keys(security.sysctls ?? {}).length || security.privileged || security.hostPid ||
    security.hostIpc || (security.seccomp && security.seccomp.kind !== "default"));
}

/** The part of an image's config a box's spec takes its defaults from. */
interface ImageDefaults {
  config: ImageConfig;
  /** `Env` as a record. */
  imageEnv: Record<string, string>;
}

/**
 * Each image row's config, parsed once: the image store hands out the same row object for a tag
 * until the image tables change (its tag cache), so a box's start does not parse the config
 * again. Keyed by the row object, read-only: a row read afresh is parsed afresh.
 */
const parsedConfigs = new WeakMap<ImageRow, Readonly<ImageDefaults>>();

function imageDefaults(image: ImageRow): Readonly<ImageDefaults> {
  let parsed = parsedConfigs.get(image);
  if (!parsed) {
    const config = JSON.parse(image.config) as ImageDefaults["config"];
    const imageEnv = Object.fromEntries(
      (config.config?.Env ?? []).map((
        e,
      ) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    parsed = { config, imageEnv };
    parsedConfigs.set(image, parsed);
  }
  return parsed;
}

/** A driver's start that `run` began while the box's row was being written. */
interface StartingBox {
  started: Promise<StartedBox>;
  /** The spec the driver was given (the row's, not parsed back from it). */
  spec: StoredSpec;
  /** When the start began (performance.now), for the boot-time histogram. */
  at: number;
  /** Whether the driver has reported the box's process yet (BoxOutput.onProcess). */
  hasProcess(): boolean;
}

interface StoredSpec extends BoxSpec {
  bootId: string;
  /** How much of its own output the box keeps on disk; the default bound when unset. */
  logBound?: LogBound;
  /** Host ports forwarded into the box while it runs. */
  publish?: PublishedPort[];
}

/** How often a followed box's state is read, and the longest a log follower sleeps. */
const LOG_POLL_MS = 100;
/** The shortest spell between two reads of a followed box's logs. */
const LOG_BATCH_MS = 4;

/**
 * Reads what a box's logs gained since `offsets` (advanced as it goes), chunk by chunk. Reads are
 * synchronous: a chunk of a local file is microseconds, where each async read waited for a
 * thread-pool slot and an event-loop turn, on the path of a box's first output.
 */
function* readNewOutput(
  paths: { stdoutPath: string; stderrPath: string },
  offsets: { stdout: number; stderr: number },
): Generator<{ stream: "stdout" | "stderr"; data: Uint8Array }> {
  for (const stream of ["stdout", "stderr"] as const) {
    const offset = { value: offsets[stream] };
    try {
      for (
        const data of readLogSince(
          stream === "stdout" ? paths.stdoutPath : paths.stderrPath,
          offset,
        )
      ) {
        offsets[stream] = offset.value;
        yield { stream, data };
      }
    } finally {
      offsets[stream] = offset.value;
    }
  }
}

/** Waits for both logs' keepers (see {@linkcode awaitLogKeeper}). */
async function awaitLogKeepers(paths: { stdoutPath: string; stderrPath: string }) {
  await Promise.all([awaitLogKeeper(paths.stdoutPath), awaitLogKeeper(paths.stderrPath)]);
}

/** What woke a log follower: a log file, another file of the box, or the poll's timer. */
type LogWake = "log" | "other" | "timeout";

/**
 * Changes in a box's state dir and its agent's run dir (not recursive: the state dir holds the
 * box's root mount). `next` resolves on the next change, after `timeoutMs`, or on abort; without
 * inotify it is a plain timer.
 */
function watchChanges(stateDir: string): {
  next(timeoutMs: number, signal?: AbortSignal): Promise<LogWake>;
  close(): void;
} {
  let watcher: Deno.FsWatcher | undefined;
  try {
    const dirs = [stateDir, join(stateDir, "run")].filter((dir) => {
      try {
        return Deno.statSync(dir).isDirectory;
      } catch {
        return false;
      }
    });
    watcher = dirs.length ? Deno.watchFs(dirs, { recursive: false }) : undefined;
  } catch {
    watcher = undefined;
  }
  // A change seen while no one waits is kept ("other" outranks "log"), so none is lost.
  let seen: LogWake | undefined;
  let wake: ((why: LogWake) => void) | undefined;
  if (watcher) {
    (async () => {
      for await (const event of watcher) {
        const why = event.paths.every((path) => path.endsWith(".log")) ? "log" : "other";
        if (wake) wake(why);
        else seen = seen === "other" ? "other" : why;
      }
    })().catch(() => {/* the watcher failed: the timer alone wakes the follower */});
  }
  return {
    async next(timeoutMs, signal) {
      if (seen) {
        const why = seen;
        seen = undefined;
        return why;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => wake?.("timeout");
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        return await new Promise<LogWake>((resolve) => {
          wake = resolve;
          timer = setTimeout(() => resolve("timeout"), timeoutMs);
        });
      } finally {
        wake = undefined;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      }
    },
    close() {
      try {
        watcher?.close();
      } catch { /* closed already */ }
    },
  };
}

/** Every column of a box's row, in the order its prepared insert takes them. */
const BOX_COLUMNS = columnsOf<BoxRow>({
  id: true,
  name: true,
  image: true,
  image_id: true,
  driver: true,
  state: true,
  spec: true,
  created_at: true,
  started_at: true,
  finished_at: true,
  exit_code: true,
  reason: true,
  auto_remove: true,
});

/** Every column of an audit event's row, likewise. */
const EVENT_COLUMNS = columnsOf<EventRow>({
  id: true,
  at: true,
  action: true,
  box_id: true,
  detail: true,
});

/**
 * Creates, runs and tracks boxes.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { BoxManager, ImageStore, NamespaceDriver } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const images = await ImageStore.open(store, "/tmp/a3s-images");
 * const boxes = await BoxManager.open({
 *   store, images, home: "/tmp/a3s",
 *   drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s/agent" })],
 * });
 * console.log(await boxes.list({ all: true }));
 * ```
 */
export class BoxManager {
  /** The image store boxes are created from. */
  readonly images: ImageStore;
  /** Named volumes (`-v name:/path`). */
  readonly volumes: VolumeStore;
  /** Bridged networks (`--network name`). */
  readonly networks: NetworkStore;
  readonly #db: Kysely<BoxTables>;
  readonly #options: BoxManagerOptions;
  readonly #drivers: Map<string, BoxDriver>;
  #probes?: Promise<DriverProbe[]>;
  /** The box holding a name, compiled once (checked on every box's start path). */
  readonly #boxByName: (name: string) => CompiledQuery<{ id: string }>;
  /** A box by its full id, compiled once (every exec looks its box up). */
  readonly #boxById: (id: string) => CompiledQuery<BoxRow>;
  /** A box's row inserted, compiled once (every create writes one, on its start path). */
  readonly #insertBox: (row: BoxRow) => CompiledQuery<BoxRow>;
  /** An audit event inserted, compiled once (every create and exec writes one). */
  readonly #insertEvent: (event: EventRow) => CompiledQuery<EventRow>;
  readonly #countSource: () => Promise<{ state: string; driver: string; n: number }[]>;
  /**
   * The rows (and audit entries) of boxes `run` started attached, not written yet: each is
   * written once the caller has had the box's first output (see `run`), or as soon as anything
   * in this manager reads boxes (`#settled`). The writer is idempotent.
   */
  readonly #unwritten = new Map<string, () => Promise<void>>();

  private constructor(options: BoxManagerOptions) {
    this.#options = options;
    this.images = options.images;
    this.volumes = new VolumeStore(options.home);
    this.networks = new NetworkStore(options.home);
    this.#db = options.store.db<BoxTables>();
    this.#drivers = new Map(options.drivers.map((d) => [d.name, d]));
    this.#boxByName = preparedQuery(() =>
      this.#db.selectFrom("box_boxes").select("id").where("name", "=", "").compile()
    );
    this.#boxById = preparedQuery(() =>
      this.#db.selectFrom("box_boxes").selectAll().where("id", "=", "").compile()
    );
    this.#insertBox = preparedInsert(this.#db, "box_boxes", BOX_COLUMNS);
    this.#insertEvent = preparedInsert(this.#db, "box_events", EVENT_COLUMNS);
    this.#countSource = async () => {
      const rows = await this.#db.selectFrom("box_boxes").select(["state", "driver"])
        .select((eb) => eb.fn.countAll<number>().as("n")).groupBy(["state", "driver"]).execute();
      return rows.map((r) => ({ state: r.state, driver: r.driver, n: Number(r.n) }));
    };
    boxCountSources.add(this.#countSource);
  }

  /** Opens the manager; the image store has already applied box's migrations. */
  static async open(options: BoxManagerOptions): Promise<BoxManager> {
    await Deno.mkdir(join(options.home, "box", "boxes"), { recursive: true });
    const manager = new BoxManager(options);
    await manager.#sweepAbandoned();
    return manager;
  }

  /**
   * Removes the boxes whose starter died before it wrote their row. `run` starts a box before it
   * writes the box's row (so the store write overlaps the box's start instead of delaying it);
   * a process killed in between leaves a running box that no `ps` lists and nothing would stop.
   * A state dir without a row is asked of each driver (`abandoned`): only one whose starter is
   * gone is removed, as `rm -f` removes a box; one whose starter lives is about to get its row.
   * Runs as a manager opens and on every `list` (whose rows it is given).
   */
  async #sweepAbandoned(recorded?: readonly { id: string }[]): Promise<void> {
    const boxesDir = join(this.#options.home, "box", "boxes");
    const names: string[] = [];
    for (const entry of Deno.readDirSync(boxesDir)) {
      // Dot-named dirs are the drivers' own (launchers, dirs made ahead), never a box's.
      if (entry.isDirectory && !entry.name.startsWith(".")) names.push(entry.name);
    }
    if (names.length === 0) return;
    const rows = recorded ?? await this.#db.selectFrom("box_boxes").select("id").execute();
    const known = new Set(rows.map((row) => row.id.slice(0, 12)));
    for (const name of names.filter((name) => !known.has(name))) {
      const stateDir = join(boxesDir, name);
      for (const driver of this.#drivers.values()) {
        const id = await driver.abandoned?.(stateDir).catch(() => undefined);
        if (id === undefined) continue;
        // Its row was written after all (its starter died right after): it is a listed box.
        if ((await this.#db.executeQuery(this.#boxById(id))).rows.length > 0) break;
        const spec = {
          id,
          rootfs: "",
          stateDir,
          command: [],
          env: {},
          volumes: [],
          limits: {},
          network: "none" as const,
        };
        try {
          await driver.remove(spec);
          await this.#audit("delete", id, { reason: "abandoned by its starter before its row" });
        } catch {
          // Left for the next sweep: opening a manager or listing boxes never fails for it.
        }
        break;
      }
    }
  }

  /**
   * Writes the rows `run` left for after the caller's first output (`#unwritten`): every read of
   * boxes waits for them, so this manager never answers as if such a box did not exist.
   */
  async #settled(): Promise<void> {
    if (this.#unwritten.size === 0) return;
    await Promise.all([...this.#unwritten.values()].map((write) => write().catch(() => {})));
  }

  /**
   * Stops counting this manager's boxes in metrics and lets its drivers go of what they keep
   * ready for the next box (running boxes are not touched). Rows not written yet are written.
   */
  close(): void {
    for (const write of this.#unwritten.values()) write().catch(() => {});
    boxCountSources.delete(this.#countSource);
    for (const driver of this.#drivers.values()) driver.close?.();
  }

  /**
   * Every driver's probe, strongest first. Cached for the manager's life once a driver works;
   * while none does, each call probes again, so installing bubblewrap needs no restart.
   */
  info(): Promise<DriverProbe[]> {
    const probes = this.#probes ??= Promise.all(
      [...this.#drivers.values()].map((d) =>
        d.probe().catch((error) => ({
          name: d.name,
          available: false,
          isolation: d.isolation,
          strength: 0,
          detail: `probe failed: ${(error as Error).message}`,
          features: {},
        }))
      ),
    ).then((probes) => probes.sort((a, b) => b.strength - a.strength));
    probes.then((found) => {
      if (!found.some((p) => p.available) && this.#probes === probes) this.#probes = undefined;
    });
    return probes;
  }

  /** The named driver if it works here, else the strongest one that does. */
  async pickDriver(name?: string): Promise<BoxDriver> {
    const probes = await this.info();
    if (name) {
      const driver = this.#drivers.get(name);
      if (!driver) {
        throw new ValidationError(
          `unknown driver '${name}'; choose one of ${[...this.#drivers.keys()].join(", ")}`,
          "driver",
        );
      }
      const probe = probes.find((p) => p.name === name)!;
      if (!probe.available) {
        throw new A3sError(
          "driver_unavailable",
          `driver ${name} cannot run here: ${probe.detail}`,
          {
            status: 409,
            field: "driver",
          },
        );
      }
      return driver;
    }
    const best = probes.find((p) => p.available);
    if (!best) {
      // Each driver's reason names the package that would make it work.
      const reasons = probes.map((p) => `${p.name}: ${p.detail}`).join("; ");
      throw new A3sError("driver_unavailable", `no box driver works on this host (${reasons})`, {
        status: 409,
      });
    }
    return this.#drivers.get(best.name)!;
  }

  async #audit(action: string, boxId: string, raw: Record<string, unknown>): Promise<void> {
    // The trail and the server log are read by more people than the caller, and shipped
    // elsewhere: a password on a command line must not ride along.
    const detail = redactDetail(raw);
    await this.#db.executeQuery(this.#insertEvent({
      id: crypto.randomUUID(),
      at: Date.now(),
      action,
      box_id: boxId,
      detail: JSON.stringify(detail),
    }));
    this.#options.audit?.({ action, boxId, detail });
  }

  #lifecycle(
    state: BoxLifecycleEvent["state"],
    row: Pick<BoxRow, "id" | "name" | "image" | "driver">,
    exit?: { exitCode: number | null; reason: string },
  ): void {
    try {
      this.#options.lifecycle?.({
        state,
        boxId: row.id,
        name: row.name,
        image: row.image,
        driver: row.driver,
        ...exit,
      });
    } catch {
      // a faulty sink must not break the box's life cycle
    }
  }

  /** The audit trail of one box, or of all boxes, oldest first. */
  async events(
    boxId?: string,
  ): Promise<{ at: number; action: string; boxId: string; detail: Record<string, unknown> }[]> {
    await this.#settled();
    let query = this.#db.selectFrom("box_events").selectAll().orderBy("at").orderBy("id");
    if (boxId) query = query.where("box_id", "=", boxId);
    return (await query.execute()).map((r) => ({
      at: Number(r.at),
      action: r.action,
      boxId: r.box_id,
      // Again on reading: rows written before the trail was redacted still hold the raw text.
      detail: redactDetail(JSON.parse(r.detail)),
    }));
  }

  /** A row as the API shows it; `spec` is the row's spec when the caller has it parsed already. */
  #toInfo(row: BoxRow, spec: StoredSpec = JSON.parse(row.spec)): BoxInfo {
    return {
      id: row.id,
      name: row.name,
      image: row.image,
      imageId: row.image_id,
      driver: row.driver,
      state: row.state as BoxState,
      command: spec.command,
      createdAt: Number(row.created_at),
      startedAt: row.started_at === null ? null : Number(row.started_at),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
      exitCode: row.exit_code,
      reason: row.reason,
      limits: spec.limits,
      network: spec.network,
      volumes: spec.volumes,
      env: spec.env,
      workdir: spec.workdir ?? null,
      autoRemove: row.auto_remove === 1,
      // A box from before the bound existed has the default one.
      logBound: spec.logBound ?? DEFAULT_LOG_BOUND,
    };
  }

  async #row(idOrName: string, field = "box"): Promise<BoxRow> {
    if (!idOrName) throw new ValidationError("a box id or name is required", field);
    await this.#settled();
    // A full id (what the API and `run` hand out) is one exact lookup, as Docker takes a full id
    // before names; each exec resolves its box this way.
    if (/^[a-f0-9]{64}$/.test(idOrName)) {
      const [byId] = (await this.#db.executeQuery(this.#boxById(idOrName))).rows;
      if (byId) return byId;
    }
    const byName = await this.#db.selectFrom("box_boxes").selectAll().where("name", "=", idOrName)
      .executeTakeFirst();
    if (byName) return byName;
    if (/^[a-f0-9]{1,64}$/.test(idOrName)) {
      const rows = await this.#db.selectFrom("box_boxes").selectAll()
        .where("id", "like", `${idOrName}%`).limit(2).execute();
      if (rows.length === 1) return rows[0];
      if (rows.length > 1) throw new ValidationError(`box id '${idOrName}' is ambiguous`, field);
    }
    throw new NotFoundError(`no such box: ${idOrName}`, field);
  }

  #spec(row: BoxRow): StoredSpec {
    return JSON.parse(row.spec) as StoredSpec;
  }

  #driver(row: BoxRow): BoxDriver {
    const driver = this.#drivers.get(row.driver);
    if (!driver) {
      throw new A3sError(
        "driver_unavailable",
        `box ${row.name} uses driver ${row.driver}, not loaded here`,
        {
          status: 409,
        },
      );
    }
    return driver;
  }

  /** Brings a running record up to date with its process. */
  async #refresh(row: BoxRow): Promise<BoxRow> {
    if (row.state !== "running") return row;
    const driver = this.#drivers.get(row.driver);
    if (!driver) return row;
    const spec = this.#spec(row);
    const state = await driver.state(spec);
    if (state.running) return row;
    let reason: ExitReason | undefined = state.reason;
    if (spec.bootId && spec.bootId !== await bootId()) reason = "host_restart";
    const updated: Partial<BoxRow> = {
      state: "exited",
      finished_at: Date.now(),
      exit_code: state.exitCode ?? null,
      reason: reason ?? "exited",
    };
    const result = await this.#db.updateTable("box_boxes").set(updated).where("id", "=", row.id)
      .where("state", "=", "running").executeTakeFirst();
    const fresh = { ...row, ...updated };
    if (result.numUpdatedRows > 0n) {
      this.#lifecycle("exited", row, { exitCode: fresh.exit_code, reason: fresh.reason! });
    }
    if (row.auto_remove === 1) await this.#removeRow(fresh);
    return fresh;
  }

  /** Creates a box without starting it. */
  async create(options: CreateBoxOptions): Promise<BoxInfo> {
    return this.#toInfo(await this.#createRow(options));
  }

  /** Creates a box and returns its stored row (what `run` starts without reading it back). */
  async #createRow(options: CreateBoxOptions): Promise<BoxRow> {
    if (!options.networks?.length) return await this.#createBox(options);
    if (options.netns || options.network === "host") {
      throw new ValidationError(
        "a box on bridged networks cannot also use netns or host",
        "network",
      );
    }
    if (options.name !== undefined && !NAME.test(options.name)) {
      throw new ValidationError(`invalid name '${options.name}'`, "name");
    }
    const name = options.name ?? `box-${newBoxId().slice(0, 12)}`;
    if (
      await this.#db.selectFrom("box_boxes").select("id").where("name", "=", name)
        .executeTakeFirst()
    ) {
      throw new A3sError("name_in_use", `the name '${name}' is already in use`, {
        status: 409,
        field: "name",
      });
    }
    const attached: string[] = [];
    try {
      let netns: string | undefined;
      let hosts: VolumeMount | undefined;
      for (const network of options.networks) {
        const member = await this.networks.attach(network, name, options.networkAliases);
        attached.push(network);
        netns ??= this.networks.memberNetns(member);
        hosts ??= { host: this.networks.hostsFile(network), guest: "/etc/hosts", readOnly: true };
      }
      return await this.#createBox({
        ...options,
        name,
        netns,
        network: "none",
        volumes: [...(options.volumes ?? []), hosts!],
      });
    } catch (error) {
      for (const network of attached) await this.networks.detach(network, name).catch(() => {});
      throw error;
    }
  }

  /**
   * Creates a box. `onCreated` runs once the driver has prepared it, before the store writes:
   * `run` starts the box there, so those writes overlap its start. The row is written as running
   * when the box already has a process by then; what `onCreated` started is waited for before a
   * box whose row could not be written is removed.
   */
  async #createBox(
    options: CreateBoxOptions,
    onCreated?: (driver: BoxDriver, spec: StoredSpec) => StartingBox,
    writeLater = false,
  ): Promise<BoxRow> {
    const image = await this.images.resolve(options.image, "image");
    const { config, imageEnv } = imageDefaults(image);
    const entrypoint = options.entrypoint ?? config.config?.Entrypoint ?? [];
    // As Docker and Kubernetes do: an entrypoint given here clears the image's Cmd too.
    const args = options.command?.length
      ? options.command
      : options.entrypoint !== undefined
      ? []
      : config.config?.Cmd ?? [];
    const command = options.idle ? [] : [...entrypoint, ...args];
    if (command.length === 0 && !options.idle) {
      throw new ValidationError("no command given and the image has no default command", "command");
    }
    if (options.name !== undefined && !NAME.test(options.name)) {
      throw new ValidationError(
        `invalid name '${options.name}': use letters, digits, '_', '.', '-'`,
        "name",
      );
    }
    checkUser(options.user);
    const volumes = [...(options.volumes ?? [])];
    for (const [i, volume] of volumes.entries()) {
      // A bare name is a named volume (created on first use, as Docker does), never a path.
      if (VOLUME_NAME.test(volume.host)) {
        volumes[i] = { ...volume, host: (await this.volumes.create(volume.host)).mountpoint };
      }
    }
    for (const [i, volume] of volumes.entries()) {
      if (!volume.guest.startsWith("/")) {
        throw new ValidationError(
          `volume guest path '${volume.guest}' must be absolute`,
          `volumes.${i}`,
        );
      }
      try {
        await Deno.stat(volume.host);
      } catch {
        throw new ValidationError(
          `volume host path '${volume.host}' does not exist`,
          `volumes.${i}`,
        );
      }
    }
    let pod: PodPlacement | undefined = options.podSandbox ? { role: "sandbox" } : undefined;
    let driverName = options.driver;
    // A pod's members keep their logs as the pod's sandbox was told to, unless told otherwise.
    let podLogBound: LogBound | undefined;
    if (options.pod) {
      const sandbox = await this.#row(options.pod, "pod");
      const placement = this.#spec(sandbox).pod;
      podLogBound = this.#spec(sandbox).logBound;
      if (placement?.role !== "sandbox") {
        throw new ValidationError(`box ${sandbox.name} is not a pod sandbox`, "pod");
      }
      if (options.driver && options.driver !== sandbox.driver) {
        throw new ValidationError(
          `a pod member runs on its sandbox's driver (${sandbox.driver}), not ${options.driver}`,
          "driver",
        );
      }
      driverName = sandbox.driver;
      pod = {
        role: "member",
        sandboxId: sandbox.id,
        sandboxStateDir: this.#spec(sandbox).stateDir,
      };
    }
    const driver = await this.pickDriver(driverName);
    const features = (await this.info()).find((p) => p.name === driver.name)?.features;
    if (pod && features?.pods !== true) {
      throw new A3sError("unsupported", `driver ${driver.name} has no pods`, {
        status: 409,
        field: options.pod ? "pod" : "podSandbox",
      });
    }
    // Drivers that apply BoxSpec.security say so with the `security` probe feature; any other
    // refuses settings beyond the defaults rather than running the box weaker than asked.
    if (asksForSecurity(options.security) && features?.security !== true) {
      throw new A3sError(
        "unsupported",
        `driver ${driver.name} cannot apply security settings (capabilities, seccomp, read-only ` +
          `root, sysctls, privileged, host namespaces); use --driver namespace`,
        { status: 409, field: "security" },
      );
    }
    // A VM forwards ports itself (QEMU's user-mode network); a namespace box needs a bridged
    // network for the forwarder to reach it.
    const forwardsPorts = features?.ports === true;
    if (options.publish?.length && !forwardsPorts && !options.netns?.startsWith("/run/netns/")) {
      throw new ValidationError(
        driver.isolation === "namespace"
          ? "publishing ports needs a bridged network: add --network NAME"
          : `driver ${driver.name} cannot publish ports`,
        "publish",
      );
    }
    // A pod's VM runs in its pod's network namespace (the pod IP); other VMs have their own.
    if (options.netns && driver.isolation !== "namespace" && !options.podSandbox) {
      throw new A3sError(
        "unsupported",
        `driver ${driver.name} cannot join a network namespace; use --driver namespace`,
        { status: 409, field: "netns" },
      );
    }
    // A name made from the new random id cannot be taken (the insert's unique name would still
    // refuse it); only a chosen one is looked up, for an error naming the box that holds it.
    const [taken] = options.name === undefined
      ? []
      : (await this.#db.executeQuery(this.#boxByName(options.name))).rows;
    if (taken) {
      throw new A3sError(
        "name_in_use",
        `the name '${options.name}' is already in use by box ${taken.id.slice(0, 12)}`,
        {
          status: 409,
          field: "name",
        },
      );
    }
    const rootfs = await this.images.rootfs(image.id);
    const boot = await bootId();
    const boxesDir = resolve(this.#options.home, "box", "boxes");
    // Nothing below throws before `driver.create`: a claimed id's launcher waits for that call,
    // which creates the box or lets the launcher go.
    const id = driver.claimId?.(boxesDir, options) ?? newBoxId();
    const name = options.name ?? `box-${id.slice(0, 12)}`;
    const spec: StoredSpec = {
      id,
      rootfs,
      stateDir: join(boxesDir, id.slice(0, 12)),
      command,
      env: { ...imageEnv, ...options.env },
      workdir: options.workdir ?? (config.config?.WorkingDir || undefined),
      user: options.user ?? (config.config?.User || undefined),
      hostname: options.hostname ?? id.slice(0, 12),
      volumes: volumes.map((v) => ({ ...v, host: resolve(v.host) })),
      limits: options.limits ?? {},
      network: options.network ?? "none",
      netns: options.netns,
      publish: options.publish?.length && !forwardsPorts ? options.publish : undefined,
      ports: options.publish?.length && forwardsPorts
        ? options.publish.map((p) => ({
          hostIp: p.hostIp,
          hostPort: p.hostPort,
          guestPort: p.boxPort,
        }))
        : undefined,
      timeoutSeconds: options.timeoutSeconds,
      logBound: options.logBound ?? podLogBound ?? DEFAULT_LOG_BOUND,
      interactive: options.interactive,
      tty: options.tty,
      security: options.security,
      pod,
      bootId: boot,
    };
    await driver.create(spec);
    const starting = onCreated?.(driver, spec);
    const now = Date.now();
    const running = starting?.hasProcess() === true;
    const row: BoxRow = {
      id,
      name,
      image: options.image,
      image_id: image.id,
      driver: driver.name,
      state: running ? "running" : "created",
      spec: JSON.stringify(spec),
      created_at: now,
      started_at: running ? now : null,
      finished_at: null,
      exit_code: null,
      reason: null,
      auto_remove: options.autoRemove ? 1 : 0,
    };
    const write = async () => {
      try {
        await this.#db.executeQuery(this.#insertBox(row));
      } catch (error) {
        await starting?.started.catch(() => {});
        await driver.remove(spec);
        throw new A3sError("name_in_use", `the name '${name}' is already in use`, {
          status: 409,
          field: "name",
          cause: error,
        });
      }
      await this.#audit("create", id, { name, image: options.image, command, driver: driver.name });
    };
    if (writeLater) {
      let written: Promise<void> | undefined;
      this.#unwritten.set(id, () => {
        written ??= write().finally(() => this.#unwritten.delete(id));
        return written;
      });
    } else await write();
    this.#lifecycle("created", row);
    return row;
  }

  #logPaths(spec: StoredSpec) {
    return {
      stdoutPath: join(spec.stateDir, "stdout.log"),
      stderrPath: join(spec.stateDir, "stderr.log"),
      // A box from before the bound existed gets the default one.
      logBound: spec.logBound ?? DEFAULT_LOG_BOUND,
    };
  }

  /** Starts a created or exited box. Returns its stdin when it was created interactive. */
  async start(idOrName: string): Promise<{ info: BoxInfo; stdin?: WritableStream<Uint8Array> }> {
    return await this.#startRow(await this.#refresh(await this.#row(idOrName)));
  }

  /**
   * Starts a box's row; `starting` is the driver's start when the caller began it already (its
   * row then says running when the box had a process by the time it was written).
   */
  async #startRow(
    row: BoxRow,
    starting?: StartingBox,
    attach = false,
    afterFirstOutput?: (() => void)[],
  ): Promise<{ info: BoxInfo; stdin?: WritableStream<Uint8Array>; output?: StartedBox["output"] }> {
    if (row.state === "running" && !starting) return { info: this.#toInfo(row) };
    const driver = this.#driver(row);
    const spec = starting?.spec ?? this.#spec(row);
    const started = starting?.at ?? performance.now();
    let result;
    try {
      result = await (starting?.started ?? driver.start(spec, { ...this.#logPaths(spec), attach }));
    } catch (error) {
      await this.#settled();
      await this.#db.updateTable("box_boxes").set({
        state: "exited",
        finished_at: Date.now(),
        exit_code: 125,
        reason: "start_failed",
      }).where("id", "=", row.id).execute();
      this.#lifecycle("exited", row, { exitCode: 125, reason: "start_failed" });
      throw error;
    }
    // Marked running only once the driver has a process to look at, so a concurrent reader
    // (the supervisor, another CLI) never mistakes a box that is starting for a dead one. A row
    // `run` wrote as running needs no second write (one store write fewer before `run` returns).
    const running = row.state === "running" ? {} : {
      state: "running",
      started_at: Date.now(),
      finished_at: null,
      exit_code: null,
      reason: null,
    };
    if (row.state !== "running") {
      await this.#settled();
      await this.#db.updateTable("box_boxes").set(running).where("id", "=", row.id).execute();
    }
    this.#lifecycle("started", row);
    const bootTook = (performance.now() - started) / 1000;
    const observeBoot = () => bootSeconds.observe({ driver: driver.name }, bootTook);
    // Recorded after the caller's first output where `run` asks (the histogram's update is
    // tens of microseconds the first byte need not wait for).
    if (afterFirstOutput) afterFirstOutput.push(observeBoot);
    else observeBoot();
    if (spec.publish?.length && spec.netns) {
      // A restart replaces the forwarder of the previous run.
      await unpublishPorts(this.#options.home, row.name);
      await publishPorts(this.#options.home, row.name, spec.netns, spec.publish);
    }
    return {
      info: this.#toInfo({ ...row, ...running }, spec),
      stdin: result.stdin,
      output: result.output,
    };
  }

  /**
   * Creates and starts a box. With `attach`, `output` is the main command's output from the
   * start until the box ends, as attached `box run` prints it: through pipes where the driver
   * offers them (the namespace driver; the first byte reaches the caller as a bubblewrap
   * caller's does), from the logs otherwise and for whatever the pipes did not carry. The logs
   * get every byte either way. Breaking out of `output` detaches; the box runs on.
   */
  async run(
    options: CreateBoxOptions,
    runOptions: { attach?: boolean } = {},
  ): Promise<
    { info: BoxInfo; stdin?: WritableStream<Uint8Array>; output?: AsyncIterable<OutputChunk> }
  > {
    const attach = runOptions.attach === true;
    const withOutput = (
      started: { info: BoxInfo; stdin?: WritableStream<Uint8Array>; output?: StartedBox["output"] },
    ) => ({
      info: started.info,
      stdin: started.stdin,
      output: attach ? this.#attachedOutput(started.info.id, started.output) : undefined,
    });
    if (options.networks?.length) {
      return withOutput(await this.#startRow(await this.#createRow(options), undefined, attach));
    }
    // The box starts as soon as its driver has prepared it. Its row and audit entry are written
    // while it comes up, or, attached and unnamed, once the caller has had its first output: a
    // store write while the box comes up competes with it for the CPU (on a host of two, the
    // launcher woken by the spec runs on this process's CPU), measured at about 1 ms of the first
    // byte. Until then the box is in `#unwritten`, which every read here waits for; another
    // process on the store sees it a few milliseconds later, and the abandoned-box sweep leaves
    // a box whose starter lives alone. A chosen name is checked by its insert before `run`
    // returns, as ever.
    const writeLater = attach && options.name === undefined;
    let starting: StartingBox | undefined;
    const row = await this.#createBox(options, (driver, spec) => {
      let hasProcess = false;
      const at = performance.now();
      const started = driver.start(spec, {
        ...this.#logPaths(spec),
        onProcess: () => hasProcess = true,
        attach,
      });
      // Awaited by #startRow; until then a failed start must not read as unhandled.
      started.catch(() => {});
      starting = { started, spec, at, hasProcess: () => hasProcess };
      return starting;
    }, writeLater);
    const afterFirstOutput: (() => void)[] = [];
    const started = await this.#startRow(
      row,
      starting,
      attach,
      writeLater ? afterFirstOutput : undefined,
    );
    if (writeLater) {
      // Scheduled once the box is up, so it runs after the caller's first output where that came
      // with the agent's ready byte (a timer fires once this turn's promise callbacks, the
      // caller's among them, have run).
      setTimeout(() => {
        for (const work of afterFirstOutput) work();
        this.#unwritten.get(row.id)?.().catch(() => {});
      }, 0);
    }
    return withOutput(started);
  }

  /**
   * An attached box's output: what the driver's pipes carry, then the logs from the byte counts
   * the pipes delivered (everything, where the driver has no pipes), until the box ends.
   */
  async *#attachedOutput(
    id: string,
    piped: AsyncIterable<OutputChunk> | undefined,
  ): AsyncGenerator<OutputChunk> {
    const offsets = { stdout: 0, stderr: 0 };
    if (piped) {
      for await (const chunk of piped) {
        offsets[chunk.stream] += chunk.data.length;
        yield chunk;
      }
    }
    yield* this.logs(id, { follow: true, offsets });
  }

  /** A box's current state, refreshed from its driver; throws NotFoundError for an unknown box. */
  async inspect(idOrName: string): Promise<BoxInfo> {
    return this.#toInfo(await this.#refresh(await this.#row(idOrName)));
  }

  /** Running boxes, or all with `all`. */
  async list(options: { all?: boolean } = {}): Promise<BoxInfo[]> {
    await this.#settled();
    const rows = await this.#db.selectFrom("box_boxes").selectAll().orderBy("created_at", "desc")
      .execute();
    await this.#sweepAbandoned(rows);
    const infos: BoxInfo[] = [];
    for (const row of rows) {
      const fresh = await this.#refresh(row);
      const gone = fresh.auto_remove === 1 && fresh.state === "exited";
      if (!gone && (options.all || fresh.state === "running")) infos.push(this.#toInfo(fresh));
    }
    return infos;
  }

  async #running(idOrName: string): Promise<{ row: BoxRow; driver: BoxDriver; spec: StoredSpec }> {
    const row = await this.#refresh(await this.#row(idOrName));
    if (row.state !== "running") {
      throw new A3sError("box_not_running", `box ${row.name} is not running`, {
        status: 409,
        field: "box",
      });
    }
    return { row, driver: this.#driver(row), spec: this.#spec(row) };
  }

  /** Runs a command in a running box. */
  async exec(idOrName: string, request: ExecRequest): Promise<ExecProcess> {
    if (request.command.length === 0) throw new ValidationError("exec needs a command", "command");
    checkUser(request.user);
    const { row, driver, spec } = await this.#running(idOrName);
    const started = performance.now();
    await this.#audit("exec", row.id, { command: request.command, user: request.user ?? null });
    // As with `docker exec`, a command sees the box's environment, its own entries on top.
    const process = await driver.exec(spec, { ...request, env: { ...spec.env, ...request.env } });
    process.status.then((status) => {
      execSeconds.observe({ driver: driver.name }, (performance.now() - started) / 1000);
      return this.#audit("exec_exit", row.id, {
        command: request.command,
        exitCode: status.exitCode,
      });
    }).catch(() => {});
    return process;
  }

  /** Stops a box: SIGTERM, then SIGKILL after `graceSeconds`. */
  async stop(idOrName: string, graceSeconds = 10): Promise<BoxInfo> {
    const row = await this.#refresh(await this.#row(idOrName));
    if (row.state === "running") {
      await this.#driver(row).stop(this.#spec(row), graceSeconds);
      await this.#markStopped(row, "stopped");
    }
    return this.#toInfo(await this.#refresh(await this.#row(row.id)));
  }

  async #markStopped(row: BoxRow, reason: ExitReason): Promise<void> {
    const state = await this.#driver(row).state(this.#spec(row));
    if (state.running) return;
    const exit = {
      exitCode: state.exitCode ?? 137,
      reason: state.reason === "oom" || state.reason === "timeout" ? state.reason : reason,
    };
    const result = await this.#db.updateTable("box_boxes").set({
      state: "exited",
      finished_at: Date.now(),
      exit_code: exit.exitCode,
      reason: exit.reason,
    }).where("id", "=", row.id).where("state", "=", "running").executeTakeFirst();
    if (result.numUpdatedRows > 0n) this.#lifecycle("exited", row, exit);
  }

  /**
   * Changes a box's limits: a running box gets them at once where its driver can (a clear 409
   * where it cannot); a stopped box gets them at its next start.
   */
  async update(idOrName: string, limits: BoxLimits): Promise<BoxInfo> {
    const row = await this.#refresh(await this.#row(idOrName));
    const spec = this.#spec(row);
    const given = Object.fromEntries(
      Object.entries(limits).filter(([, v]) => v !== undefined),
    ) as BoxLimits;
    if (row.state === "running") {
      const driver = this.#driver(row);
      if (!driver.updateLimits) {
        throw new A3sError(
          "unsupported",
          `driver ${driver.name} cannot change the limits of a running box; stop it first`,
          { status: 409, field: "box" },
        );
      }
      await driver.updateLimits(spec, given);
    }
    spec.limits = { ...spec.limits, ...given };
    await this.#db.updateTable("box_boxes").set({ spec: JSON.stringify(spec) })
      .where("id", "=", row.id).execute();
    await this.#audit("update", row.id, { limits: given });
    return this.#toInfo(await this.#row(row.id));
  }

  /** Freezes a running box (`pause`) or thaws it (`unpause`); the driver must support it. */
  async setPaused(idOrName: string, paused: boolean): Promise<BoxInfo> {
    const { row, driver, spec } = await this.#running(idOrName);
    if (!driver.setPaused) {
      throw new A3sError("unsupported", `driver ${driver.name} cannot pause a box`, {
        status: 409,
        field: "box",
      });
    }
    await driver.setPaused(spec, paused);
    await this.#audit(paused ? "pause" : "unpause", row.id, {});
    return this.#toInfo(row);
  }

  /** Resizes the terminal of a running box whose main process runs on one (`tty`). */
  async resizeTerminal(idOrName: string, rows: number, cols: number): Promise<void> {
    const { driver, spec } = await this.#running(idOrName);
    if (!spec.tty || !driver.resizeTerminal) {
      throw new A3sError("unsupported", "the box's main process has no terminal to resize", {
        status: 409,
        field: "tty",
      });
    }
    await driver.resizeTerminal(spec, rows, cols);
  }

  /** Sends a signal (SIGKILL by default) to a running box. */
  async kill(idOrName: string, signal = 9): Promise<BoxInfo> {
    const { row, driver, spec } = await this.#running(idOrName);
    await driver.kill(spec, signal);
    if (signal === 9) await this.#markStopped(row, "killed");
    return this.#toInfo(await this.#refresh(await this.#row(row.id)));
  }

  /** Stops the box (killed after `graceSeconds`) and starts it again. */
  async restart(idOrName: string, graceSeconds = 10): Promise<BoxInfo> {
    await this.stop(idOrName, graceSeconds);
    return (await this.start(idOrName)).info;
  }

  /** Waits until the box exits; returns its info, exit code and reason included. */
  async wait(idOrName: string, signal?: AbortSignal): Promise<BoxInfo> {
    const id = (await this.#row(idOrName)).id;
    for (;;) {
      const row = await this.#refresh(await this.#row(id).catch(() => undefined) ?? ({} as BoxRow));
      if (!row.id) throw new NotFoundError(`box ${idOrName} was removed`, "box");
      if (row.state !== "running") return this.#toInfo(row);
      if (signal?.aborted) throw new A3sError("aborted", "wait aborted", { status: 499 });
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #removeRow(row: BoxRow): Promise<void> {
    await unpublishPorts(this.#options.home, row.name);
    const driver = this.#drivers.get(row.driver);
    if (driver) await driver.remove(this.#spec(row));
    for (const network of await this.networks.list()) {
      if (network.members.some((m) => m.name === row.name)) {
        await this.networks.detach(network.name, row.name);
      }
    }
    await this.#db.deleteFrom("box_boxes").where("id", "=", row.id).execute();
    await this.#audit("delete", row.id, { name: row.name });
    this.#lifecycle("removed", row);
  }

  /** Removes a box; a running one only with `force` (it is killed first). */
  async remove(idOrName: string, force = false): Promise<string> {
    const row = await this.#refresh(await this.#row(idOrName));
    if (row.state === "running" && !force) {
      throw new A3sError(
        "box_running",
        `box ${row.name} is running: stop it first or use -f`,
        { status: 409, field: "box" },
      );
    }
    await this.#removeRow(row);
    return row.id;
  }

  /**
   * The host ports forwarded into a box (`box port`), whichever way its driver forwards them: a
   * VM's own user-mode network, or the forwarder in a namespace box's network namespace.
   */
  async ports(idOrName: string): Promise<PublishedPort[]> {
    const row = await this.#row(idOrName);
    const forwarded = this.#spec(row).ports;
    if (forwarded?.length) {
      return forwarded.map((p) => ({
        hostIp: p.hostIp,
        hostPort: p.hostPort,
        boxPort: p.guestPort,
      }));
    }
    return await publishedPorts(this.#options.home, row.name);
  }

  /** Gives the box a new name; throws when the name is invalid or another box has it. */
  async rename(idOrName: string, newName: string): Promise<BoxInfo> {
    if (!NAME.test(newName)) throw new ValidationError(`invalid name '${newName}'`, "name");
    const row = await this.#row(idOrName);
    const taken = await this.#db.selectFrom("box_boxes").select("id").where("name", "=", newName)
      .executeTakeFirst();
    if (taken && taken.id !== row.id) {
      throw new A3sError("name_in_use", `the name '${newName}' is already in use`, {
        status: 409,
        field: "name",
      });
    }
    await this.#db.updateTable("box_boxes").set({ name: newName }).where("id", "=", row.id)
      .execute();
    return this.#toInfo(await this.#row(row.id));
  }

  /** A box's resource use now; only its id and name when it is not running. */
  async stats(idOrName: string): Promise<BoxStats & { id: string; name: string }> {
    const row = await this.#refresh(await this.#row(idOrName));
    const stats = row.state === "running" ? await this.#driver(row).stats(this.#spec(row)) : {};
    return { id: row.id, name: row.name, ...stats };
  }

  /** Copies bytes into a running box. */
  async copyIn(idOrName: string, data: Uint8Array, guestPath: string, mode = 0o644): Promise<void> {
    const { driver, spec } = await this.#running(idOrName);
    await driver.copyIn(spec, data, guestPath, mode);
  }

  /** Reads a file out of a running box. */
  async copyOut(idOrName: string, guestPath: string): Promise<Uint8Array> {
    const { driver, spec } = await this.#running(idOrName);
    return await driver.copyOut(spec, guestPath);
  }

  /**
   * The box's main output. With `follow`, keeps reading until the box exits (or `signal`
   * aborts); chunks come tagged with their stream.
   */
  async *logs(
    idOrName: string,
    options: {
      follow?: boolean;
      signal?: AbortSignal;
      fromEnd?: boolean;
      /** Where to start in each log (bytes already seen), instead of the start or the end. */
      offsets?: { stdout: number; stderr: number };
    } = {},
  ): AsyncGenerator<OutputChunk> {
    const row = await this.#row(idOrName);
    const paths = this.#logPaths(this.#spec(row));
    const offsets = { stdout: options.offsets?.stdout ?? 0, stderr: options.offsets?.stderr ?? 0 };
    if (options.fromEnd) {
      // `attach` shows what the box writes from now on, not what it wrote before.
      offsets.stdout = await logEnd(paths.stdoutPath);
      offsets.stderr = await logEnd(paths.stderrPath);
    }
    // With `follow`, the box's state dir is watched (inotify): a write to a log or the agent's
    // status file wakes the reader at once, where a fixed poll made `box run` show a box's first
    // output up to 100 ms late. The poll stays as a backstop (a driver writing elsewhere, a
    // watcher that cannot start), and the box's state is refreshed at most that often, so a
    // chatty box costs log reads, not store queries.
    const changes = options.follow ? watchChanges(this.#spec(row).stateDir) : undefined;
    let refreshedAt = -Infinity;
    let readAt = -Infinity;
    // A box that just ended may still have output in its log keeper's pipes.
    const keeping = logKeeperAlive(paths.stdoutPath) || logKeeperAlive(paths.stderrPath);
    if (!options.follow && keeping && (await this.#refresh(row)).state !== "running") {
      await awaitLogKeepers(paths);
    }
    try {
      for (;;) {
        // What is there is shown first: the box's state only decides whether to go on waiting
        // (an attached `box run` prints the first output before any store query).
        yield* readNewOutput(paths, offsets);
        if (!options.follow || options.signal?.aborted) return;
        if (performance.now() - refreshedAt >= LOG_POLL_MS) {
          refreshedAt = performance.now();
          const running = (await this.#refresh(await this.#row(row.id).catch(() => row)))
            .state === "running";
          if (!running) {
            // Whatever it wrote before it ended is in the logs by now, once its log keeper has
            // written what the pipes still held.
            await awaitLogKeepers(paths);
            yield* readNewOutput(paths, offsets);
            return;
          }
        }
        // A box writing without pause would wake the follower on every write: reads are spaced by
        // a few milliseconds, so its output comes in batches at no more than a few hundred a second.
        const sinceRead = performance.now() - readAt;
        if (sinceRead < LOG_BATCH_MS) {
          await new Promise((r) => setTimeout(r, LOG_BATCH_MS - sinceRead));
        }
        const woken = await changes!.next(LOG_POLL_MS, options.signal);
        readAt = performance.now();
        // Anything but a log changed (the agent's status file, the pid record): the box may have
        // ended, so its state is read again now rather than at the next poll.
        if (woken === "other") refreshedAt = -Infinity;
      }
    } finally {
      changes?.close();
    }
  }

  /** Removes every exited box; returns their ids. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const info of await this.list({ all: true })) {
      if (info.state !== "running") removed.push(await this.remove(info.id));
    }
    return removed;
  }

  /**
   * Re-reads every running box every `intervalMs`, so limits are enforced, exits recorded and
   * `--rm` boxes removed while nobody is asking. Returns the function that stops it.
   */
  supervise(intervalMs = 1000, onError?: (error: unknown) => void): () => void {
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        await this.list();
      } catch (error) {
        onError?.(error);
      } finally {
        busy = false;
      }
    }, intervalMs);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  }

  /**
   * The host directory with what a box changed over its image; a driver without such a layer
   * (a VM's disk is not a directory) gets a clear 409.
   */
  async writableLayer(idOrName: string): Promise<string> {
    const row = await this.#row(idOrName);
    const dir = await this.#driver(row).writableLayer?.(this.#spec(row));
    if (!dir) {
      throw new A3sError(
        "unsupported",
        `driver ${row.driver} keeps no writable layer for box ${row.name} (needs the namespace driver as root)`,
        { status: 409, field: "box" },
      );
    }
    return dir;
  }

  /**
   * Replaces a stopped box's writable layer with the contents of `source` (a snapshot), so
   * its next start sees the files as they were.
   */
  async replaceWritableLayer(idOrName: string, source: string): Promise<void> {
    const row = await this.#refresh(await this.#row(idOrName));
    if (row.state === "running") {
      throw new A3sError("box_running", `box ${row.name} is running: stop it first`, {
        status: 409,
        field: "box",
      });
    }
    const upper = await this.writableLayer(row.id);
    await this.#driver(row).releaseRootfs?.(this.#spec(row));
    for await (const entry of Deno.readDir(upper)) {
      await Deno.remove(join(upper, entry.name), { recursive: true });
    }
    await copyTree(source, upper);
  }

  /** The boxes (names) that mount a named volume. */
  async volumeUsers(name: string): Promise<string[]> {
    const { mountpoint } = await this.volumes.inspect(name);
    await this.#settled();
    const rows = await this.#db.selectFrom("box_boxes").select(["name", "spec"]).execute();
    return rows.filter((r) =>
      (JSON.parse(r.spec) as StoredSpec).volumes.some((v) => v.host === mountpoint)
    ).map((r) => r.name);
  }

  /** Whether any box was made from an image. */
  async imageInUse(imageId: string): Promise<boolean> {
    await this.#settled();
    return !!(await this.#db.selectFrom("box_boxes").select("id").where("image_id", "=", imageId)
      .executeTakeFirst());
  }
}
