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

/**
 * A received event. Its CloudEvent fields are getters over the event, read when the handler
 * asks, and `headers` is computed on first read, as most handlers look at few fields; its
 * methods delegate to objects it holds, so making one per event builds no closures.
 */
export class ReceivedMessage<T = unknown> implements EventMessage<T> {
  #headers?: Record<string, string>;
  readonly #responder: Responder;

  constructor(
    readonly event: CloudEvent,
    readonly seq: string,
    readonly deliveries: number,
    responder: Responder,
  ) {
    this.#responder = responder;
  }

  get id(): string {
    return this.event.id;
  }

  get subject(): string {
    return this.event.subject;
  }

  get type(): string {
    return this.event.type;
  }

  get source(): string {
    return this.event.source;
  }

  get time(): string {
    return this.event.time;
  }

  get schemaVersion(): string | undefined {
    return this.event.schemaversion;
  }

  get key(): string | undefined {
    return this.event.partitionkey;
  }

  get data(): T {
    return this.event.data as T;
  }

  get headers(): Record<string, string> {
    return (this.#headers ??= headersOf(this.event));
  }

  respond(payload: unknown): Promise<void> {
    return this.#responder.respond(this.event, payload);
  }

  /** The message's fields as a plain object, so `JSON.stringify` and spreading see them. */
  toJSON(): Omit<EventMessage<T>, "respond"> {
    return {
      id: this.id,
      subject: this.subject,
      type: this.type,
      source: this.source,
      time: this.time,
      schemaVersion: this.schemaVersion,
      key: this.key,
      headers: this.headers,
      data: this.data,
      seq: this.seq,
      deliveries: this.deliveries,
      event: this.event,
    };
  }
}
