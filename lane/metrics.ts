/**
 * Prometheus metrics per lane: depth, running, wait and run latency, outcomes. The hot path
 * touches only plain numbers; prom-client reads them when the registry is scraped.
 */
import { counter, gauge, metricsRegistry } from "@a3s/common";
import { LANE_NAMES, type LaneName } from "./lanes.ts";

/** Outcomes counted per lane. */
export type Outcome = "completed" | "failed" | "retried" | "dead_lettered" | "cancelled";

/** Something whose queue depth and running count the gauges report. */
export interface DepthSource {
  depthByLane(): Promise<Record<LaneName, { queued: number; running: number }>>;
}

const LATENCY_BUCKETS = [
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  60,
];

const sources = new Set<DepthSource>();
const outcomes = LANE_NAMES.map(() => new Map<Outcome, number>());

/**
 * A per-lane latency histogram kept as plain bucket counts and rendered by the registry like
 * any prom-client histogram: recording a sample is a short scan and two additions, not a
 * label hash.
 */
class LaneHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly counts: Float64Array[] = LANE_NAMES.map(() =>
    new Float64Array(LATENCY_BUCKETS.length + 1)
  );
  readonly sums: Float64Array = new Float64Array(LANE_NAMES.length);

  constructor(readonly name: string, readonly help: string) {}

  observe(rank: number, seconds: number): void {
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]) bucket++;
    this.counts[rank][bucket]++;
    this.sums[rank] += seconds;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: unknown[] } {
    const values: unknown[] = [];
    LANE_NAMES.forEach((lane, rank) => {
      const counts = this.counts[rank];
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, bucket) => {
        cumulative += counts[bucket];
        values.push({ labels: { le, lane }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      cumulative += counts[LATENCY_BUCKETS.length];
      values.push({
        labels: { le: "+Inf", lane },
        value: cumulative,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels: { lane }, value: this.sums[rank], metricName: `${this.name}_sum` });
      values.push({ labels: { lane }, value: cumulative, metricName: `${this.name}_count` });
    });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    for (const counts of this.counts) counts.fill(0);
    this.sums.fill(0);
  }
}

function laneHistogram(name: string, help: string): LaneHistogram {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing instanceof LaneHistogram) return existing;
  const created = new LaneHistogram(name, help);
  metricsRegistry.registerMetric(
    created as unknown as Parameters<typeof metricsRegistry.registerMetric>[0],
  );
  return created;
}

function flush(): void {
  outcomes.forEach((counts, rank) => {
    const lane = LANE_NAMES[rank];
    for (const [outcome, n] of counts) jobsTotal.inc({ lane, outcome }, n);
    counts.clear();
  });
}

const depthGauge = gauge({
  name: "a3s_lane_depth",
  help: "Jobs waiting in each lane.",
  labelNames: ["lane"],
  async collect() {
    flush();
    const totals = LANE_NAMES.map(() => ({ queued: 0, running: 0 }));
    for (const source of sources) {
      try {
        const depth = await source.depthByLane();
        LANE_NAMES.forEach((lane, rank) => {
          totals[rank].queued += depth[lane].queued;
          totals[rank].running += depth[lane].running;
        });
      } catch {
        // a closed store reports nothing
      }
    }
    LANE_NAMES.forEach((lane, rank) => {
      this.set({ lane }, totals[rank].queued);
      runningGauge.set({ lane }, totals[rank].running);
    });
  },
});
const runningGauge = gauge({
  name: "a3s_lane_running",
  help: "Jobs running in each lane.",
  labelNames: ["lane"],
});
const waitSeconds = laneHistogram(
  "a3s_lane_wait_seconds",
  "Time from a job becoming runnable to its start, by lane.",
);
const runSeconds = laneHistogram("a3s_lane_run_seconds", "Time one attempt of a job ran, by lane.");
const jobsTotal = counter({
  name: "a3s_lane_jobs_total",
  help: "Job outcomes by lane: completed, failed (an attempt), retried, dead_lettered, cancelled.",
  labelNames: ["lane", "outcome"],
});

/** Adds a source to the depth gauges; returns the function that removes it. */
export function reportDepth(source: DepthSource): () => void {
  sources.add(source);
  void depthGauge;
  return () => sources.delete(source);
}

/** Records how long a job waited, runnable, before it started; in milliseconds. */
export function recordWait(rank: number, ms: number): void {
  waitSeconds.observe(rank, ms / 1000);
}

/** Records how long one attempt ran, in milliseconds. */
export function recordRun(rank: number, ms: number): void {
  runSeconds.observe(rank, ms / 1000);
}

/** Counts one outcome. */
export function recordOutcome(rank: number, outcome: Outcome): void {
  const counts = outcomes[rank];
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}

/** Moves buffered counts into the registry now. */
export function flushMetrics(): void {
  flush();
}
