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
      if (config.box.image === BUILT_IN_IMAGE) await this.#ensureBuiltInImage();
      sandbox = new SessionBoxes(this.boxes, {
        ...folders,
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
