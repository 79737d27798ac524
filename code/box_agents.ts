/**
 * Box sandboxes for the agents that serve builds: an agent whose config says
 * `box { driver = "box" }` runs each session's commands in a box of its own of the box module's
 * runtime (many chat users share one agent; none sees another's /tmp, processes or, unless
 * `box.workspace = "shared"`, files), under the config's limits, at most `box.max_boxes` at
 * once. On a fresh machine the built-in `busybox:latest` image is made from the host's static
 * busybox the first time it is needed, so this works offline.
 */
import { isAbsolute, resolve } from "node:path";
import type { AgentConfig } from "./config/schema.ts";
import type { BoxManager } from "@a3s/box";
import { type BoxSandboxLimits, SessionBoxes } from "./adapters/box_sandbox.ts";

/** The limits of an agent's boxes, from its `box { }` block. */
export function boxLimits(config: AgentConfig): BoxSandboxLimits {
  return {
    pids: config.box.pids,
    memoryBytes: config.box.memory_mb * 1024 * 1024,
    cpus: config.box.cpus,
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
  readonly #sandboxes: SessionBoxes[] = [];
  #builtIn: Promise<void> | undefined;

  constructor(private readonly boxes: BoxManager) {}

  /**
   * The sandbox for `config` (relative workspaces resolve against `baseDir`): a box per session;
   * none unless it names the box driver.
   */
  async forAgent(config: AgentConfig, baseDir: string): Promise<SessionBoxes | undefined> {
    if (config.box.driver !== "box") return undefined;
    const workspace = isAbsolute(config.workspace)
      ? config.workspace
      : resolve(baseDir, config.workspace);
    await Deno.mkdir(workspace, { recursive: true });
    if (config.box.image === BUILT_IN_IMAGE) await this.#ensureBuiltInImage();
    const sandbox = new SessionBoxes(this.boxes, {
      image: config.box.image,
      root: await Deno.realPath(workspace),
      network: config.box.network,
      limits: boxLimits(config),
      maxBoxes: config.box.max_boxes,
      workspace: config.box.workspace,
    });
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

  /** Removes every box made here. */
  async close(): Promise<void> {
    for (const sandbox of this.#sandboxes.splice(0)) await sandbox.close();
  }
}
