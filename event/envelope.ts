/**
 * The event envelope: a CloudEvents 1.0 JSON object. Our own attributes are CloudEvents
 * extensions (lower-case alphanumerics), so any CloudEvents consumer can read the JSON form.
 */
import { z } from "zod";
import { ValidationError } from "@a3s/common";

/** CloudEvents attribute names this module sets besides the required ones. */
export const EXTENSIONS = {
  /** The ordering key (the CloudEvents "partitioning" extension's name). */
  key: "partitionkey",
  /** The version of the payload schema. */
  schemaVersion: "schemaversion",
  /** Subject to publish a reply to (request/reply). */
  replyTo: "a3sreplyto",
  /** Id of the key that encrypted or signed the payload. */
  keyId: "a3skid",
  /** "A256GCM" when `data_base64` holds ciphertext. */
  encryption: "a3senc",
  /** HMAC-SHA256 over the canonical event, when not encrypted. */
  signature: "a3ssig",
  /**
   * Why a stored message is not an event (not JSON, a required attribute missing): set only on
   * the stand-in {@linkcode readStoredEvent} makes, which consumers dead-letter.
   */
  malformed: "a3smalformed",
} as const;

const RESERVED = new Set([
  "specversion",
  "id",
  "source",
  "type",
  "subject",
  "time",
  "datacontenttype",
  "dataschema",
  "data",
  "data_base64",
  ...Object.values(EXTENSIONS),
]);

/** Header names are CloudEvents extension names: 1 to 20 lower-case letters or digits. */
export const HEADER_NAME = /^[a-z0-9]{1,20}$/;

/** The zod schema of the JSON form; also the OpenAPI schema of an event. */
export const CloudEventSchema: z.ZodType<CloudEvent> = z.looseObject({
  specversion: z.literal("1.0"),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  subject: z.string().min(1),
  time: z.string().min(1),
  datacontenttype: z.string().optional(),
  dataschema: z.string().optional(),
  data: z.unknown().optional(),
  data_base64: z.string().optional(),
  partitionkey: z.string().optional(),
  schemaversion: z.string().optional(),
  a3sreplyto: z.string().optional(),
  a3skid: z.string().optional(),
  a3senc: z.string().optional(),
  a3ssig: z.string().optional(),
  a3smalformed: z.string().optional(),
});

/** One event as it travels: a CloudEvents 1.0 JSON object. */
export interface CloudEvent {
  /** CloudEvents version: always `1.0`. */
  specversion: "1.0";
  /** Unique event id; the de-duplication key. */
  id: string;
  /** Who published it. */
  source: string;
  /** Kind of event, such as `a3s.box.started`. */
  type: string;
  /** The subject it was published on. */
  subject: string;
  /** When it was published, RFC 3339. */
  time: string;
  /** Media type of `data`: `application/json`, or `application/octet-stream` when encrypted. */
  datacontenttype?: string;
  /** URI of the payload schema, when known. */
  dataschema?: string;
  /** The payload (absent when encrypted). */
  data?: unknown;
  /** IV and ciphertext, base64, when encrypted. */
  data_base64?: string;
  /** Ordering key. */
  partitionkey?: string;
  /** Version of the payload schema. */
  schemaversion?: string;
  /** Subject to publish a reply to. */
  a3sreplyto?: string;
  /** Id of the key that sealed the event. */
  a3skid?: string;
  /** `A256GCM` when the payload is encrypted. */
  a3senc?: string;
  /** HMAC-SHA256 of the canonical event, base64, when signed. */
  a3ssig?: string;
  /** Why the stored message this stands in for is not an event (see `readStoredEvent`). */
  a3smalformed?: string;
  /** Caller headers, as further extension attributes. */
  [extension: string]: unknown;
}

/** What a caller may set on a published event. */
export interface EnvelopeFields {
  subject: string;
  data: unknown;
  type: string;
  source: string;
  schemaVersion: string;
  id?: string;
  time?: Date;
  key?: string;
  replyTo?: string;
  headers?: Record<string, string>;
}

