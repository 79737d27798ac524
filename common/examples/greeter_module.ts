/**
 * The smallest complete a3s module: a validated config section, one documented route, a
 * public API for the modules that depend on it, a readiness check and a close hook.
 * `common/README.md` walks through it; copy it to start a new module.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type A3sModule, createRouter, defineModule } from "@a3s/common";

/** The `greeter` config section; every key defaulted, so `{}` is valid. */
export const GreeterConfigSchema = z.object({
  greeting: z.string().min(1).default("hello"),
});

/** The validated `greeter` section. */
export type GreeterConfig = z.infer<typeof GreeterConfigSchema>;

/** What modules that list `greeter` in `dependsOn` receive as `ctx.modules.greeter`. */
export interface GreeterApi {
  greet(name: string): string;
}

const greetRoute = createRoute({
  method: "get",
  path: "/greeter/v1/greet/{name}",
  summary: "Greet someone",
  request: { params: z.object({ name: z.string().min(1).max(100) }) },
  responses: {
    200: {
      description: "The greeting",
      content: { "application/json": { schema: z.object({ message: z.string() }) } },
    },
  },
});

/** The greeter module, as `serve` starts it. */
export function greeterModule(): A3sModule<GreeterConfig, GreeterApi> {
  return defineModule({
    name: "greeter",
    configSchema: GreeterConfigSchema,
    access: [{ path: "/greeter/v1/*", methods: ["GET"], scope: "greeter:read" }],
    start(ctx) {
      const api: GreeterApi = { greet: (name) => `${ctx.config.greeting}, ${name}` };
      const routes = createRouter();
      routes.openapi(greetRoute, (c) => {
        return c.json({ message: api.greet(c.req.valid("param").name) }, 200);
      });
      ctx.logger.info("greeter started", { greeting: ctx.config.greeting });
      return {
        routes,
        api,
        ready: () => !ctx.shutdown.aborted,
        close: () => Promise.resolve(),
      };
    },
  });
}
