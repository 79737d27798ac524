/**
 * HTTP API under `/box/v1`: create, list, inspect, exec (JSON or a streamed SSE response),
 * logs, stop, kill and delete boxes; list and pull images; probe drivers. Every route needs
 * the `box:exec` scope: a box runs commands, so none is anonymous.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { CappedText, COMMAND_OUTPUT_KEPT, readCappedText } from "@a3s/common/capped-text";
import {
  type A3sModule,
  AccessPolicy,
  type AccessPolicyConfig,
  AccessPolicyConfigSchema,
  type AccessRule,
  createRouter,
  defineModule,
} from "@a3s/common";
import type { BoxManager } from "./manager.ts";
import { openBoxRuntime } from "./runtime.ts";
import { DEFAULT_LOG_BOUND, LOG_SIZE, logSizeBytes, MAX_LOG_FILES } from "./log_bound.ts";
import type { EventBus } from "@a3s/event";
import { publishBoxEvents } from "./bus_events.ts";
import { RegistryClient } from "./image/registry.ts";
import { registerTeeRoutes } from "./kvm/tee/routes.ts";
import { type BoxDriver, USER_SPEC } from "./types.ts";

/** The validated `box` section. */
export interface BoxConfig {
  /** Host paths volumes may mount and URLs pulls may fetch. */
  policy: AccessPolicyConfig;
  /** Registries (`host:port`) reached over plain HTTP besides localhost. */
  insecureRegistries: string[];
}

/** The `box` section as written in a config file; every key optional. */
export interface BoxConfigInput {
  /** Host paths volumes may mount and URLs pulls may fetch; no roots, so no volumes, by default. */
  policy?: z.input<typeof AccessPolicyConfigSchema>;
  /** Registries (`host:port`) reached over plain HTTP besides localhost; none by default. */
  insecureRegistries?: string[];
}

/** The `box` config section. */
export const BoxConfigSchema: z.ZodType<BoxConfig, BoxConfigInput> = z.object({
  /** Host paths volumes may mount and URLs pulls may fetch; no roots, so no volumes, by default. */
  policy: AccessPolicyConfigSchema.default(AccessPolicyConfigSchema.parse({})),
  /** Registries (`host:port`) reached over plain HTTP besides localhost. */
  insecureRegistries: z.array(z.string().min(1)).default([]),
});

/** Of the log bytes a JSON answer keeps, the share from the start: logs are read for their end. */
const LOG_HEAD_SHARE = 0.2;

/** Who may call box's routes: everything runs or reveals commands, so `box:exec`. */
export const BOX_ACCESS: readonly AccessRule[] = [{ path: "/box/v1/*", scope: "box:exec" }];

const Limits = z.object({
  memoryBytes: z.number().int().min(6 * 1024 * 1024).optional(),
  cpus: z.number().positive().max(1024).optional(),
  pids: z.number().int().positive().max(1_000_000).optional(),
});

const Env = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string());

const CreateRequest = z.object({
  image: z.string().min(1).max(300),
  command: z.array(z.string()).max(1000).optional(),
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/).optional(),
  env: Env.optional(),
  workdir: z.string().startsWith("/").optional(),
  user: z.string().regex(USER_SPEC).optional(),
  hostname: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/).optional(),
  volumes: z.array(z.object({
    host: z.string().min(1),
    guest: z.string().startsWith("/"),
    readOnly: z.boolean().default(false),
  })).max(64).optional(),
  limits: Limits.optional(),
  network: z.enum(["none", "host"]).optional(),
  timeoutSeconds: z.number().int().positive().max(86_400 * 30).optional(),
  // Docker's `--log-opt max-size=10m --log-opt max-file=3`; 20m and 5 when unset.
  logOptions: z.object({
    maxSize: z.string().regex(LOG_SIZE).refine((size) => logSizeBytes(size) !== undefined, {
      message: "a size of at least 1k, such as 10m or 1g",
    }).optional(),
    maxFile: z.number().int().min(1).max(MAX_LOG_FILES).optional(),
  }).strict().optional(),
  driver: z.string().min(1).optional(),
  autoRemove: z.boolean().optional(),
  start: z.boolean().default(true),
}).openapi("BoxCreateRequest");

const BoxSchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  imageId: z.string(),
  driver: z.string(),
  state: z.enum(["created", "running", "exited"]),
  command: z.array(z.string()),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  exitCode: z.number().nullable(),
  reason: z.string().nullable(),
  limits: Limits,
  network: z.enum(["none", "host"]),
  volumes: z.array(z.object({ host: z.string(), guest: z.string(), readOnly: z.boolean() })),
  env: z.record(z.string(), z.string()),
  workdir: z.string().nullable(),
  autoRemove: z.boolean(),
}).openapi("Box");

const ExecRequest = z.object({
  command: z.array(z.string()).min(1).max(1000),
  env: Env.optional(),
  workdir: z.string().startsWith("/").optional(),
  user: z.string().regex(USER_SPEC).optional(),
  stdin: z.string().max(8 * 1024 * 1024).optional(),
  stream: z.boolean().default(false),
}).openapi("BoxExecRequest");

const ExecResult = z.object({
  exitCode: z.number(),
  signal: z.number(),
  stdout: z.string(),
  stderr: z.string(),
}).openapi("BoxExecResult");

const IdParam = z.object({ id: z.string().min(1).max(128) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

/**
 * Builds the box sub-app around a manager.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { createBoxRoutes, openBoxRuntime } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const app = createBoxRoutes(await openBoxRuntime({ store, home: "/tmp/a3s" }));
 * ```
 */
export function createBoxRoutes(
  boxes: BoxManager,
  options: { policy?: AccessPolicy; insecureRegistries?: string[]; shutdown?: AbortSignal } = {},
): OpenAPIHono {
  const app = createRouter();
  // Without a configured policy nothing may be mounted and only public URLs fetched.
  const policy = options.policy ?? new AccessPolicy();

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/info",
      summary: "Probe the drivers: which work here, their isolation, the default",
      responses: {
        200: json(
          z.object({
            defaultDriver: z.string().nullable(),
            drivers: z.array(z.object({
              name: z.string(),
              available: z.boolean(),
              isolation: z.string(),
              strength: z.number(),
              detail: z.string(),
              features: z.record(z.string(), z.union([z.boolean(), z.string()])),
            })),
          }).openapi("BoxInfo"),
          "Drivers",
        ),
      },
    }),
    async (c) => {
      const drivers = await boxes.info();
      return c.json(
        { defaultDriver: drivers.find((d) => d.available)?.name ?? null, drivers },
        200,
      );
    },
  );

  registerTeeRoutes(app, boxes);

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/boxes",
      summary: "List boxes (running, or all)",
      request: { query: z.object({ all: z.enum(["true", "false"]).optional() }) },
      responses: { 200: json(z.object({ boxes: z.array(BoxSchema) }).openapi("BoxList"), "Boxes") },
    }),
    async (c) =>
      c.json({ boxes: await boxes.list({ all: c.req.valid("query").all === "true" }) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/box/v1/boxes",
      summary: "Create a box, and start it unless start is false",
      request: body(CreateRequest),
      responses: { 201: json(BoxSchema, "The box") },
    }),
    async (c) => {
      const request = c.req.valid("json");
      const volumes = [];
      for (const [i, volume] of (request.volumes ?? []).entries()) {
        // A request may only mount what the policy's roots allow; with no policy, nothing.
        const host = await policy.resolvePath(volume.host, `volumes.${i}.host`);
        volumes.push({ ...volume, host });
      }
      const { logOptions, ...rest } = request;
      const logBound = {
        maxSize: logOptions?.maxSize
          ? logSizeBytes(logOptions.maxSize)!
          : DEFAULT_LOG_BOUND.maxSize,
        maxFiles: logOptions?.maxFile ?? DEFAULT_LOG_BOUND.maxFiles,
      };
      const created = await boxes.create({ ...rest, volumes, logBound });
      const info = request.start ? (await boxes.start(created.id)).info : created;
      return c.json(info, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/boxes/{id}",
      summary: "Inspect a box",
      request: { params: IdParam },
      responses: { 200: json(BoxSchema, "The box") },
    }),
    async (c) => c.json(await boxes.inspect(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/box/v1/boxes/{id}",
      summary: "Remove a box (a running one only with force=true)",
      request: {
        params: IdParam,
        query: z.object({ force: z.enum(["true", "false"]).optional() }),
      },
      responses: { 200: json(z.object({ id: z.string() }), "Removed") },
    }),
    async (c) => {
      const id = await boxes.remove(c.req.valid("param").id, c.req.valid("query").force === "true");
      return c.json({ id }, 200);
    },
  );

  for (const action of ["start", "stop", "kill"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/box/v1/boxes/{id}/${action}`,
        summary: `${action[0].toUpperCase()}${action.slice(1)} a box`,
        request: { params: IdParam },
        responses: { 200: json(BoxSchema, "The box") },
      }),
      async (c) => {
        const id = c.req.valid("param").id;
        const info = action === "start"
          ? (await boxes.start(id)).info
          : action === "stop"
          ? await boxes.stop(id, 10)
          : await boxes.kill(id, 9);
        return c.json(info, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "post",
      path: "/box/v1/boxes/{id}/exec",
      summary: "Run a command in a running box; stream=true answers with SSE events",
      description:
        "With stream=false the answer is the collected result. With stream=true it is an " +
        "event stream: `stdout` and `stderr` events carry output chunks (UTF-8 text), then one " +
        "`exit` event carries {exitCode, signal}.",
      request: { params: IdParam, ...body(ExecRequest) },
      responses: {
        200: {
          content: {
            "application/json": { schema: ExecResult },
            "text/event-stream": { schema: z.string() },
          },
          description: "The result, or its event stream",
        },
      },
    }),
    async (c) => {
      const request = c.req.valid("json");
      const process = await boxes.exec(c.req.valid("param").id, request);
      const writer = process.stdin.getWriter();
      if (request.stdin) await writer.write(new TextEncoder().encode(request.stdin));
      await writer.close();
      if (!request.stream) {
        // Bounded, whatever the command prints; `stream: true` passes all of it on.
        const [stdout, stderr, status] = await Promise.all([
          readCappedText(process.stdout),
          readCappedText(process.stderr),
          process.status,
        ]);
        return c.json({ ...status, stdout, stderr }, 200);
      }
      return streamSSE(c, async (stream) => {
        const abort = () => void process.kill(9).catch(() => {});
        stream.onAbort(abort);
        options.shutdown?.addEventListener("abort", abort, { once: true });
        const forward = async (name: "stdout" | "stderr", source: ReadableStream<Uint8Array>) => {
          const decoder = new TextDecoder();
          for await (const chunk of source) {
            await stream.writeSSE({ event: name, data: decoder.decode(chunk, { stream: true }) });
          }
        };
        await Promise.all([forward("stdout", process.stdout), forward("stderr", process.stderr)]);
        const status = await process.status;
        await stream.writeSSE({ event: "exit", data: JSON.stringify(status) });
        options.shutdown?.removeEventListener("abort", abort);
      }) as unknown as Response;
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/boxes/{id}/logs",
      summary: "The main command's output; follow=true streams it as SSE until the box exits",
      request: {
        params: IdParam,
        query: z.object({ follow: z.enum(["true", "false"]).optional() }),
      },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({ stdout: z.string(), stderr: z.string() }).openapi("BoxLogs"),
            },
            "text/event-stream": { schema: z.string() },
          },
          description: "Output",
        },
      },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      await boxes.inspect(id);
      if (c.req.valid("query").follow !== "true") {
        // A chatty box's logs can be larger than memory: the JSON answer holds each stream's
        // first 0.8 MiB and its last 3.2 MiB, the bytes between counted; follow=true has all.
        const out = {
          stdout: new CappedText(COMMAND_OUTPUT_KEPT, LOG_HEAD_SHARE),
          stderr: new CappedText(COMMAND_OUTPUT_KEPT, LOG_HEAD_SHARE),
        };
        for await (const chunk of boxes.logs(id)) out[chunk.stream].push(chunk.data);
        return c.json({ stdout: out.stdout.text(), stderr: out.stderr.text() }, 200);
      }
      return streamSSE(c, async (stream) => {
        const stop = new AbortController();
        stream.onAbort(() => stop.abort());
        options.shutdown?.addEventListener("abort", () => stop.abort(), { once: true });
        const decoder = new TextDecoder();
        for await (const chunk of boxes.logs(id, { follow: true, signal: stop.signal })) {
          await stream.writeSSE({ event: chunk.stream, data: decoder.decode(chunk.data) });
        }
        await stream.writeSSE({ event: "end", data: "{}" });
      }) as unknown as Response;
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/boxes/{id}/stats",
      summary: "Resource use of a box",
      request: { params: IdParam },
      responses: {
        200: json(
          z.object({
            id: z.string(),
            name: z.string(),
            memoryBytes: z.number().optional(),
            memoryLimitBytes: z.number().optional(),
            pids: z.number().optional(),
            pidsLimit: z.number().optional(),
            cpuSeconds: z.number().optional(),
          }).openapi("BoxStats"),
          "Stats",
        ),
      },
    }),
    async (c) => c.json(await boxes.stats(c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/images",
      summary: "List images",
      responses: {
        200: json(
          z.object({
            images: z.array(z.object({
              id: z.string(),
              repoTags: z.array(z.string()),
              size: z.number(),
              created: z.number(),
              layers: z.number(),
            })),
          }).openapi("BoxImageList"),
          "Images",
        ),
      },
    }),
    async (c) => {
      const images = (await boxes.images.list()).map(({ config: _config, ...rest }) => rest);
      return c.json({ images }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/box/v1/images/pull",
      summary: "Pull an image from a registry",
      request: body(z.object({ image: z.string().min(1).max(300) }).openapi("BoxPullRequest")),
      responses: { 200: json(z.object({ id: z.string() }), "The image id") },
    }),
    async (c) => {
      const registry = new RegistryClient(boxes.images, {
        insecure: options.insecureRegistries,
        fetch: (url, init) => policy.fetch(url, { ...init, field: "image" }),
      });
      return c.json({ id: await registry.pull(c.req.valid("json").image) }, 200);
    },
  );

  return app;
}

/**
 * The box module for `serve`. Unless `events: false`, it depends on the `event` module and
 * publishes each box's lifecycle on its bus as `box.<id>.created|started|exited|removed`.
 *
 * @example
 * ```ts
 * import { boxModule } from "@a3s/box";
 * console.log(boxModule().name); // "box"
 * ```
 */
export function boxModule(
  options: { drivers?: readonly BoxDriver[]; events?: boolean } = {},
): A3sModule<BoxConfig, BoxManager> {
  return defineModule<BoxConfig, BoxManager>({
    name: "box",
    configSchema: BoxConfigSchema,
    access: BOX_ACCESS,
    dependsOn: options.events === false ? [] : ["event"],
    async start(ctx) {
      const bus = ctx.modules.event as EventBus | undefined;
      const events = bus ? publishBoxEvents(bus, ctx.logger) : undefined;
      const boxes = await openBoxRuntime({
        lifecycle: events?.sink,
        store: ctx.store,
        home: ctx.server.home,
        drivers: options.drivers,
        // serve is long-lived: the next box's launcher waits ready.
        prestart: true,
        audit: (event) =>
          ctx.logger.info(`box ${event.action}`, { box: event.boxId, ...event.detail }),
      });
      const policy = new AccessPolicy(ctx.config.policy, {
        audit: (event, fields) => ctx.logger.warn(event, fields),
      });
      const stopSupervising = boxes.supervise(
        1000,
        (error) => ctx.logger.warn("box supervision failed", { error: String(error) }),
      );
      return {
        routes: createBoxRoutes(boxes, {
          policy,
          insecureRegistries: ctx.config.insecureRegistries,
          shutdown: ctx.shutdown,
        }),
        api: boxes,
        close: async () => {
          stopSupervising();
          boxes.close();
          await events?.flush();
        },
      };
    },
  });
}