/** Throws a validation error naming the header unless every name is a valid extension. */
export function assertHeaders(headers: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!HEADER_NAME.test(name)) {
      throw new ValidationError(
        `headers.${name}: header names are 1 to 20 lower-case letters or digits`,
        `headers.${name}`,
      );
    }
    if (RESERVED.has(name)) {
      throw new ValidationError(
        `headers.${name}: '${name}' is a reserved attribute`,
        `headers.${name}`,
      );
    }
    if (typeof value !== "string") {
      throw new ValidationError(`headers.${name}: header values are strings`, `headers.${name}`);
    }
  }
}

/** Builds the CloudEvent for `fields`; ids are UUIDv4 unless the caller gives one. */
export function buildEnvelope(fields: EnvelopeFields): CloudEvent {
  if (fields.headers) assertHeaders(fields.headers);
  const event: CloudEvent = {
    specversion: "1.0",
    id: fields.id ?? crypto.randomUUID(),
    source: fields.source,
    type: fields.type,
    subject: fields.subject,
    time: (fields.time ?? new Date()).toISOString(),
    datacontenttype: "application/json",
    schemaversion: fields.schemaVersion,
    data: fields.data,
  };
  if (fields.key !== undefined) event.partitionkey = fields.key;
  if (fields.replyTo !== undefined) event.a3sreplyto = fields.replyTo;
  if (fields.headers) {
    for (const [name, value] of Object.entries(fields.headers)) event[name] = value;
  }
  return event;
}

/** The caller headers of `event`: every extension that is not one of ours. */
export function headersOf(event: CloudEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (!RESERVED.has(name) && typeof value === "string") headers[name] = value;
  }
  return headers;
}

/** Parses a CloudEvent from its JSON text, or throws naming the bad field. */
export function parseEnvelope(text: string): CloudEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`event: not JSON (${(error as Error).message})`, "event");
  }
  const result = CloudEventSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join(".") || "event";
    throw new ValidationError(`${field}: ${issue.message}`, field);
  }
  return result.data as CloudEvent;
}

/** How much of a malformed message's text its stand-in keeps for the dead-letter subject. */
export const MALFORMED_TEXT_KEPT = 4096;

/** The attributes every delivered event must carry as non-empty strings. */
const REQUIRED_STRINGS = ["id", "source", "type", "subject", "time"] as const;
/** Our extensions, which are strings when present. */
const EXTENSION_NAMES = Object.values(EXTENSIONS);

/** Why `value` cannot be delivered as an event, or `undefined` when it can. */
function malformation(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not a JSON object";
  }
  const event = value as Record<string, unknown>;
  if (event.specversion !== "1.0") return "specversion: not 1.0";
  for (const name of REQUIRED_STRINGS) {
    const attribute = event[name];
    if (typeof attribute !== "string" || attribute === "") return `${name}: not a non-empty string`;
  }
  for (const name of EXTENSION_NAMES) {
    if (event[name] !== undefined && typeof event[name] !== "string") {
      return `${name}: not a string`;
    }
  }
  return undefined;
}

/**
 * The event stored as `text` at `seq`, on the broker subject `subject` (the part from
 * `subjectOffset` on is ours: NATS subjects carry a prefix). A broker's stream can hold messages this
 * module did not write (another client on a shared NATS or Redis, a damaged row): one that is
 * not JSON or lacks an attribute the consumers read becomes a stand-in event on the same
 * subject, marked `a3smalformed` and holding the start of the text, which a durable consumer
 * dead-letters and a subscription skips, both audited; the messages after it still flow. The
 * check is a few type tests on what was parsed anyway, not a schema parse per event.
 *
 * @example
 * ```ts
 * import { readStoredEvent } from "./envelope.ts";
 * console.log(readStoredEvent("{oops", "7", "orders.created").a3smalformed); // "not JSON"
 * ```
 */
export function readStoredEvent(
  text: string,
  seq: string,
  subject: string,
  subjectOffset = 0,
): CloudEvent {
  let value: unknown;
  let why: string | undefined;
  try {
    value = JSON.parse(text);
    why = malformation(value);
  } catch {
    why = "not JSON";
  }
  if (why === undefined) return value as CloudEvent;
  return {
    specversion: "1.0",
    id: `malformed-${seq}`,
    source: "a3s.event",
    type: "a3s.event.malformed",
    subject: subject.slice(subjectOffset),
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data: { text: text.slice(0, MALFORMED_TEXT_KEPT) },
    a3smalformed: why,
  };
}
