/** The `event` config section; every field defaulted, so `{}` is valid. */
import { z } from "zod";
import { type EventKey, EventKeySchema, type SealingKey } from "./crypto.ts";

/** Where events live and how they are protected. */
export const EventConfigSchema: z.ZodType<EventConfig, EventConfigInput> = z.object({
  /**
   * `nats://…`, `redis://…`, `memory`, or unset for the shared store (SQLite, or PostgreSQL
   * when `databaseUrl` is set). `A3S_EVENT_URL` sets it from the environment.
   */
  url: z.string().regex(
    /^(nats|redis|rediss):\/\/\S+$|^(memory|store)$/,
    "nats://…, redis://…, memory or store",
  ).optional(),
  /** CloudEvents `source` of events this server publishes. */
  source: z.string().min(1).default("a3s"),
  /** Publishing an id seen within this window is a no-op. */
  dedupeWindowMs: z.number().int().positive().default(120_000),
  /** Store provider: events older than this are deleted. */
  retentionMs: z.number().int().positive().default(7 * 24 * 3600_000),
  /** Store provider on SQLite: how often other processes' events are looked for. */
  pollMs: z.number().int().positive().default(250),
  /** Keys for per-subject encryption or signatures; the last matching key seals. */
  keys: z.array(EventKeySchema).default([]),
  /** A JSON file `{ "keys": [...] }`, read at start, added after `keys`. */
  keyFile: z.string().min(1).optional(),
});

/** The validated section (see the schema for what each field means). */
export interface EventConfig {
  /** Provider: `nats://…`, `redis://…`, `memory`, or unset for the store. */
  url?: string;
  /** CloudEvents `source` of events this server publishes. */
  source: string;
  /** Publishing an id seen within this window is a no-op. */
  dedupeWindowMs: number;
  /** Store provider: events older than this are deleted. */
  retentionMs: number;
  /** Store provider on SQLite: how often other processes' events are looked for. */
  pollMs: number;
  /** Keys for per-subject encryption or signatures. */
  keys: SealingKey[];
  /** A JSON file `{ "keys": [...] }` read at start. */
  keyFile?: string;
}

/** The section as written in the config file: every field optional. */
export interface EventConfigInput {
  /** Provider: `nats://…`, `redis://…`, `memory`, or unset for the store. */
  url?: string;
  /** CloudEvents `source` (default `a3s`). */
  source?: string;
  /** De-duplication window in ms (default 2 min). */
  dedupeWindowMs?: number;
  /** Store provider retention in ms (default 7 days). */
  retentionMs?: number;
  /** Store provider poll interval in ms (default 250). */
  pollMs?: number;
  /** Keys for per-subject encryption or signatures. */
  keys?: EventKey[];
  /** A JSON key file `{ "keys": [...] }`. */
  keyFile?: string;
}
