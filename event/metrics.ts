/** Prometheus metrics of the event bus, per subject and per consumer, in the shared registry. */
import { counter, gauge, histogram } from "@a3s/common";
import type { Counter } from "prom-client";
import type { ConsumerInfo } from "./provider.ts";

export const published = counter({
  name: "a3s_event_published_total",
  help: "Events accepted by the broker, by subject (duplicates excluded).",
  labelNames: ["subject"],
  collect() {
    publishedCounts.fold(this);
  },
});
export const duplicates = counter({
  name: "a3s_event_duplicates_total",
  help: "Publishes recognised as duplicates of an event id within the de-duplication window.",
  labelNames: ["subject"],
});
export const delivered = counter({
  name: "a3s_event_delivered_total",
  help: "Deliveries to durable consumers and live subscribers, by consumer and subject.",
  labelNames: ["consumer", "subject"],
  collect() {
    deliveredCounts.fold(this);
  },
});
export const redelivered = counter({
  name: "a3s_event_redelivered_total",
  help: "Redeliveries (after a nack or an expired ack wait), by consumer and subject.",
  labelNames: ["consumer", "subject"],
});
export const deadLettered = counter({
  name: "a3s_event_dead_lettered_total",
  help: "Events moved to a dead-letter subject, by consumer and reason.",
  labelNames: ["consumer", "reason"],
});
export const rejected = counter({
  name: "a3s_event_rejected_total",
  help: "Events rejected on receipt: missing key or failed integrity check.",
  labelNames: ["subject", "reason"],
});
export const handleSeconds = histogram({
  name: "a3s_event_handle_duration_seconds",
  help: "Time from publish to handler completion, by consumer.",
  labelNames: ["consumer"],
});

/** Sources of consumer lag, asked on each scrape. */
const lagSources = new Set<() => Promise<ConsumerInfo[]>>();

gauge({
  name: "a3s_event_consumer_lag",
  help: "Events not yet delivered to a durable consumer.",
  labelNames: ["consumer"],
  async collect() {
    this.reset();
    for (const source of lagSources) {
      try {
        for (const info of await source()) this.set({ consumer: info.name }, info.pending);
      } catch {
        // A broker that is down has no lag to report; the bus logs the outage itself.
      }
    }
  },
});
gauge({
  name: "a3s_event_consumer_unacked",
  help: "Deliveries to a durable consumer not yet acknowledged.",
  labelNames: ["consumer"],
  async collect() {
    this.reset();
    for (const source of lagSources) {
      try {
        for (const info of await source()) this.set({ consumer: info.name }, info.unacked);
      } catch {
        // As above.
      }
    }
  },
});

/** Registers a bus's consumer stats for the lag gauges; returns the unregister function. */
export function reportLag(source: () => Promise<ConsumerInfo[]>): () => void {
  lagSources.add(source);
  return () => lagSources.delete(source);
}

/**
 * Counts per label set in plain numbers and folds them into `metric` on each scrape. prom-client
 * hashes the label object on every `inc()`, which cost more than handling the event itself.
 */
class DeferredCounts {
  readonly #cells = new Map<string, { values: string[]; n: number; inc(): void }>();
  constructor(private readonly labelNames: readonly string[]) {}

  /** The cell of one label set; its `inc()` is a plain addition. */
  child(...values: string[]): { inc(): void } {
    const key = values.join("\u0000");
    let cell = this.#cells.get(key);
    if (!cell) {
      cell = {
        values,
        n: 0,
        inc() {
          this.n++;
        },
      };
      this.#cells.set(key, cell);
    }
    return cell;
  }

  /** Adds what was counted since the last scrape to `metric`. */
  fold(metric: Counter<string>): void {
    for (const [key, cell] of this.#cells) {
      if (cell.n > 0) {
        metric.inc(Object.fromEntries(this.labelNames.map((l, i) => [l, cell.values[i]])), cell.n);
        cell.n = 0;
      } else if (this.#cells.size > 10_000) {
        // Label sets that went quiet are dropped, so one-off subjects cannot grow the map forever.
        this.#cells.delete(key);
      }
    }
  }
}

const publishedCounts = new DeferredCounts(["subject"]);
const deliveredCounts = new DeferredCounts(["consumer", "subject"]);
/** `published{subject}`. */
export const publishedFor: (subject: string) => { inc(): void } = (subject) =>
  publishedCounts.child(subject);
/** `delivered{consumer, subject}`. */
export const deliveredFor: (consumer: string, subject: string) => { inc(): void } = (
  consumer,
  subject,
) => deliveredCounts.child(consumer, subject);
