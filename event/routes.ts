/**
 * HTTP API under `/event/v1`: publish, follow subjects over SSE (resuming from
 * `Last-Event-ID`), list subjects and durable consumers.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  type A3sModule,
  createRouter,
  defineModule,
  NotFoundError,
  ValidationError,
} from "@a3s/common";
import type { EventBus } from "./bus.ts";
import { type EventConfig, EventConfigSchema } from "./config.ts";
import { CloudEventSchema } from "./envelope.ts";
import { openEventBus } from "./setup.ts";
import { streamSubjects } from "./sse.ts";
import { assertPattern } from "./subject.ts";

const PublishRequest = z.object({
  subject: z.string().min(1).max(256).openapi({ example: "box.b1.started" }),
  data: z.unknown().optional(),
  key: z.string().min(1).max(256).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  id: z.string().min(1).max(200).optional(),
  type: z.string().min(1).max(200).optional(),
}).openapi("EventPublishRequest");

const Published = z.object({
  id: z.string(),
  seq: z.string(),
  subject: z.string(),
  duplicate: z.boolean(),
}).openapi("EventPublished");

const SubjectList = z.object({
  subjects: z.array(z.object({ subject: z.string(), events: z.number().int() })),
}).openapi("EventSubjects");

const ConsumerList = z.object({
  consumers: z.array(z.object({
    name: z.string(),
    pattern: z.string(),
    pending: z.number().int().openapi({ description: "events not yet delivered (lag)" }),
    unacked: z.number().int().openapi({ description: "delivered, not yet acknowledged" }),
  })),
}).openapi("EventConsumers");

const StreamQuery = z.object({
  subjects: z.string().min(1).openapi({
    description: "comma-separated subject patterns, such as `lane.>,box.*.started`",
  }),
  after: z.string().min(1).optional().openapi({
    description: "resume after this seq (the `Last-Event-ID` header does the same)",
  }),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const publishRoute = createRoute({
  method: "post",
  path: "/event/v1/publish",
  summary: "Publish one event (validated against its event type, sealed when a key covers it)",
  request: {
    body: { content: { "application/json": { schema: PublishRequest } }, required: true },
  },
  responses: { 201: json(Published, "Stored durably (or a duplicate of the same id)") },
});
const subjectsRoute = createRoute({
  method: "get",
  path: "/event/v1/subjects",
  summary: "Subjects in the log and their event counts",
  responses: { 200: json(SubjectList, "Subjects") },
});
const consumersRoute = createRoute({
  method: "get",
  path: "/event/v1/consumers",
  summary: "Durable consumers with their lag and unacknowledged deliveries",
  responses: { 200: json(ConsumerList, "Consumers") },
});
const deleteConsumerRoute = createRoute({
  method: "delete",
  path: "/event/v1/consumers/{name}",
  summary: "Delete a durable consumer: its position and unacknowledged deliveries",
  request: { params: z.object({ name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }) },
  responses: { 200: json(z.object({ deleted: z.literal(true) }), "Deleted") },
});
const streamRoute = createRoute({
  method: "get",
  path: "/event/v1/stream",
  summary: "Follow subjects as Server-Sent Events; each `id:` is a seq to resume from",
  request: { query: StreamQuery },
  responses: {
    200: {
      description: "`event: ready`, then one `id: <seq>` and CloudEvent JSON `data` per event",
      content: { "text/event-stream": { schema: CloudEventSchema } },
    },
  },
});

function patternsOf(text: string): string[] {
  const patterns = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (!patterns.length) {
    throw new ValidationError("subjects: name at least one pattern", "subjects");
  }
  if (patterns.length > 32) throw new ValidationError("subjects: at most 32 patterns", "subjects");
  for (const pattern of patterns) assertPattern(pattern, "subjects");
  return patterns;
}

/**
 * Builds the event sub-app around `bus`.
 *
 * @example
 * ```ts
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * import { createEventRoutes } from "@a3s/event/routes";
 * const app = createEventRoutes(new EventBus({ provider: new MemoryProvider() }));
 * ```
 */
export function createEventRoutes(bus: EventBus, shutdown?: AbortSignal): OpenAPIHono {
  const app = createRouter();
  app.openapi(publishRoute, async (c) => {
    const body = c.req.valid("json");
    const published = await bus.publish(body.subject, body.data, {
      key: body.key,
      headers: body.headers,
      id: body.id,
      type: body.type,
    });
    return c.json(published, 201);
  });
  app.openapi(subjectsRoute, async (c) => c.json({ subjects: await bus.subjects() }, 200));
  app.openapi(consumersRoute, async (c) => c.json({ consumers: await bus.consumers() }, 200));
  app.openapi(deleteConsumerRoute, async (c) => {
    const { name } = c.req.valid("param");
    if (!(await bus.consumers()).some((consumer) => consumer.name === name)) {
      throw new NotFoundError(`consumer '${name}' not found`, "name");
    }
    await bus.provider.deleteConsumer(name);
    return c.json({ deleted: true as const }, 200);
  });
  app.openapi(streamRoute, (c) => {
    const query = c.req.valid("query");
    return streamSubjects(c, bus, {
      patterns: patternsOf(query.subjects),
      after: c.req.header("last-event-id") ?? query.after,
      shutdown,
    });
  });
  return app;
}

/** The event module as `serve` starts it; its API is the bus other modules publish on. */
export type EventModule = A3sModule<EventConfig, EventBus>;

/**
 * The event module: the bus on the configured provider (the shared store by default).
 *
 * @example
 * ```ts
 * import { eventModule } from "@a3s/event/routes";
 * console.log(eventModule().name); // "event"
 * ```
 */
export function eventModule(): EventModule {
  return defineModule({
    name: "event",
    configSchema: EventConfigSchema,
    access: [
      { path: "/event/v1/*", methods: ["GET", "HEAD"], scope: "event:read" },
      { path: "/event/v1/*", scope: "event:write" },
    ],
    async start(ctx) {
      const bus = await openEventBus(ctx.config, {
        store: ctx.store,
        databaseUrl: ctx.server.databaseUrl,
        logger: ctx.logger,
      });
      return {
        routes: createEventRoutes(bus, ctx.shutdown),
        api: bus,
        close: () => bus.close(),
      };
    },
  });
}
