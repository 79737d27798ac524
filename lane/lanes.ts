/**
 * The six lanes, in strict priority order. Names, order and default concurrency follow
 * upstream a3s-lane: `system` (P0) always goes before `prompt` (P5).
 */
import { ValidationError } from "@a3s/common/errors";

/** Lane names, highest priority first. */
export const LANE_NAMES: readonly ["system", "control", "query", "session", "skill", "prompt"] = [
  "system",
  "control",
  "query",
  "session",
  "skill",
  "prompt",
] as const;

/** One of the six lanes. */
export type LaneName = typeof LANE_NAMES[number];

/** Upstream's default max concurrency per lane. */
export const DEFAULT_LANE_CONCURRENCY: Readonly<Record<LaneName, number>> = {
  system: 5,
  control: 3,
  query: 10,
  session: 5,
  skill: 3,
  prompt: 2,
};

const RANKS: ReadonlyMap<string, number> = new Map(LANE_NAMES.map((name, i) => [name, i]));

/** The lane's priority rank: 0 for `system`, 5 for `prompt`. */
export function laneRank(name: LaneName): number {
  return RANKS.get(name)!;
}

/** True when `value` names a lane. */
export function isLaneName(value: unknown): value is LaneName {
  return typeof value === "string" && RANKS.has(value);
}

/** Returns `value` as a lane name, or throws a {@linkcode ValidationError} naming `field`. */
export function parseLaneName(value: unknown, field = "lane"): LaneName {
  if (isLaneName(value)) return value;
  throw new ValidationError(
    `${field}: unknown lane '${String(value)}'; expected one of ${LANE_NAMES.join(", ")}`,
    field,
  );
}
