/**
 * Session sandboxes for the agents that serve builds with chat channels: an agent whose config
 * says `box { driver = "box" }` runs each session's commands in a box of its own of the box
 * module's runtime (many chat users share one agent; none sees another's /tmp, processes or,
 * unless `box.workspace = "shared"`, files), under the config's limits, at most `box.max_boxes`
 * at once. On a fresh machine the built-in `busybox:latest` image is made from the host's static
 * busybox the first time it is needed, so this works offline. An agent on bubblewrap or plain
 * processes gets a folder per session the same way (`box.workspace = "session"`). Either way a
 * session folder is held to `box.session_quota_mb` and removed after `box.session_ttl_hours`
 * unused.
 */
import { isAbsolute, resolve } from "node:path";
import type { AgentConfig } from "./config/schema.ts";
import type { BoxManager } from "@a3s/box";
import type { Logger } from "@a3s/common";
import { type BoxSandboxLimits, SessionBoxes } from "./adapters/box_sandbox.ts";
import { bubblewrapAvailable } from "./runtime/sandbox.ts";
import { SessionSandboxes } from "./runtime/session_sandboxes.ts";

/** The limits of an agent's boxes, from its `box { }` block. */
export function boxLimits(config: AgentConfig): BoxSandboxLimits {
  return {
    pids: config.box.pids,
    memoryBytes: config.box.memory_mb * 1024 * 1024,
    cpus: config.box.cpus,
  };
}

/** The quota and time to live of an agent's session folders, from its `box { }` block. */
export function sessionFolderLimits(config: AgentConfig): { quotaBytes: number; ttlMs: number } {
  return {
    quotaBytes: config.box.session_quota_mb * 1024 * 1024,
    ttlMs: config.box.session_ttl_hours * 60 * 60 * 1000,
  };
}

/**
 * Logs a warning when no box driver works on this host: chat agents would then answer without
 * running any command. Resolves when checked (a failed probe is the warning's business, not the
 * server's).
 */
export async function warnWithoutBoxDriver(
  boxes: Pick<BoxManager, "info">,
  logger: Pick<Logger, "warn">,
): Promise<void> {
  const probes = await boxes.info().catch(() => []);
  if (probes.some((p) => p.available)) return;
  logger.warn("code: no box driver works on this host, so agents cannot run commands", {
    drivers: Object.fromEntries(probes.map((p) => [p.name, p.detail])),
  });
}

/** The image box can build from the host alone (Debian's `busybox-static`). */
const BUILT_IN_IMAGE = "busybox:latest";

/**
 * Makes and closes the box sandboxes of the agents that ask for one.
 *
 * @example
 * ```ts ignore
 * const sandboxes = new BoxAgentSandboxes(ctx.modules.box as BoxManager);
 * const sandbox = await sandboxes.forAgent(config, "/srv/agents/helper");
 * ```
 */
export class BoxAgentSandboxes {
  readonly #sandboxes: (SessionBoxes | SessionSandboxes)[] = [];
  #builtIn: Promise<void> | undefined;

  /**
   * Sandboxes on `boxes`; `onSweepError` hears of a sweep of idle session folders that failed;
   * `hide` are folders bubblewrap sessions may not see (the server's data folder: its store
   * holds every chat's memories and history).
   */
  constructor(
    private readonly boxes: BoxManager,
    private readonly onSweepError?: (error: unknown) => void,
    private readonly hide: readonly string[] = [],
  ) {}

  /**
   * The sandbox for `config` (relative workspaces resolve against `baseDir`): a box per session
   * for the box driver, a folder per session for the others; none (the agent's own sandbox,
   * shared by its sessions) for those with `box.workspace = "shared"`.
   */
  async forAgent(
    config: AgentConfig,
    baseDir: string,
  ): Promise<SessionBoxes | SessionSandboxes | undefined> {
    if (config.box.driver !== "box" && config.box.workspace === "shared") return undefined;
    const workspace = isAbsolute(config.workspace)
      ? config.workspace
      : resolve(baseDir, config.workspace);
    await Deno.mkdir(workspace, { recursive: true });
    const folders = {
      root: await Deno.realPath(workspace),
      workspace: config.box.workspace,
      ...sessionFolderLimits(config),
      onSweepError: this.onSweepError,
    };
    let sandbox: SessionBoxes | SessionSandboxes;
    if (config.box.driver === "box") {
      const builtIn = config.box.image === BUILT_IN_IMAGE;
      // Made now when the host can (so the first command does not wait for it); when it cannot
      // (no busybox-static yet), the agent still answers and each command says why it cannot
      // run, trying again, so installing the package needs no restart.
      if (builtIn) await this.#ensureBuiltInImage().catch(() => {});
      sandbox = new SessionBoxes(this.boxes, {
        ...folders,
        prepare: builtIn ? () => this.#ensureBuiltInImage() : undefined,
        image: config.box.image,
        network: config.box.network,
        limits: boxLimits(config),
        maxBoxes: config.box.max_boxes,
      });
    } else {
      const bwrap = config.box.driver === "bwrap" ||
        (config.box.driver === "auto" && bubblewrapAvailable());
      sandbox = new SessionSandboxes({
        ...folders,
        driver: bwrap ? "bwrap" : "process",
        network: config.box.network,
        hide: this.hide,
        passEnv: config.box.pass_env,
      });
    }
    this.#sandboxes.push(sandbox);
    return sandbox;
  }

  #ensureBuiltInImage(): Promise<void> {
    this.#builtIn ??= this.boxes.images.resolve(BUILT_IN_IMAGE).then(
      () => {},
      async () => {
        const { busyboxImage } = await import("@a3s/box");
        const { layer, config } = await busyboxImage();
        await this.boxes.images.createImage([layer], config, [BUILT_IN_IMAGE]);
      },
    );
    this.#builtIn.catch(() => (this.#builtIn = undefined));
    return this.#builtIn;
  }

  /** Removes every box made here and stops the sweeps. */
  async close(): Promise<void> {
    for (const sandbox of this.#sandboxes.splice(0)) await sandbox.close();
  }
}
