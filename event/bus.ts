/**
 * The event bus: one API over every provider. It builds and validates CloudEvents, seals and
 * opens payloads, and runs live subscriptions, request/reply and durable consumers.
 */
import { A3sError, type Logger, ValidationError } from "@a3s/common";
import { buildEnvelope, type CloudEvent } from "./envelope.ts";
import {
  EventKeyMissingError,
  EventMalformedError,
  EventTimeoutError,
  isRejection,
} from "./errors.ts";
import { type EventType, EventTypeRegistry } from "./event_type.ts";
import type { KeyRing } from "./crypto.ts";
import { type EventMessage, ReceivedMessage } from "./message.ts";
import * as metrics from "./metrics.ts";
import type {
  ConsumerInfo,
  EventProvider,
  ProviderPublishOptions,
  StoredEvent,
  SubjectInfo,
} from "./provider.ts";
import { assertPattern, assertSubject } from "./subject.ts";
import {
  type ConsumeOptions,
  type Consumer,
  DurableConsumer,
  type DurableHandler,
} from "./consumer.ts";

/** Options of {@linkcode EventBus}. */
export interface EventBusOptions {
  /** The broker the bus runs on. */
  provider: EventProvider;
  /** CloudEvents `source` of events this process publishes. */
  source?: string;
  /** Keys that seal and open payloads; without one, sealed events are refused. */
  keyRing?: KeyRing;
  /** Where rejections and retries are logged. */
  logger?: Logger;
  /** Called for every rejected event (missing key, failed integrity check). */
  onAudit?: (record: AuditRecord) => void;
}

/** A rejected event, as audited. */
export interface AuditRecord {
  /** Why the event was rejected. */
  reason: "key_missing" | "tampered" | "malformed";
  /** The event's subject. */
  subject: string;
  /** The event's id. */
  id: string;
  /** The rejection, as one line. */
  message: string;
  /** The durable consumer that received it, if any. */
  consumer?: string;
}

/** Options of {@linkcode EventBus.publish}. */
export interface PublishOptions {
  /** Extension attributes: names of 1 to 20 lower-case letters or digits. */
  headers?: Record<string, string>;
  /** Ordering key: a consumer handles events with the same key one at a time, in order. */
  key?: string;
  /** Event id; publishing the same id again within the window is a no-op. */
  id?: string;
  /** CloudEvents `type` when no registered event type matches the subject. */
  type?: string;
  /** Subject a responder publishes its reply to (request/reply sets it). */
  replyTo?: string;
  /** The event's `time` (default now). */
  time?: Date;
}

/** The result of a publish. */
export interface PublishedEvent {
  /** The event id. */
  id: string;
  /** Its position in the broker's log. */
  seq: string;
  /** The subject it was published on. */
  subject: string;
  /** True when the id was published before within the window, so nothing was stored. */
  duplicate: boolean;
}

/** A live subscription. */
export interface Subscription {
  /** Stops delivery and waits for the running handler. */
  close(): Promise<void>;
}

/** Options of {@linkcode EventBus.subscribe}. */
export interface SubscribeOptions {
  /** Replay events after this seq first (as `Last-Event-ID` does). */
  after?: string;
  /** Called when a handler throws; the default logs. */
  onError?: (error: unknown, message: EventMessage) => void;
}

/**
 * The bus.
 *
 * @example
 * ```ts
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * const bus = new EventBus({ provider: new MemoryProvider() });
 * const seen: string[] = [];
 * const sub = await bus.subscribe("box.*.started", (m) => void seen.push(m.subject));
 * await bus.publish("box.b1.started", { image: "alpine" });
 * await sub.close();
 * await bus.close();
 * ```
 */
export class EventBus {
  /** The broker the bus runs on. */
  readonly provider: EventProvider;
  /** The event types publishes are validated against. */
  readonly types: EventTypeRegistry = new EventTypeRegistry();
  /** CloudEvents `source` of events this bus publishes. */
  readonly source: string;
  readonly #keyRing?: KeyRing;
  readonly #logger?: Logger;
  readonly #onAudit?: (record: AuditRecord) => void;
  readonly #consumers = new Set<Consumer>();
  readonly #subscriptions = new Set<Subscription>();
  readonly #unreportLag: () => void;

