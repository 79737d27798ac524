/**
 * HTTP API under `/lane/v1`: submit, get, cancel and list jobs, manage the dead-letter queue,
 * read counts, and follow scheduler events over SSE.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type A3sModule, createRouter, defineModule, NotFoundError } from "@a3s/common";
import { LANE_NAMES } from "./lanes.ts";
import { type Lane, SESSION_PATTERN, SESSION_RULE } from "./lane.ts";
import { DurableLane, type DurableLaneOptions } from "./durable_lane.ts";
import { type LaneSection, LaneSectionSchema, RetryPolicySchema } from "./config.ts";
import { JOB_STATES, type JobFunction } from "./types.ts";
import { LaneEventsQuerySchema, streamLaneEventsFor } from "./_event_stream.ts";
import type { EventBus } from "@a3s/event";
import { publishLaneEvents } from "./bus_events.ts";

export {
  LANE_BUS_STATES,
  LANE_EVENT_TYPES,
  type LaneBusState,
  type LaneJobEvent,
  LaneJobEventSchema,
  publishLaneEvents,
} from "./bus_events.ts";

const LaneEnum = z.enum(LANE_NAMES);
const StateEnum = z.enum(JOB_STATES);

const SubmitRequest = z.object({
  session: z.string().regex(SESSION_PATTERN, SESSION_RULE),
  lane: LaneEnum,
  kind: z.string().min(1).max(200),
  payload: z.unknown().optional(),
  priority: z.number().int().optional(),
  delayMs: z.number().min(0).optional(),
  timeoutMs: z.number().positive().optional(),
  idempotencyKey: z.string().min(1).max(500).optional(),
  dependsOn: z.array(z.string().min(1)).max(1000).optional(),
  key: z.string().min(1).max(200).optional(),
  retry: RetryPolicySchema.optional(),
}).openapi("LaneSubmitRequest");

const JobErrorSchema = z.object({
  attempt: z.number().int(),
  code: z.string(),
  message: z.string(),
  at: z.number(),
});

const JobSchema = z.object({
  id: z.string(),
  session: z.string(),
  lane: LaneEnum,
  kind: z.string(),
  payload: z.unknown(),
  state: StateEnum,
  priority: z.number().int(),
  key: z.string().nullable(),
  idempotencyKey: z.string().nullable(),
  dependsOn: z.array(z.string()),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  runAt: z.number(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  result: z.unknown(),
  progress: z.unknown(),
  errors: z.array(JobErrorSchema),
}).openapi("LaneJob");

const JobList = z.object({ jobs: z.array(JobSchema) }).openapi("LaneJobList");
const IdParam = z.object({ id: z.string().min(1).max(200) });
const ListQuery = z.object({
  session: z.string().optional(),
  lane: LaneEnum.optional(),
  state: StateEnum.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const DlqQuery = ListQuery.omit({ state: true });
const Counts = z.object(Object.fromEntries(JOB_STATES.map((s) => [s, z.number().int()])));
const StatsSchema = z.object({
  lanes: z.record(z.string(), Counts),
  highWater: z.object({
    global: z.number().int(),
    lanes: z.record(z.string(), z.number().int()),
    sessions: z.record(z.string(), z.number().int()),
    keys: z.record(z.string(), z.number().int()),
  }),
}).openapi("LaneStats");

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const submitRoute = createRoute({
  method: "post",
  path: "/lane/v1/jobs",
  summary: "Submit a job of a registered kind",
  request: { body: { content: { "application/json": { schema: SubmitRequest } }, required: true } },
  responses: {
    201: json(JobSchema, "The job (the existing one when the idempotency key was seen before)"),
  },
});
const listRoute = createRoute({
  method: "get",
  path: "/lane/v1/jobs",
  summary: "List jobs by session, lane and state, oldest first",
  request: { query: ListQuery },
  responses: { 200: json(JobList, "Matching jobs") },
});
const getRoute = createRoute({
  method: "get",
  path: "/lane/v1/jobs/{id}",
  summary: "Get one job",
  request: { params: IdParam },
  responses: { 200: json(JobSchema, "The job") },
});
const cancelRoute = createRoute({
  method: "post",
  path: "/lane/v1/jobs/{id}/cancel",
  summary: "Cancel a queued or running job",
  request: { params: IdParam },
  responses: {
    200: json(z.object({ cancelled: z.boolean() }), "False when the job had already finished"),
  },
});
const dlqListRoute = createRoute({
  method: "get",
  path: "/lane/v1/dlq",
  summary: "List dead-lettered jobs with their error history",
  request: { query: DlqQuery },
  responses: { 200: json(JobList, "Dead jobs") },
});
const dlqRetryRoute = createRoute({
  method: "post",
  path: "/lane/v1/dlq/{id}/retry",
  summary: "Requeue a dead job with a fresh attempt count",
  request: { params: IdParam },
  responses: { 200: json(JobSchema, "The requeued job") },
});
const dlqPurgeOneRoute = createRoute({
  method: "delete",
  path: "/lane/v1/dlq/{id}",
  summary: "Delete one dead job",
  request: { params: IdParam },
  responses: { 200: json(z.object({ purged: z.number().int() }), "How many were deleted") },
});
const dlqPurgeRoute = createRoute({
  method: "delete",
  path: "/lane/v1/dlq",
  summary: "Delete dead jobs, optionally of one session or lane",
  request: { query: DlqQuery.omit({ limit: true }) },
  responses: { 200: json(z.object({ purged: z.number().int() }), "How many were deleted") },
});
const statsRoute = createRoute({
  method: "get",
  path: "/lane/v1/stats",
  summary: "Job counts per lane and state, and this process's high-water marks",
  responses: { 200: json(StatsSchema, "Counts") },
});

/**
 * Builds the lane sub-app around `lane`.
 *
 * @example
 * ```ts
 * import { createLane } from "@a3s/lane";
 * import { createLaneRoutes } from "@a3s/lane/routes";
 * const app = createLaneRoutes(createLane());
 * ```
 */
