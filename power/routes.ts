/** power's HTTP surface: Ollama's API under `/api` and OpenAI's under `/v1`. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { type A3sModule, type AccessRule, createRouter, defineModule } from "@a3s/common";
import { ollamaRoutes } from "./api/ollama.ts";
import { openaiRoutes } from "./api/openai.ts";
import { type PowerSection, PowerSectionSchema } from "./config.ts";
import { Power, type PowerOptions } from "./service.ts";

/**
 * Builds the router for `power`: both API families on one sub-app.
 *
 * @example
 * ```ts
 * const app = powerRouter(new Power({ home: "/tmp/a3s" }));
 * ```
 */
export function powerRouter(power: Power): OpenAPIHono {
  const app = createRouter();
  // Ollama's own examples post JSON with `curl -d`, which labels it as a form; accept that.
  for (const prefix of ["/api/*", "/v1/*"]) {
    app.use(prefix, async (c, next) => {
      const type = c.req.header("content-type") ?? "";
      if (c.req.method !== "GET" && c.req.method !== "HEAD" && !type.includes("json")) {
        const headers = new Headers(c.req.raw.headers);
        headers.set("content-type", "application/json");
        c.req.raw = new Request(c.req.raw, { headers });
      }
      await next();
    });
  }
  app.route("/", ollamaRoutes(power));
  app.route("/", openaiRoutes(power));
  return app;
}

/**
 * The module `serve` mounts. Options override the config file's `power` section; the
 * shipped default model is served unless `noDefaultModel` is set.
 *
 * @example
 * ```ts
 * import { powerModule } from "@a3s/power/routes";
 * const mod = powerModule();
 * ```
 */
export function powerModule(
  options: Partial<PowerOptions> = {},
): A3sModule<PowerSection, Power> {
  return defineModule<PowerSection, Power>({
    name: "power",
    configSchema: PowerSectionSchema,
    access: POWER_ACCESS,
    async start(ctx) {
      const settings = { ...ctx.config, ...options };
      const power = new Power({
        ...settings,
        home: options.home ?? ctx.server.home,
        policy: options.policy ?? ctx.policy,
      });
      let warming: Promise<unknown> = Promise.resolve();
      let warm = true;
      // Load the default model in the background, so the first request does not wait for it.
      const first = await power.store.get(power.defaultModel).catch(() => undefined);
      if (first && !settings.noPreload) {
        warm = false;
        warming = power.registry.load(first.name).catch((error) => {
          ctx.logger.warn("default model failed to load", { error: String(error) });
        }).finally(() => (warm = true));
      }
      return {
        routes: powerRouter(power),
        api: power,
        ready: () => warm,
        async close() {
          await warming;
          await power.close();
        },
      };
    },
  });
}

/** Model management writes; the model APIs clients call without a key on loopback read. */
const POWER_ACCESS: readonly AccessRule[] = [
  ...["/api/pull", "/api/create", "/api/copy", "/api/delete", "/api/push", "/api/blobs/*"].map(
    (path) => ({ path, scope: "power:write" }),
  ),
  { path: "/api/*", scope: "power:read", anonymousOnLoopback: true },
  { path: "/v1/*", scope: "power:read", anonymousOnLoopback: true },
];
