/** Builds the bus a config section describes; shared by `serve` and the CLI. */
import { type Logger, type Store, ValidationError } from "@a3s/common";
import { EventBus } from "./bus.ts";
import type { EventConfig } from "./config.ts";
import { type EventKey, KeyRing } from "./crypto.ts";
import { openProvider } from "./providers/open.ts";

/** What {@linkcode openEventBus} needs besides the section. */
export interface EventBusSetup {
  /** The shared store, for the store provider. */
  store?: Store;
  /** The PostgreSQL URL behind the store, for LISTEN/NOTIFY. */
  databaseUrl?: string;
  /** Where the bus and provider log. */
  logger?: Logger;
  /** The environment, for `A3S_EVENT_URL` (default: the process environment). */
  env?: Record<string, string | undefined>;
}

/**
 * Opens the provider and key ring the section names and returns the bus.
 *
 * @example
 * ```ts
 * import { openEventBus } from "@a3s/event";
 * import { EventConfigSchema } from "@a3s/event";
 * const bus = await openEventBus(EventConfigSchema.parse({ url: "memory" }), {});
 * await bus.close();
 * ```
 */
export async function openEventBus(config: EventConfig, setup: EventBusSetup): Promise<EventBus> {
  const env = setup.env ?? Deno.env.toObject();
  let keys: EventKey[] = [...config.keys];
  if (config.keyFile) {
    let fromFile: unknown;
    try {
      fromFile = (JSON.parse(await Deno.readTextFile(config.keyFile)) as { keys?: unknown }).keys;
    } catch (error) {
      throw new ValidationError(
        `keyFile: ${config.keyFile}: ${(error as Error).message}`,
        "keyFile",
      );
    }
    if (!Array.isArray(fromFile)) {
      throw new ValidationError(`keyFile: ${config.keyFile} has no "keys" array`, "keyFile");
    }
    keys = [...keys, ...(fromFile as EventKey[])];
  }
  const keyRing = keys.length ? await KeyRing.create(keys) : undefined;
  const provider = await openProvider({
    url: config.url ?? (env.A3S_EVENT_URL || undefined),
    store: setup.store,
    databaseUrl: setup.databaseUrl,
    dedupeWindowMs: config.dedupeWindowMs,
    retentionMs: config.retentionMs,
    pollMs: config.pollMs,
    logger: setup.logger,
  });
  return new EventBus({ provider, source: config.source, keyRing, logger: setup.logger });
}
