/**
 * `GET /lane/v1/events`: scheduler events as server-sent events, optionally of one session and
 * some types, with a keep-alive comment when nothing happens.
 *
 * With the event module running, the stream is one case of `GET /event/v1/stream`: lane's job
 * subjects on the bus, resumable with `Last-Event-ID`, and seen from every process on the same
 * broker. Progress reports are never on the bus (they are whatever a job reports), so a request
 * for them is served from this process's scheduler, as it is when lane runs without a bus.
 */
import type { Context } from "hono";
import { z } from "@hono/zod-openapi";
import { type EventBus, streamQueue, streamSubjects } from "@a3s/event";
import { ValidationError } from "@a3s/common";
import { STATE_OF } from "./bus_events.ts";
import { type Lane, SESSION_PATTERN, SESSION_RULE } from "./lane.ts";
import type { LaneEvent, LaneEventType } from "./types.ts";

const TYPE_OF_STATE = new Map<string, LaneEventType>(
  Object.entries(STATE_OF).map(([type, state]) => [state, type as LaneEventType]),
);
const LANE_EVENT_TYPES = new Set<string>(["progress", ...TYPE_OF_STATE.values()]);

/**
 * The query of `GET /lane/v1/events`: its OpenAPI description and its validation. A session is
 * checked as a job's is, so an empty or control-character one is a 400, not a stream that never
 * sends anything.
 */
export const LaneEventsQuerySchema = z.object({
  session: z.string().regex(SESSION_PATTERN, `session: must be ${SESSION_RULE}`).optional()
    .openapi({ description: "only this session's jobs" }),
  type: z.string().optional().openapi({
    description: `comma-separated event types (${[...LANE_EVENT_TYPES].join(", ")})`,
  }),
});

/** The request's validated query: the session, and the requested types (none: all). */
function eventsQuery(c: Context): { session?: string; types?: string[] } {
  const parsed = LaneEventsQuerySchema.safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".");
    throw new ValidationError(
      issue.message.startsWith(`${field}:`) ? issue.message : `${field}: ${issue.message}`,
      field,
    );
  }
  const types = parsed.data.type?.split(",").filter(Boolean);
  const unknown = types?.find((type) => !LANE_EVENT_TYPES.has(type));
  if (unknown) {
    throw new ValidationError(
      `type: '${unknown}' is not a lane event type (one of ${[...LANE_EVENT_TYPES].join(", ")})`,
      "type",
    );
  }
  return { session: parsed.data.session, types };
}

/**
 * Streams lane's events for the request: from `bus` when there is one and every requested type
 * is published there, else from `lane` in this process.
 */
export function streamLaneEventsFor(
  c: Context,
  lane: Lane,
  bus: EventBus | undefined,
  shutdown?: AbortSignal,
): Response {
  const { session, types } = eventsQuery(c);
  if (!bus || types?.includes("progress")) return streamLaneEvents(c, lane, shutdown);
  const states = types?.map((type) => STATE_OF[type as LaneEventType]!);
  return streamSubjects(c, bus, {
    patterns: states ? states.map((state) => `lane.*.job.${state}`) : ["lane.*.job.*"],
    shutdown,
    render(message) {
      const data = message.data as Omit<LaneEvent, "type" | "at">;
      if (session !== undefined && data.session !== session) return undefined;
      const type = TYPE_OF_STATE.get(message.subject.slice(message.subject.lastIndexOf(".") + 1));
      if (!type) return undefined;
      return { event: type, data: JSON.stringify({ type, ...data, at: Date.parse(message.time) }) };
    },
  });
}

/** Streams `lane`'s events matching the request's `session` and `type` query until either end. */
export function streamLaneEvents(c: Context, lane: Lane, shutdown?: AbortSignal): Response {
  const { session, types } = eventsQuery(c);
  return streamQueue<LaneEvent>(c, {
    shutdown,
    start: (push) =>
      lane.subscribe((event) => {
        if (session !== undefined && event.session !== session) return;
        if (types && !types.includes(event.type)) return;
        push(event);
      }),
    render: (event) => ({ event: event.type, id: event.jobId, data: JSON.stringify(event) }),
  });
}
