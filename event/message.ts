/** What a handler receives: the opened event, its place in the log and how to answer it. */
import type { CloudEvent } from "./envelope.ts";
import { headersOf } from "./envelope.ts";

/** One received event. */
export interface EventMessage<T = unknown> {
  id: string;
  subject: string;
  type: string;
  source: string;
  time: string;
  schemaVersion?: string;
  key?: string;
  headers: Record<string, string>;
  data: T;
  /** Position in the broker's log; pass it back as `after` (or `Last-Event-ID`) to resume. */
  seq: string;
  /** 1 on first delivery; live subscriptions always see 1. */
  deliveries: number;
  /** The CloudEvent, with its payload decrypted. */
  event: CloudEvent;
  /** Publishes `payload` to the requester's reply subject; throws when there is none. */
  respond(payload: unknown): Promise<void>;
}

/** A delivery to a durable consumer, which the handler may settle itself. */
export interface DurableMessage<T = unknown> extends EventMessage<T> {
  /** Acknowledges now; returning from the handler does the same. */
  ack(): Promise<void>;
  /** Asks for redelivery after `delayMs` (the consumer's retry delay when omitted). */
  nack(delayMs?: number): Promise<void>;
}

/** Builds the message fields shared by live and durable deliveries. */
export function messageFields(
  event: CloudEvent,
  seq: string,
  deliveries: number,
): Omit<EventMessage, "respond"> {
  return {
    id: event.id,
    subject: event.subject,
    type: event.type,
    source: event.source,
    time: event.time,
    schemaVersion: event.schemaversion,
    key: event.partitionkey,
    headers: headersOf(event),
    data: event.data,
    seq,
    deliveries,
    event,
  };
}
