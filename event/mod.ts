/**
 * `@a3s/event`: one event bus over several brokers. Publish and subscribe with NATS-style
 * wildcards, request/reply, durable consumers (ack, nack with delay, a delivery limit, a
 * dead-letter subject), zod-typed CloudEvents 1.0, ordering per key, de-duplication by id and
 * optional AES-256-GCM or HMAC payload protection. Providers: memory, the shared store
 * (SQLite or PostgreSQL), NATS JetStream and Redis Streams.
 *
 * @example
 * ```ts
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * const bus = new EventBus({ provider: new MemoryProvider() });
 * const worker = await bus.consume("mailer", "user.*.created", async (m) => {
 *   console.log("welcome", m.data);
 * }, { maxDeliveries: 3 });
 * await bus.publish("user.42.created", { email: "ada@example.org" }, { key: "42" });
 * await worker.stop();
 * await bus.close();
 * ```
 * @module
 */
export { type AuditRecord, EventBus, type EventBusOptions, type PublishedEvent } from "./bus.ts";
export type { PublishOptions, SubscribeOptions, Subscription } from "./bus.ts";
export type { ConsumeOptions, Consumer, DurableHandler } from "./consumer.ts";
export type { DurableMessage, EventMessage } from "./message.ts";
export { type CloudEvent, CloudEventSchema, EXTENSIONS } from "./envelope.ts";
export { defineEvent, type EventType, EventTypeRegistry } from "./event_type.ts";
export {
  canonicalJson,
  type EventKey,
  EventKeySchema,
  KeyRing,
  type SealingKey,
} from "./crypto.ts";
export {
  EventBrokerError,
  EventKeyMissingError,
  EventMalformedError,
  EventPayloadError,
  EventTamperedError,
  EventTimeoutError,
} from "./errors.ts";
export { assertPattern, assertSubject, compilePattern, matchSubject } from "./subject.ts";
export {
  type SseFrame,
  streamQueue,
  type StreamQueueOptions,
  streamSubjects,
  type StreamSubjectsOptions,
} from "./sse.ts";
export type {
  AwaitedEvent,
  ConsumerInfo,
  ConsumerSpec,
  EventProvider,
  LiveSubscription,
  OrderJournal,
  ProviderDelivery,
  ProviderPublishOptions,
  PublishReceipt,
  StoredEvent,
  SubjectInfo,
} from "./provider.ts";
export { MemoryProvider, type MemoryProviderOptions } from "./providers/memory.ts";
export { StoreProvider, type StoreProviderOptions } from "./providers/store.ts";
export { NatsProvider, type NatsProviderOptions } from "./providers/nats.ts";
export { RedisProvider, type RedisProviderOptions } from "./providers/redis.ts";
export type { TunerDecision } from "./providers/_calls_in_flight.ts";
export { openProvider, type OpenProviderOptions } from "./providers/open.ts";
export { type EventConfig, type EventConfigInput, EventConfigSchema } from "./config.ts";
export { type EventBusSetup, openEventBus } from "./setup.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/event";
