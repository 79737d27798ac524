/**
 * Wiring a config to the other a3s modules: power in process when the `power` provider has no
 * URL and none is set in `A3S_POWER_URL` (so agents run offline without a server), box's
 * runtime for `box.driver = "box"`, search's meta search for `search.enabled`, and search's
 * local index following the agent's memory (with a store). The CLI uses it; library users may too.
 */
import type { Store } from "@a3s/common";
import { isAbsolute, resolve } from "node:path";
import type { AgentConfig } from "./config/schema.ts";
import type { AgentOptions } from "./agent/agent.ts";
import { BoxSandbox } from "./adapters/box_sandbox.ts";
import { boxLimits } from "./box_agents.ts";
import { searchFunction } from "./adapters/search.ts";
import { PowerProvider } from "./providers/power.ts";

/** True when the config's models on `power` should run in this process. */
export function wantsInProcessPower(
  config: AgentConfig,
  env: (name: string) => string | undefined,
): boolean {
  if (env("A3S_POWER_URL")) return false;
  const declared = config.providers.find((p) => p.name === "power");
  if (declared?.base_url || declared?.kind === "anthropic") return false;
  const uses = (ref: string | undefined) => ref !== undefined && ref.startsWith("power/");
  return uses(config.default_model) || config.agents.some((a) => uses(a.model));
}

/** Agent options that connect `config` to box and search, and a function that closes them. */
export async function moduleIntegrations(
  config: AgentConfig,
  baseDir: string,
  store: Store | undefined,
  home: string,
): Promise<{ options: AgentOptions; close(): Promise<void> }> {
  const options: AgentOptions = {};
  const closers: (() => Promise<void> | void)[] = [];
  if (config.box.driver === "box" || config.search.enabled) {
    if (!store) {
      throw new Error(
        'box.driver = "box" and search.enabled need the shared store (run without --no-store)',
      );
    }
  }
  if (config.box.driver === "box") {
    const { openBoxRuntime } = await import("@a3s/box");
    const boxes = await openBoxRuntime({ store: store!, home });
    const workspace = isAbsolute(config.workspace)
      ? config.workspace
      : resolve(baseDir, config.workspace);
    await Deno.mkdir(workspace, { recursive: true });
    // One user, one workspace: the CLI's sessions share one box, under the config's limits.
    const sandbox = new BoxSandbox(
      boxes,
      config.box.image,
      Deno.realPathSync(workspace),
      config.box.network,
      boxLimits(config),
    );
    options.sandbox = sandbox;
    closers.push(() => sandbox.close(), () => boxes.close());
  }
  if (wantsInProcessPower(config, (name) => Deno.env.get(name))) {
    const { Power } = await import("@a3s/power");
    const power = new Power({ home });
    options.providers = { power: new PowerProvider(power) };
    closers.push(() => power.close());
  }
  if (config.search.enabled || (config.memory.enabled && store)) {
    const { SearchService, defaultSearchConfig } = await import("@a3s/search");
    const service = await SearchService.open(store!, defaultSearchConfig());
    if (config.search.enabled) options.search = searchFunction(service, config.search.engines);
    // What the agent remembers, `a3s search` finds offline: the local index follows memory.
    if (config.memory.enabled) {
      options.memoryIndex = service.memory;
      options.onMemoryIndexError = (error, id) =>
        console.error(`warning: memory ${id} was not indexed for search: ${error}`);
    }
  }
  return {
    options,
    async close() {
      for (const c of closers) await c();
    },
  };
}
