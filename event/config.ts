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
  url?: string;
  source: string;
  dedupeWindowMs: number;
  retentionMs: number;
  pollMs: number;
  keys: SealingKey[];
  keyFile?: string;
}

/** The section as written in the config file: every field optional. */
export interface EventConfigInput {
  url?: string;
  source?: string;
  dedupeWindowMs?: number;
  retentionMs?: number;
  pollMs?: number;
  keys?: EventKey[];
  keyFile?: string;
}
