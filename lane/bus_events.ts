/**
 * Lane's job events on the event bus: `lane.<lane>.job.<state>`, one zod-typed CloudEvent per
 * transition. Publishing is off the hot path: the scheduler's synchronous listener only queues
 * the event, and a timer turn later the queue is published in order.
 */
import { z } from "zod";
import type { Logger } from "@a3s/common";
import { defineEvent, type EventBus, type EventType } from "@a3s/event";
import type { Lane } from "./lane.ts";
import { LANE_NAMES, type LaneName } from "./lanes.ts";
import type { LaneEvent, LaneEventType } from "./types.ts";

/** The job states lane publishes, as the last subject token. */
export const LANE_BUS_STATES = [
  "submitted",
  "started",
  "completed",
  "failed",
  "retried",
  "dead_lettered",
  "cancelled",
] as const;

/** One published job state. */
export type LaneBusState = typeof LANE_BUS_STATES[number];

/**
 * The payload of every lane job event. It names the job, never its payload, result or error
 * text (those may hold secrets or command output; read them with `GET /lane/v1/jobs/{id}`).
 */
export interface LaneJobEvent {
  /** The job. */
  jobId: string;
  /** Its session. */
  session: string;
  /** Its lane. */
  lane: LaneName;
  /** Its kind. */
  kind: string;
  /** The attempt the event concerns (0 before the first). */
  attempt: number;
  /** For `retried`: when the next attempt may start, epoch milliseconds. */
  retryAt?: number;
}

/** The schema every lane job event's `data` is validated against. */
export const LaneJobEventSchema: z.ZodType<LaneJobEvent> = z.object({
  jobId: z.string(),
  session: z.string(),
  lane: z.enum(LANE_NAMES),
  kind: z.string(),
  attempt: z.number().int().min(0),
  retryAt: z.number().optional(),
});

/** The event types lane publishes: `a3s.lane.job.<state>` on `lane.*.job.<state>`. */
export const LANE_EVENT_TYPES: readonly EventType<LaneJobEvent>[] = LANE_BUS_STATES.map((
  state,
) =>
  defineEvent({
    type: `a3s.lane.job.${state}`,
    subject: `lane.*.job.${state}`,
    version: "1",
    schema: LaneJobEventSchema,
  })
);

/** The bus state each published scheduler event type becomes (progress is not published). */
export const STATE_OF: Partial<Record<LaneEventType, LaneBusState>> = {
  enqueued: "submitted",
  started: "started",
  completed: "completed",
  failed: "failed",
  retried: "retried",
  dead_lettered: "dead_lettered",
  cancelled: "cancelled",
};

/** Events waiting beyond this many are dropped (and counted in a warning): the bus is stuck. */
const MAX_PENDING = 10_000;

/**
 * Publishes `lane`'s job events on `bus` until the returned function is called; that function
 * resolves once the queued events are published. Progress reports are not published (they are
 * whatever a job chooses to report).
 *
 * @example
 * ```ts
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * import { MemoryLane } from "@a3s/lane";
 * import { publishLaneEvents } from "@a3s/lane/routes";
 * const bus = new EventBus({ provider: new MemoryProvider(), source: "lane" });
 * const lane = new MemoryLane();
 * const stop = publishLaneEvents(lane, bus);
 * await stop();
 * await bus.close();
 * ```
 */
export function publishLaneEvents(
  lane: Lane,
  bus: EventBus,
  logger?: Logger,
): () => Promise<void> {
  bus.define(...LANE_EVENT_TYPES);
  let pending: LaneEvent[] = [];
  let dropped = 0;
  let flushing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drain = async () => {
    while (pending.length) {
      const batch = pending;
      pending = [];
      if (dropped) {
        logger?.warn("lane events dropped: the event bus is not keeping up", { dropped });
        dropped = 0;
      }
      // Prepared one after another so sealing keeps their order; sent together.
      const sends: Promise<unknown>[] = [];
      for (const event of batch) {
        const state = STATE_OF[event.type]!;
        const payload: LaneJobEvent = {
          jobId: event.jobId,
          session: event.session,
          lane: event.lane,
          kind: event.kind,
          attempt: event.attempt,
          ...(event.retryAt === undefined ? {} : { retryAt: event.retryAt }),
        };
        try {
          const prepared = await bus.prepare(`lane.${event.lane}.job.${state}`, payload, {
            key: event.jobId,
            time: new Date(event.at),
          });
          sends.push(bus.publishEvent(prepared).catch((error) => report(error, event)));
        } catch (error) {
          report(error, event);
        }
      }
      await Promise.all(sends);
    }
  };
  const flush = () => {
    timer = undefined;
    flushing = drain().finally(() => {
      flushing = undefined;
      if (pending.length && !timer) timer = setTimeout(flush, 0);
    });
  };
  const report = (error: unknown, event: LaneEvent) =>
    logger?.warn("lane event not published", {
      job: event.jobId,
      type: event.type,
      error: error instanceof Error ? error.message : String(error),
    });

  const unsubscribe = lane.subscribe((event) => {
    if (!(event.type in STATE_OF)) return;
    if (pending.length >= MAX_PENDING) {
      dropped++;
      return;
    }
    pending.push(event);
    if (!flushing && !timer) {
      timer = setTimeout(flush, 0);
    }
  });
  return async () => {
    unsubscribe();
    while (timer !== undefined || flushing) {
      if (timer !== undefined) {
        clearTimeout(timer);
        flush();
      }
      await flushing;
    }
  };
}
