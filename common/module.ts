/**
 * The module contract: what a module declares (name, config schema, dependencies, access
 * rules) and the life cycle `serve` drives (start in dependency order, readiness, close in
 * reverse order). See `common/README.md` for a worked example.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";
import type { AccessPolicy } from "./policy.ts";
import type { Store } from "./store.ts";

/** The top-level server configuration every module may read (host, port, home, ...). */
export type ServerConfig = Config;

/** What `serve` hands a module when it starts it. */
export interface ModuleContext<Config = unknown> {
  /** This module's config section, validated by its `configSchema` with defaults applied. */
  config: Config;
  /** The top-level configuration: host, port, home (the data dir), databaseUrl, ... */
  server: ServerConfig;
  /** The shared store; a module never opens its own database. */
  store: Store;
  /** The one Prometheus registry every metric registers in. */
  metrics: Registry;
  /** A child logger tagged with the module's name. */
  logger: Logger;
  /**
   * Aborted when serve begins shutting down, before it waits for in-flight requests, so
   * long-lived responses (event streams, generations) end and draining can finish.
   */
  shutdown: AbortSignal;
  /** The public APIs of the modules named in `dependsOn`, keyed by module name. */
  modules: Record<string, unknown>;
  /**
   * The one policy for host paths and URLs that a request names (pulls, mounts, fetches),
   * built once from the top-level `policy` config, so every module refuses the same things.
   */
  policy: AccessPolicy;
}

/** What a module's `start` returns: its routes, its public API and its life-cycle hooks. */
export interface StartedModule<Api = unknown> {
  /**
   * Mounted at `/`, so routes carry their own prefix (`/box/v1/...`). Every route is tagged
   * with the module's name in the OpenAPI document.
   */
  routes?: OpenAPIHono;
  /** The API other modules that depend on this one receive in `ctx.modules[name]`. */
  api?: Api;
  /** False while the module cannot serve yet (a model still loading, say). */
  ready?(): boolean | Promise<boolean>;
  /**
   * Finishes background work accepted before shutdown began (chat messages already answered
   * 200 and queued, say), while every module it may need is still running. Called after
   * in-flight requests finish and before any module closes, within the shutdown timeout.
   */
  drain?(): Promise<void>;
  /** Releases the module's resources; called after in-flight requests finish. */
  close?(): Promise<void>;
}

/** One access rule; serve enforces the first rule whose path and method match a request. */
export interface AccessRule {
  /** A Hono-style path pattern, such as `/box/v1/*` or `/api/pull`. */
  path: string;
  /** The methods the rule covers; every method when unset. */
  methods?: readonly string[];
  /** `<module>:read`, `<module>:write`, `<module>:exec` or `admin`. */
  scope: string;
  /** Loopback clients may call without a key: only for read and model APIs. */
  anonymousOnLoopback?: boolean;
}

/** A module as serve sees it. Build one with {@linkcode defineModule}. */
export interface A3sModule<Config = unknown, Api = unknown> {
  /** The config section key and the OpenAPI tag of every route. */
  name: string;
  /** Validates the module's config section; every field defaulted, so `{}` is valid. */
  configSchema?: z.ZodType<Config>;
  /** Modules that must start first; their APIs arrive in `ctx.modules`. */
  dependsOn?: readonly string[];
  /**
   * Who may call which route; the first match wins, and a route matching no rule requires
   * the `admin` scope (secure by default).
   */
  access?: readonly AccessRule[];
  /** Opens what the module needs and returns its routes, API and hooks. */
  start(ctx: ModuleContext<Config>): Promise<StartedModule<Api>> | StartedModule<Api>;
}

/**
 * Declares a module; it only fixes the type parameters, so `config` in `start` is typed by the
 * schema.
 *
 * @example
 * ```ts
 * import { createRouter, defineModule } from "@a3s/common";
 * import { z } from "zod";
 * const hello = defineModule({
 *   name: "hello",
 *   configSchema: z.object({ greeting: z.string().default("hi") }),
 *   start(ctx) {
 *     const routes = createRouter();
 *     routes.get("/hello/v1/greeting", (c) => c.json({ greeting: ctx.config.greeting }));
 *     return { routes, api: { greeting: () => ctx.config.greeting } };
 *   },
 * });
 * console.log(hello.name); // "hello"
 * ```
 */
export function defineModule<C, A>(module: A3sModule<C, A>): A3sModule<C, A> {
  return module;
}
