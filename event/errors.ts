/** The errors a caller of the event bus can see, each with a stable code. */
import { A3sError, ValidationError } from "@a3s/common";

/** A payload failed its event type's schema; `field` is `data.<path>`. */
export class EventPayloadError extends ValidationError {
  /** `field` is the payload path, such as `data.image`. */
  constructor(message: string, field: string) {
    super(message, field);
    this.name = "EventPayloadError";
  }
}

/** The event was sealed with a key this process does not hold. */
export class EventKeyMissingError extends A3sError {
  /** The key id the event names. */
  readonly keyId: string;
  /** Reports that `keyId` (named by an event on `subject`) is not in the ring. */
  constructor(keyId: string, subject: string) {
    super(
      "event_key_missing",
      `event on '${subject}' was sealed with key '${keyId}', which this process does not hold`,
      { status: 422, field: "a3skid" },
    );
    this.name = "EventKeyMissingError";
    this.keyId = keyId;
  }
}

/** The event failed its integrity check: tampered, truncated, or stripped of its seal. */
export class EventTamperedError extends A3sError {
  /** Reports why the event on `subject` was rejected. */
  constructor(subject: string, why: string) {
    super("event_tampered", `event on '${subject}' was rejected: ${why}`, { status: 422 });
    this.name = "EventTamperedError";
  }
}

/** A stored message is not an event: not JSON, or without an attribute consumers read. */
export class EventMalformedError extends A3sError {
  /** Reports why the message stored on `subject` is not an event. */
  constructor(subject: string, why: string) {
    super("event_malformed", `message on '${subject}' is not an event: ${why}`, { status: 422 });
    this.name = "EventMalformedError";
  }
}

/** The broker cannot be reached or refused an operation. */
export class EventBrokerError extends A3sError {
  /** Wraps the broker's error `cause`. */
  constructor(message: string, cause?: unknown) {
    super("event_broker_unavailable", message, { status: 503, cause });
    this.name = "EventBrokerError";
  }
}

/** A request got no reply in time. */
export class EventTimeoutError extends A3sError {
  /** Reports a request on `subject` that got no reply in `timeoutMs`. */
  constructor(subject: string, timeoutMs: number) {
    super("event_timeout", `no reply on '${subject}' within ${timeoutMs} ms`, { status: 504 });
    this.name = "EventTimeoutError";
  }
}

/** An event the bus refuses to deliver: sealed with a key it lacks, tampered with, malformed. */
export function isRejection(
  error: unknown,
): error is EventKeyMissingError | EventTamperedError | EventMalformedError {
  return error instanceof EventKeyMissingError || error instanceof EventTamperedError ||
    error instanceof EventMalformedError;
}
