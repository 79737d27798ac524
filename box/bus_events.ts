/**
 * Box's lifecycle on the event bus: `box.<id>.created|started|exited|removed`, one zod-typed
 * CloudEvent per transition, published in order and never awaited by the box operation.
 */
import { z } from "zod";
import type { Logger } from "@a3s/common";
import { defineEvent, type EventBus, type EventType } from "@a3s/event";
import type { BoxLifecycleEvent, LifecycleSink } from "./manager.ts";

/** The lifecycle states box publishes, as the last subject token. */
export const BOX_BUS_STATES = ["created", "started", "exited", "removed"] as const;

/**
 * The payload of every box lifecycle event: which box, from which image, on which driver, and
 * for `exited` its exit code and reason. Never its command, environment or output.
 */
export type BoxLifecyclePayload = Omit<BoxLifecycleEvent, "state">;

/** The schema every box lifecycle event's `data` is validated against. */
export const BoxLifecycleEventSchema: z.ZodType<BoxLifecyclePayload> = z.object({
  boxId: z.string(),
  name: z.string(),
  image: z.string(),
  driver: z.string(),
  exitCode: z.number().int().nullable().optional(),
  reason: z.string().optional(),
});

/** The event types box publishes: `a3s.box.<state>` on `box.*.<state>`. */
export const BOX_EVENT_TYPES: readonly EventType<BoxLifecyclePayload>[] = BOX_BUS_STATES.map((
  state,
) =>
  defineEvent({
    type: `a3s.box.${state}`,
    subject: `box.*.${state}`,
    version: "1",
    schema: BoxLifecycleEventSchema,
  })
);

/** A lifecycle sink that publishes on a bus, and the function that waits for what it queued. */
export interface BoxEventPublisher {
  /** Pass as `lifecycle` to the box manager. */
  sink: LifecycleSink;
  /** Resolves once every queued event was published (or failed and was logged). */
  flush(): Promise<void>;
}

/**
 * Publishes box lifecycle transitions on `bus`, in order, keyed by box id.
 *
 * @example
 * ```ts
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * import { publishBoxEvents } from "@a3s/box";
 * const bus = new EventBus({ provider: new MemoryProvider(), source: "box" });
 * const events = publishBoxEvents(bus);
 * events.sink({ state: "created", boxId: "b1", name: "web", image: "alpine", driver: "namespace" });
 * await events.flush();
 * await bus.close();
 * ```
 */
export function publishBoxEvents(bus: EventBus, logger?: Logger): BoxEventPublisher {
  bus.define(...BOX_EVENT_TYPES);
  let tail: Promise<void> = Promise.resolve();
  const send = async (event: BoxLifecycleEvent) => {
    const { state, ...payload } = event;
    try {
      await bus.publish(`box.${event.boxId}.${state}`, payload, { key: event.boxId });
    } catch (error) {
      logger?.warn("box event not published", {
        box: event.boxId,
        state,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  return {
    sink: (event) => {
      tail = tail.then(() => send(event));
    },
    flush: () => tail,
  };
}
