/** box's Prometheus metrics: boxes by state and driver, boot time, exec latency. */
import { gauge, histogram } from "@a3s/common";

/** Sources of box counts; each open manager adds one. */
export const boxCountSources = new Set<
  () => Promise<{ state: string; driver: string; n: number }[]>
>();

/** Boxes by state and driver, counted from the shared store at scrape time. */
export const boxesGauge = gauge({
  name: "a3s_box_boxes",
  help: "Boxes by state and driver.",
  labelNames: ["state", "driver"],
  async collect() {
    this.reset();
    for (const source of boxCountSources) {
      for (const row of await source()) this.set({ state: row.state, driver: row.driver }, row.n);
    }
  },
});

/** Time from start to the box accepting exec. */
export const bootSeconds = histogram({
  name: "a3s_box_boot_seconds",
  help: "Time from starting a box until it accepts exec, by driver.",
  labelNames: ["driver"],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

/** Exec duration from request to exit. */
export const execSeconds = histogram({
  name: "a3s_box_exec_seconds",
  help: "Exec duration from request to exit, by driver.",
  labelNames: ["driver"],
});