export function createLaneRoutes(
  lane: Lane,
  shutdown?: AbortSignal,
  bus?: EventBus,
): OpenAPIHono {
  const app = createRouter();
  app.openapi(submitRoute, async (c) => {
    const body = c.req.valid("json");
    const handle = await lane.submit(body.session, body.lane, {
      kind: body.kind,
      payload: body.payload,
    }, {
      priority: body.priority,
      delayMs: body.delayMs,
      timeoutMs: body.timeoutMs,
      idempotencyKey: body.idempotencyKey,
      dependsOn: body.dependsOn,
      key: body.key,
      retry: body.retry,
    });
    const job = await lane.get(handle.id);
    if (!job) throw new NotFoundError(`job '${handle.id}' not found`, "id");
    return c.json(job as z.infer<typeof JobSchema>, 201);
  });
  app.openapi(listRoute, async (c) => {
    const query = c.req.valid("query");
    const jobs = await lane.list(query);
    return c.json({ jobs } as z.infer<typeof JobList>, 200);
  });
  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const job = await lane.get(id);
    if (!job) throw new NotFoundError(`job '${id}' not found`, "id");
    return c.json(job as z.infer<typeof JobSchema>, 200);
  });
  app.openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json({ cancelled: await lane.cancel(id) }, 200);
  });
  app.openapi(dlqListRoute, async (c) => {
    const jobs = await lane.dlq.list(c.req.valid("query"));
    return c.json({ jobs } as z.infer<typeof JobList>, 200);
  });
  app.openapi(dlqRetryRoute, async (c) => {
    const job = await lane.dlq.retry(c.req.valid("param").id);
    return c.json(job as z.infer<typeof JobSchema>, 200);
  });
  app.openapi(dlqPurgeOneRoute, async (c) => {
    const { id } = c.req.valid("param");
    const purged = await lane.dlq.purge({ id });
    if (purged === 0) throw new NotFoundError(`no dead job '${id}'`, "id");
    return c.json({ purged }, 200);
  });
  app.openapi(dlqPurgeRoute, async (c) => {
    return c.json({ purged: await lane.dlq.purge(c.req.valid("query")) }, 200);
  });
  app.openapi(statsRoute, async (c) => {
    return c.json((await lane.stats()) as z.infer<typeof StatsSchema>, 200);
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/lane/v1/events",
    summary: "Follow this process's scheduler events as server-sent events",
    request: { query: LaneEventsQuerySchema },
    responses: {
      200: {
        description: "One `event: <type>` with a JSON `data` line per event, after `event: ready`",
        content: { "text/event-stream": { schema: z.string() } },
      },
    },
  });
  app.get("/lane/v1/events", (c) => streamLaneEventsFor(c, lane, bus, shutdown));
  return app;
}

/** Options of {@linkcode laneModule}; they override the config file's `lane` section. */
export interface LaneModuleOptions extends Omit<DurableLaneOptions, "store"> {
  /** Handlers to register by kind, besides the built-in `lane.echo` and `lane.sleep`. */
  handlers?: Record<string, JobFunction>;
  /**
   * Publish job events on the event module's bus (`lane.<lane>.job.<state>`); the module then
   * depends on `event`. Default true; false runs lane without the event module.
   */
  events?: boolean;
}

/** The lane module as `serve` starts it; its API is the durable scheduler. */
export type LaneModule = A3sModule<LaneSection, DurableLane>;

/** Returns the payload: a round trip through the queue, for health checks. */
const echo: JobFunction = (ctx) => ctx.payload;

/** Waits `payload.ms` milliseconds (abortable): for load and timeout checks. */
const sleep: JobFunction = (ctx) => {
  const ms = Number((ctx.payload as { ms?: unknown } | null)?.ms ?? 0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ sleptMs: ms }), Number.isFinite(ms) ? ms : 0);
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    }, { once: true });
  });
};

/**
 * The module `serve` starts: a durable scheduler on the server's store, and its routes. Other
 * modules that depend on `lane` get the scheduler as its API. Unless `events: false`, it depends
 * on the `event` module and publishes job events on its bus.
 *
 * @example
 * ```ts
 * import { laneModule } from "@a3s/lane/routes";
 * const module = laneModule({ handlers: { greet: (ctx) => `hello ${ctx.payload}` } });
 * console.log(module.name); // "lane"
 * ```
 */
export function laneModule(options: LaneModuleOptions = {}): LaneModule {
  return defineModule({
    name: "lane",
    configSchema: LaneSectionSchema,
    dependsOn: options.events === false ? [] : ["event"],
    access: [
      { path: "/lane/v1/*", methods: ["GET", "HEAD"], scope: "lane:read" },
      { path: "/lane/v1/*", scope: "lane:write" },
    ],
    async start(ctx) {
      const { handlers, events: _events, ...rest } = options;
      const lane = await DurableLane.open({ ...ctx.config, ...rest, store: ctx.store });
      lane.handle("lane.echo", echo).handle("lane.sleep", sleep);
      for (const [kind, fn] of Object.entries(handlers ?? {})) lane.handle(kind, fn);
      const bus = ctx.modules.event as EventBus | undefined;
      const stopEvents = bus ? publishLaneEvents(lane, bus, ctx.logger) : undefined;
      return {
        routes: createLaneRoutes(lane, ctx.shutdown, bus),
        api: lane,
        close: async () => {
          await lane.close();
          await stopEvents?.();
        },
      };
    },
  });
}
