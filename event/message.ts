/** What a handler receives: the opened event, its place in the log and how to answer it. */
import type { CloudEvent } from "./envelope.ts";
import { headersOf } from "./envelope.ts";

/** One received event. */
export interface EventMessage<T = unknown> {
  /** The event id. */
  id: string;
  /** The subject it was published on. */
  subject: string;
  /** CloudEvents `type`. */
  type: string;
  /** CloudEvents `source`. */
  source: string;
  /** CloudEvents `time`. */
  time: string;
  /** Version of the payload schema. */
  schemaVersion?: string;
  /** Ordering key, when the publisher gave one. */
  key?: string;
  /** The publisher's extension attributes. */
  headers: Record<string, string>;
  /** The payload, decrypted. */
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

/** Who publishes a reply to a request: the bus. */
export interface Responder {
  /** Publishes `payload` to the reply subject of the request `event`. */
  respond(event: CloudEvent, payload: unknown): Promise<void>;
}

/** How a handler settles a durable delivery. */
export interface Settler {
  /** Acknowledges the delivery. */
  ack(): Promise<void>;
  /** Asks for redelivery after `delayMs`, or the consumer's retry delay. */
  nack(delayMs?: number): Promise<void>;
}

/**
 * A received event; `headers` is computed on first read, as most handlers never look. Its
 * methods delegate to objects it holds, so making one per event builds no closures.
 */
export class ReceivedMessage<T = unknown> implements EventMessage<T> {
  readonly id: string;
  readonly subject: string;
  readonly type: string;
  readonly source: string;
  readonly time: string;
  readonly schemaVersion?: string;
  readonly key?: string;
  readonly data: T;
  #headers?: Record<string, string>;

  readonly #responder: Responder;

  constructor(
    readonly event: CloudEvent,
    readonly seq: string,
    readonly deliveries: number,
    responder: Responder,
  ) {
    this.#responder = responder;
    this.id = event.id;
    this.subject = event.subject;
    this.type = event.type;
    this.source = event.source;
    this.time = event.time;
    this.schemaVersion = event.schemaversion;
    this.key = event.partitionkey;
    this.data = event.data as T;
  }

  get headers(): Record<string, string> {
    return (this.#headers ??= headersOf(this.event));
  }

  respond(payload: unknown): Promise<void> {
    return this.#responder.respond(this.event, payload);
  }
}

/** A durable delivery: a received event the handler may settle itself. */
export class DurableReceivedMessage<T = unknown> extends ReceivedMessage<T>
  implements DurableMessage<T> {
  readonly #settler: Settler;

  constructor(
    event: CloudEvent,
    seq: string,
    deliveries: number,
    responder: Responder,
    settler: Settler,
  ) {
    super(event, seq, deliveries, responder);
    this.#settler = settler;
  }

  ack(): Promise<void> {
    return this.#settler.ack();
  }

  nack(delayMs?: number): Promise<void> {
    return this.#settler.nack(delayMs);
  }
}
