/** Prometheus metrics of the event bus, per subject and per consumer, in the shared registry. */
import { counter, gauge, metricsRegistry } from "@a3s/common";
import type { Counter, Histogram } from "prom-client";
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
/** What a histogram hands the registry on a scrape. */
interface Snapshot {
  name: string;
  help: string;
  type: "histogram";
  aggregator: "sum";
  values: { labels: Record<string, string | number>; value: number; metricName: string }[];
}

/** One consumer's observations: per-bucket counts in a plain array. */
class HistogramCell {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram whose observations are plain additions, turned into Prometheus buckets only when
 * scraped. prom-client validates and hashes the labels on every `observe()`, which cost as
 * much as the rest of handling an event. The registry reads it like one of its own: it asks
 * `get()` for name, help, type and values.
 */
class DeferredHistogram {
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, HistogramCell>();

  constructor(readonly name: string, readonly help: string, bounds: number[]) {
    this.#bounds = bounds;
  }

  /** The cell of one consumer; its `observe()` adds to plain numbers. */
  cell(consumer: string): { observe(value: number): void } {
    let cell = this.#cells.get(consumer);
    if (!cell) {
      cell = new HistogramCell(this.#bounds);
      this.#cells.set(consumer, cell);
    }
    return cell;
  }

  /** The Prometheus form: cumulative `_bucket` series with `le`, then `_sum` and `_count`. */
  get(): Promise<Snapshot> {
    const values: Snapshot["values"] = [];
    for (const [consumer, cell] of this.#cells) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += cell.counts[i];
        const le = i < this.#bounds.length ? this.#bounds[i] : "+Inf";
        values.push({
          labels: { consumer, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push(
        { labels: { consumer }, value: cell.sum, metricName: `${this.name}_sum` },
        { labels: { consumer }, value: cell.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** Forgets every observation (the registry's `resetMetrics`). */
  reset(): void {
    this.#cells.clear();
  }
}

const HANDLE_SECONDS = "a3s_event_handle_duration_seconds";
/** Time from publish to handler completion, by consumer. */
export const handleSeconds: DeferredHistogram =
  (metricsRegistry.getSingleMetric(HANDLE_SECONDS) as DeferredHistogram | undefined) ??
    new DeferredHistogram(
      HANDLE_SECONDS,
      "Time from publish to handler completion, by consumer.",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
// The registry's type lists prom-client's own classes; it only calls name, help, get and reset.
if (!metricsRegistry.getSingleMetric(HANDLE_SECONDS)) {
  metricsRegistry.registerMetric(handleSeconds as unknown as Histogram);
}

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

/** Sources of held deliveries (one per bus: its running consumers), asked on each scrape. */
const heldSources = new Set<() => { name: string; held: number }[]>();

gauge({
  name: "a3s_event_consumer_held",
  help: "Deliveries a running durable consumer holds in memory behind a nacked event of their key.",
  labelNames: ["consumer"],
  collect() {
    this.reset();
    for (const source of heldSources) {
      for (const { name, held } of source()) this.inc({ consumer: name }, held);
    }
  },
});

/** Registers a bus's running consumers for the held gauge; returns the unregister function. */
export function reportHeld(source: () => { name: string; held: number }[]): () => void {
  heldSources.add(source);
  return () => heldSources.delete(source);
}

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
