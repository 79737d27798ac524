/**
 * The module life cycle serve drives: start in dependency order, report readiness per
 * module, close in reverse order.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type Config, moduleSection } from "./config.ts";
import type { Logger } from "./logger.ts";
import type { A3sModule, StartedModule } from "./module.ts";
import { orderModules } from "./module_order.ts";
import { accessPolicyFromConfig } from "./policy.ts";
import type { Store } from "./store.ts";
import { metricsRegistry } from "./telemetry.ts";

/** What serve shares with every module it starts. */
export interface ModuleHost {
  config: Config;
  store: Store;
  logger: Logger;
  shutdown: AbortSignal;
}

/** A module's readiness: `ready`, `not_ready` (its check said no) or `failed` (it threw). */
export type ModuleState = "ready" | "not_ready" | "failed";

/** One started module. */
export interface RunningModule {
  module: A3sModule;
  started: StartedModule;
}

/** The started modules, in start order, and the hooks over all of them. */
export interface ModuleSet {
  running: readonly RunningModule[];
  /** Each module's state, in start order. */
  readiness(): Promise<Record<string, ModuleState>>;
  /** Lets every module finish its accepted background work, all at once (see `drain`). */
  drain(): Promise<void>;
  /** Closes every module in reverse start order; one failing close does not stop the rest. */
  close(): Promise<void>;
}

/**
 * Starts `modules` in dependency order, each with its validated config section and the APIs
 * of the modules it depends on. When one fails to start, those already started are closed
 * (in reverse order) before the error is rethrown.
 */
export async function startModules(
  host: ModuleHost,
  modules: readonly A3sModule[],
): Promise<ModuleSet> {
  const running: RunningModule[] = [];
  const apis = new Map<string, unknown>();
  const policy = accessPolicyFromConfig(host.config, {
    audit: (event, fields) => host.logger.warn(event, fields),
  });
  const close = async () => {
    for (const { module, started } of [...running].reverse()) {
      try {
        await started.close?.();
      } catch (error) {
        host.logger.error("module failed to close", { module: module.name, error: String(error) });
      }
    }
    running.length = 0;
  };
  try {
    for (const module of orderModules(modules)) {
      const dependencies = Object.fromEntries(
        (module.dependsOn ?? []).map((name) => [name, apis.get(name)]),
      );
      const started = await module.start({
        config: moduleSection(host.config, module),
        server: host.config,
        store: host.store,
        metrics: metricsRegistry,
        logger: host.logger.child({ module: module.name }),
        shutdown: host.shutdown,
        modules: dependencies,
        policy,
      });
      if (started.routes) tagRoutes(started.routes, module.name);
      running.push({ module, started });
      apis.set(module.name, started.api);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    running,
    async readiness() {
      const states: Record<string, ModuleState> = {};
      for (const { module, started } of running) {
        try {
          states[module.name] = !started.ready || (await started.ready()) ? "ready" : "not_ready";
        } catch (error) {
          host.logger.warn("module readiness check failed", {
            module: module.name,
            error: String(error),
          });
          states[module.name] = "failed";
        }
      }
      return states;
    },
    async drain() {
      await Promise.all(running.map(async ({ module, started }) => {
        try {
          await started.drain?.();
        } catch (error) {
          host.logger.error("module failed to drain", {
            module: module.name,
            error: String(error),
          });
        }
      }));
    },
    close,
  };
}

/**
 * Adds the module's name to the OpenAPI tags of every route in its sub-app, so `/docs`
 * groups the module's routes under its name. Runs before the sub-app is mounted, since
 * mounting copies the route definitions.
 */
function tagRoutes(routes: OpenAPIHono, name: string): void {
  for (const definition of routes.openAPIRegistry.definitions) {
    if (definition.type !== "route" && definition.type !== "webhook") continue;
    const route = definition.type === "route" ? definition.route : definition.webhook;
    const tags = route.tags ?? [];
    if (!tags.includes(name)) route.tags = [name, ...tags];
  }
}