  /** Creates a bus over `options.provider`. */
  constructor(options: EventBusOptions) {
    this.provider = options.provider;
    this.source = options.source ?? "a3s";
    this.#keyRing = options.keyRing;
    this.#logger = options.logger;
    this.#onAudit = options.onAudit;
    const unreportLag = metrics.reportLag(() => this.provider.consumers());
    const unreportHeld = metrics.reportHeld(() => [...this.#consumers]);
    this.#unreportLag = () => {
      unreportLag();
      unreportHeld();
    };
  }

  /** Registers event types, so publishes on their subjects are validated. */
  define(...types: EventType[]): this {
    for (const type of types) this.types.register(type);
    return this;
  }

  /** Builds, validates and seals the CloudEvent for a publish, without sending it. */
  async prepare(
    subject: string,
    payload: unknown,
    options: PublishOptions = {},
  ): Promise<CloudEvent> {
    assertSubject(subject);
    if (options.key !== undefined && (options.key.length === 0 || options.key.length > 256)) {
      throw new ValidationError("key: 1 to 256 characters", "key");
    }
    if (options.replyTo !== undefined) assertSubject(options.replyTo, "replyTo");
    const type = this.types.find(subject);
    const data = type ? type.parse(payload) : payload ?? null;
    if (typeof data === "function" || typeof data === "symbol" || typeof data === "bigint") {
      throw new ValidationError("data: must be JSON-serialisable", "data");
    }
    const event = buildEnvelope({
      subject,
      data,
      type: type?.type ?? options.type ?? subject,
      source: this.source,
      schemaVersion: type?.version ?? "1",
      id: options.id,
      time: options.time,
      key: options.key,
      replyTo: options.replyTo,
      headers: options.headers,
    });
    return this.#keyRing ? await this.#keyRing.seal(event) : event;
  }

  /**
   * Publishes `payload` on `subject`. Resolves once the broker holds the event durably;
   * throws a validation error naming the field when the payload breaks its event type.
   */
  async publish(
    subject: string,
    payload: unknown,
    options: PublishOptions = {},
  ): Promise<PublishedEvent> {
    const event = await this.prepare(subject, payload, options);
    return await this.publishEvent(event, { idGenerated: options.id === undefined });
  }

  /**
   * Publishes an already built (and sealed) CloudEvent. `options.idGenerated`: only when this
   * bus made `event.id` itself and nobody else holds the event (see `EventProvider.publish`).
   */
  async publishEvent(
    event: CloudEvent,
    options: ProviderPublishOptions = {},
  ): Promise<PublishedEvent> {
    const receipt = await this.provider.publish(event, options);
    if (receipt.duplicate) metrics.duplicates.inc({ subject: event.subject });
    else metrics.publishedFor(event.subject).inc();
    return { id: event.id, seq: receipt.seq, subject: event.subject, duplicate: receipt.duplicate };
  }

  /** False when `open` would return `event` as it is: no key ring, no seal, not malformed. */
  needsOpening(event: CloudEvent): boolean {
    return this.#keyRing !== undefined || event.a3skid !== undefined ||
      event.a3smalformed !== undefined;
  }

  /** Decrypts and verifies `event`; a rejection is audited and rethrown. */
  async open(event: CloudEvent, consumer?: string): Promise<CloudEvent> {
    try {
      if (event.a3smalformed !== undefined) {
        throw new EventMalformedError(event.subject, event.a3smalformed);
      }
      return this.#keyRing ? await this.#keyRing.open(event) : await openWithoutKeys(event);
    } catch (error) {
      if (isRejection(error)) {
        const reason = error instanceof EventKeyMissingError
          ? "key_missing"
          : error instanceof EventMalformedError
          ? "malformed"
          : "tampered";
        metrics.rejected.inc({ subject: event.subject, reason });
        const record: AuditRecord = {
          reason,
          subject: event.subject,
          id: event.id,
          message: error.message,
          consumer,
        };
        this.#logger?.warn("event rejected", { ...record });
        this.#onAudit?.(record);
      }
      throw error;
    }
  }

  /** The message a handler sees for `event` (already opened). */
  message(event: CloudEvent, seq: string, deliveries: number): EventMessage {
    return new ReceivedMessage(event, seq, deliveries, this);
  }

  /** Publishes `payload` to the reply subject of the request `event`. */
  async respond(event: CloudEvent, payload: unknown): Promise<void> {
    if (!event.a3sreplyto) {
      throw new A3sError("event_no_reply_subject", `event ${event.id} was not a request`, {
        status: 400,
      });
    }
    await this.publish(event.a3sreplyto, payload, { key: event.partitionkey });
  }

  /**
   * Calls `handler` for each event matching `pattern` from now on (or after `options.after`),
   * one at a time, in log order. Rejected events are audited and skipped.
   */
  async subscribe(
    pattern: string,
    handler: (message: EventMessage) => void | Promise<void>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    assertPattern(pattern);
    if (options.after !== undefined) assertSeq(options.after);
    let chain = Promise.resolve();
    let closed = false;
    const onError = options.onError ??
      ((error: unknown, message: EventMessage) =>
        this.#logger?.error("subscriber failed", {
          subject: message.subject,
          id: message.id,
          error: String(error),
        }));
    const deliver = async (stored: StoredEvent) => {
      if (closed) return;
      let opened: CloudEvent;
      try {
        opened = await this.open(stored.event);
      } catch {
        return;
      }
      metrics.deliveredFor("", opened.subject).inc();
      const message = this.message(opened, stored.seq, 1);
      try {
        await handler(message);
      } catch (error) {
        onError(error, message);
      }
    };
    const live = await this.provider.subscribe(pattern, options.after, (stored) => {
      chain = chain.then(() => deliver(stored));
    });
    const subscription: Subscription = {
      close: async () => {
        if (closed) return;
        closed = true;
        this.#subscriptions.delete(subscription);
        await live.close();
        await chain;
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Publishes a request and resolves with the first reply, or throws
   * {@linkcode EventTimeoutError} after `timeoutMs`.
   */
  async request(
    subject: string,
    payload: unknown,
    options: Omit<PublishOptions, "replyTo"> & { timeoutMs?: number } = {},
  ): Promise<EventMessage> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const inbox = `_inbox.${crypto.randomUUID().replaceAll("-", "")}`;
    const { promise, resolve } = Promise.withResolvers<EventMessage>();
    const subscription = await this.subscribe(inbox, (message) => resolve(message));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.publish(subject, payload, { ...options, replyTo: inbox });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EventTimeoutError(subject, timeoutMs)), timeoutMs);
      });
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
      await subscription.close();
    }
  }

  /** Starts a durable consumer; see {@linkcode ConsumeOptions} for retries and dead letters. */
  async consume<T = unknown>(
    name: string,
    pattern: string,
    handler: DurableHandler<T>,
    options: ConsumeOptions = {},
  ): Promise<Consumer> {
    const consumer = new DurableConsumer(
      this,
      name,
      pattern,
      handler as DurableHandler,
      options,
      this.#logger,
    );
    this.#consumers.add(consumer);
    consumer.stopped.then(() => this.#consumers.delete(consumer));
    await consumer.start();
    return consumer;
  }

  /** Durable consumers with their lag and unacknowledged deliveries. */
  consumers(): Promise<ConsumerInfo[]> {
    return this.provider.consumers();
  }

  /** Subjects in the log with their event counts. */
  subjects(): Promise<SubjectInfo[]> {
    return this.provider.subjects();
  }

  /** Stops consumers and subscriptions, then closes the provider. */
  async close(): Promise<void> {
    this.#unreportLag();
    await Promise.all([...this.#consumers].map((c) => c.stop()));
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    await this.provider.close();
  }
}

/** Without a key ring, a sealed event cannot be read: say so instead of returning ciphertext. */
function openWithoutKeys(event: CloudEvent): Promise<CloudEvent> {
  if (event.a3skid !== undefined && (event.a3senc !== undefined || event.a3ssig !== undefined)) {
    return Promise.reject(new EventKeyMissingError(event.a3skid, event.subject));
  }
  return Promise.resolve(event);
}

/** What every provider's seq looks like: digits, or Redis's stream id `<ms>-<n>`. */
const SEQ = /^\d{1,20}(-\d{1,20})?$/;

/**
 * Throws a validation error naming `after` unless it is a seq some provider hands out: a typo
 * would otherwise resume from nowhere and deliver nothing, without a word.
 */
export function assertSeq(after: string, field = "after"): void {
  if (!SEQ.test(after)) {
    throw new ValidationError(
      `${field}: '${after.slice(0, 40)}' is not a seq (digits, or Redis's <ms>-<n>)`,
      field,
    );
  }
}
