/**
 * Safeclaw's decisions on the event bus: `safeclaw.audit.<kind>`, one zod-typed CloudEvent per
 * audit record, published in chain order after the record is committed and never awaited by
 * the decision. The payload carries ids, kinds and verdicts only: never the message text, the
 * matched excerpts, the reasons (they quote the text) or any value that was redacted.
 */
import { z } from "zod";
import type { Logger } from "@a3s/common";
import { defineEvent, type EventBus, type EventType } from "@a3s/event";
import { type AuditLog, type AuditRecord, SEVERITIES, type Severity } from "./audit/log.ts";

/** The audit kinds safeclaw publishes, as the last subject token. */
export const SAFECLAW_BUS_KINDS = [
  "classification",
  "block",
  "redaction",
  "injection",
  "approval",
  "channel_auth_failure",
] as const;

/** One published decision. */
export interface SafeclawDecisionEvent {
  /** The audit record's position in the chain: read the full record with `GET /safeclaw/v1/audit`. */
  seq: number;
  /** What was decided. */
  kind: string;
  /** How serious the decision is. */
  severity: Severity;
  /** The session key (`user:channel:chat`), or null for server-wide events. */
  session: string | null;
  /** The policy's action: allow, redact, local_only, block. */
  action?: string;
  /** The message's privacy level. */
  level?: string;
  /** A tool call's decision: allow, approve, block. */
  decision?: string;
  /** An injection verdict's score. */
  score?: number;
  /** An injection verdict's categories. */
  categories?: string[];
  /** The PII and secret types found (names of types, never values). */
  types?: string[];
  /** The taint ids involved. */
  taints?: string[];
  /** A tool call's tool. */
  tool?: string;
  /** A channel auth failure's channel. */
  channel?: string;
  /** Where the text came from: user, document, web, email, tool_result. */
  source?: string;
}

/** The schema every safeclaw decision event's `data` is validated against. */
export const SafeclawDecisionEventSchema: z.ZodType<SafeclawDecisionEvent> = z.object({
  seq: z.number().int().positive(),
  kind: z.string(),
  severity: z.enum(SEVERITIES),
  session: z.string().nullable(),
  action: z.string().optional(),
  level: z.string().optional(),
  decision: z.string().optional(),
  score: z.number().optional(),
  categories: z.array(z.string()).optional(),
  types: z.array(z.string()).optional(),
  taints: z.array(z.string()).optional(),
  tool: z.string().optional(),
  channel: z.string().optional(),
  source: z.string().optional(),
});

/** The event types safeclaw publishes: `a3s.safeclaw.<kind>` on `safeclaw.audit.<kind>`. */
export const SAFECLAW_EVENT_TYPES: readonly EventType<SafeclawDecisionEvent>[] = SAFECLAW_BUS_KINDS
  .map((kind) =>
    defineEvent({
      type: `a3s.safeclaw.${kind}`,
      subject: `safeclaw.audit.${kind}`,
      version: "1",
      schema: SafeclawDecisionEventSchema,
    })
  );

const STRING_FIELDS = ["action", "level", "decision", "tool", "channel", "source"] as const;
const LIST_FIELDS = ["categories", "types", "taints"] as const;

/**
 * The bus payload of an audit record: an allow-list of its fields, so a field added to the
 * audit data later is not published until it is named here.
 */
export function decisionEvent(record: AuditRecord): SafeclawDecisionEvent {
  const data = record.data;
  const event: SafeclawDecisionEvent = {
    seq: record.seq,
    kind: record.kind,
    severity: record.severity,
    session: record.session,
  };
  for (const field of STRING_FIELDS) {
    if (typeof data[field] === "string") event[field] = data[field] as string;
  }
  for (const field of LIST_FIELDS) {
    const value = data[field];
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) event[field] = value;
  }
  const score = data.score ?? data.injectionScore;
  if (typeof score === "number") event.score = score;
  if (!event.categories && Array.isArray(data.injectionCategories)) {
    event.categories = data.injectionCategories.filter((c): c is string => typeof c === "string");
  }
  return event;
}

/**
 * Publishes every committed audit record of `audit` on `bus`, in order, keyed by session.
 * Returns the function that stops publishing and waits for what was queued.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { EventBus, MemoryProvider } from "@a3s/event";
 * import { AuditLog } from "./audit/log.ts";
 * import { publishSafeclawEvents } from "./bus_events.ts";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const audit = await AuditLog.open(store, { hmacKey: "a key of at least 16 bytes" });
 * const bus = new EventBus({ provider: new MemoryProvider(), source: "safeclaw" });
 * const stop = publishSafeclawEvents(audit, bus);
 * await audit.append({ kind: "block", severity: "critical", session: "u:c:t" });
 * await stop();
 * await bus.close();
 * await store.close();
 * ```
 */
export function publishSafeclawEvents(
  audit: AuditLog,
  bus: EventBus,
  logger?: Logger,
): () => Promise<void> {
  bus.define(...SAFECLAW_EVENT_TYPES);
  const known = new Set<string>(SAFECLAW_BUS_KINDS);
  let tail: Promise<void> = Promise.resolve();
  const send = async (record: AuditRecord) => {
    try {
      await bus.publish(`safeclaw.audit.${record.kind}`, decisionEvent(record), {
        key: record.session ?? "server",
      });
    } catch (error) {
      logger?.warn("safeclaw event not published", {
        seq: record.seq,
        kind: record.kind,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  const stop = audit.observe((record) => {
    // Only the kinds with a declared event type go out; any other kind stays in the audit log.
    if (known.has(record.kind)) tail = tail.then(() => send(record));
  });
  return async () => {
    stop();
    await tail;
  };
}
