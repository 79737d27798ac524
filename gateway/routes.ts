/**
 * The gateway as an a3s module: under `serve` it runs its own listener from the `gateway`
 * config section, and, only when `admin` is enabled, the admin API under `/gateway/v1`, which
 * always needs a token with the `admin` scope.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type A3sModule, createRouter, defineModule, validationErrorFrom } from "@a3s/common";
import { GatewayConfigError, parseGatewayConfig } from "./config_file.ts";
import { GatewayConfigSchema } from "./config.ts";
import type { Gateway } from "./gateway.ts";
import { type RunningGateway, startGateway } from "./server.ts";

/** The validated `gateway` section. */
export interface GatewaySection {
  /** The routers/services/middlewares file. */
  configFile?: string;
  /** Listen address. */
  host: string;
  /** Listen port. */
  port: number;
  /** Serves the admin API. */
  admin: boolean;
}

/** The `gateway` section of the a3s config. */
export const GatewaySectionSchema: z.ZodType<GatewaySection> = z.object({
  /** The routers/services/middlewares file; the gateway listens only when one is set or admin is on. */
  configFile: z.string().optional(),
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Serves the admin API (status, config read and replace); off unless enabled. */
  admin: z.boolean().default(false),
});

/** What other modules may call. */
export interface GatewayApi {
  /** The running gateway, when it listens. */
  gateway?: Gateway;
  /** Its address. */
  address?: { hostname: string; port: number };
}

const EMPTY = { routers: {}, services: {}, middlewares: {}, trustedProxies: [] };

const StatusSchema = z.object({
  loadedAt: z.string(),
  lastReloadError: z.string().nullable(),
  address: z.object({ hostname: z.string(), port: z.number().int() }),
  routers: z.array(z.object({
    name: z.string(),
    priority: z.number().int(),
    service: z.string(),
    rule: z.record(z.string(), z.unknown()),
  })),
  backends: z.array(z.object({
    service: z.string(),
    url: z.string(),
    healthy: z.boolean(),
    breaker: z.string(),
    active: z.number().int(),
  })),
}).openapi("GatewayStatus");

const UsageSchema = z.object({
  usage: z.array(z.object({
    key: z.string(),
    model: z.string(),
    prompt: z.number().int(),
    completion: z.number().int(),
    requests: z.number().int(),
  })),
}).openapi("GatewayUsage");

const ConfigBody = z.object({
  routers: z.record(z.string(), z.unknown()).optional(),
  services: z.record(z.string(), z.unknown()).optional(),
  middlewares: z.record(z.string(), z.unknown()).optional(),
  trustedProxies: z.array(z.string()).optional(),
}).openapi("GatewayConfig", {
  description: "routers, services, middlewares and trustedProxies, as in the config file",
});

/**
 * The gateway module for `serve`.
 *
 * @example
 * ```ts
 * import { gatewayModule } from "@a3s/gateway/routes";
 * console.log(gatewayModule().name); // "gateway"
 * ```
 */
export function gatewayModule(): A3sModule<GatewaySection, GatewayApi> {
  return defineModule<GatewaySection, GatewayApi>({
    name: "gateway",
    configSchema: GatewaySectionSchema,
    access: [{ path: "/gateway/v1/*", scope: "admin" }],
    async start(ctx) {
      const section = ctx.config;
      if (!section.configFile && !section.admin) return { api: {} };
      const running: RunningGateway = await startGateway({
        configFile: section.configFile,
        config: section.configFile ? undefined : GatewayConfigSchema.parse(EMPTY),
        hostname: section.host,
        port: section.port,
        logger: ctx.logger,
        metrics: ctx.metrics,
        store: ctx.store,
      });
      const api: GatewayApi = {
        gateway: running.gateway,
        address: { hostname: running.hostname, port: running.port },
      };
      const close = () => running.close();
      if (!section.admin) return { api, close };
      return { routes: adminRoutes(running), api, close };
    },
  });
}

function adminRoutes(running: RunningGateway) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/gateway/v1/status",
      summary: "Routers in match order, backends with health and breaker state, reload errors",
      responses: {
        200: { description: "status", content: { "application/json": { schema: StatusSchema } } },
      },
    }),
    (c) =>
      c.json({
        loadedAt: running.gateway.loadedAt.toISOString(),
        lastReloadError: running.lastReloadError() ?? null,
        address: { hostname: running.hostname, port: running.port },
        routers: running.gateway.routers(),
        backends: running.gateway.backends(),
      }, 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/gateway/v1/config",
      summary: "The config being served",
      responses: {
        200: { description: "config", content: { "application/json": { schema: ConfigBody } } },
      },
    }),
    (c) => c.json(running.gateway.config, 200),
  );
  app.openapi(
    createRoute({
      method: "put",
      path: "/gateway/v1/config",
      summary: "Validates and applies a whole new config; requests in flight finish on the old one",
      request: {
        body: { content: { "application/json": { schema: ConfigBody } }, required: true },
      },
      responses: {
        200: { description: "applied", content: { "application/json": { schema: ConfigBody } } },
      },
    }),
    (c) => {
      const body = c.req.valid("json");
      let config;
      try {
        config = parseGatewayConfig(JSON.stringify(body), "request body");
      } catch (error) {
        if (error instanceof GatewayConfigError) {
          throw validationErrorFrom([{ path: error.key.split("."), message: error.problem }]);
        }
        throw error;
      }
      running.gateway.apply(config);
      return c.json(config, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/gateway/v1/usage",
      summary: "LLM tokens per caller and model on metered routers",
      responses: {
        200: { description: "usage", content: { "application/json": { schema: UsageSchema } } },
      },
    }),
    (c) => c.json({ usage: running.gateway.usage() }, 200),
  );
  return app;
}
