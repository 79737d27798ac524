/** Picks a provider from a URL: nats://, redis://, memory, or the shared store. */
import { type Logger, type Store, ValidationError } from "@a3s/common";
import type { EventProvider } from "../provider.ts";
import { MemoryProvider } from "./memory.ts";

/** What {@linkcode openProvider} needs. */
export interface OpenProviderOptions {
  /** `nats://…`, `redis://…`, `memory`, `store`, or unset for the store. */
  url?: string;
  /** The shared store, for the store provider. */
  store?: Store;
  /** The PostgreSQL URL behind the store, for LISTEN/NOTIFY. */
  databaseUrl?: string;
  /** De-duplication window in ms. */
  dedupeWindowMs?: number;
  /** Store provider retention in ms. */
  retentionMs?: number;
  /** Store provider poll interval in ms. */
  pollMs?: number;
  /** Where broker trouble is logged. */
  logger?: Logger;
}

/**
 * Opens the provider `url` names. A broker that cannot be reached throws an
 * `EventBrokerError` whose message is one line.
 *
 * @example
 * ```ts
 * import { openProvider } from "@a3s/event";
 * const provider = await openProvider({ url: "memory" });
 * await provider.close();
 * ```
 */
export async function openProvider(options: OpenProviderOptions): Promise<EventProvider> {
  const url = options.url ?? "store";
  const common = { dedupeWindowMs: options.dedupeWindowMs, logger: options.logger };
  if (url === "memory") return new MemoryProvider(common);
  if (url.startsWith("nats://")) {
    const { NatsProvider } = await import("./nats.ts");
    return await NatsProvider.connect({ url, ...common });
  }
  if (url.startsWith("redis://") || url.startsWith("rediss://")) {
    const { RedisProvider } = await import("./redis.ts");
    return await RedisProvider.connect({ url, ...common });
  }
  if (url === "store") {
    if (!options.store) {
      throw new ValidationError("event.url: the store provider needs a store", "url");
    }
    const { StoreProvider } = await import("./store.ts");
    return await StoreProvider.open({
      store: options.store,
      listenUrl: options.databaseUrl,
      pollMs: options.pollMs,
      retentionMs: options.retentionMs,
      ...common,
    });
  }
  throw new ValidationError(`event.url: '${url}' is not nats://, redis://, memory or store`, "url");
}
