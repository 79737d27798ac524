/** Picks the scheduler: durable when a store is given, in memory otherwise. */
import type { Store } from "@a3s/common";
import { DurableLane, type DurableLaneOptions } from "./durable_lane.ts";
import { MemoryLane, type MemoryLaneOptions } from "./memory_lane.ts";

/**
 * Creates an in-memory scheduler (no store) or opens a durable one on `options.store`.
 *
 * @example
 * ```ts
 * import { createLane } from "@a3s/lane";
 * const lane = createLane({ maxConcurrency: 8 });
 * const job = await lane.submit("s1", "control", () => "stopped");
 * console.log(await job.result);
 * await lane.close();
 * ```
 */
export function createLane(options: DurableLaneOptions): Promise<DurableLane>;
/** Creates an in-memory scheduler. */
export function createLane(options?: MemoryLaneOptions): MemoryLane;
export function createLane(
  options: MemoryLaneOptions | DurableLaneOptions = {},
): MemoryLane | Promise<DurableLane> {
  if ("store" in options && (options as { store?: Store }).store) {
    return DurableLane.open(options as DurableLaneOptions);
  }
  return new MemoryLane(options);
}
